import io

import pytest
from django.core.management import CommandError, call_command

from eligibility import services
from eligibility.models import Determination, MonthlyStatistic
from facilities.models import Facility

pytestmark = pytest.mark.django_db


def test_generate_dataset_makes_every_kind_with_eleven_months_each():
    out = io.StringIO()
    call_command("generate_dataset", "--facilities", "400", "--seed", "7", stdout=out)
    assert "facilities 400" in out.getvalue()
    assert Facility.objects.count() == 400
    assert set(Facility.objects.values_list("kind", flat=True)) == {
        "hospital", "clinic", "dental", "pharmacy", "judo", "ama", "acupuncture",
        "ama_acupuncture"}
    assert MonthlyStatistic.objects.count() == 400 * 11
    assert Facility.objects.filter(main_facility__isnull=False).exists()
    runs = services.run_all_open_programs()
    assert sum(run.facilities for run in runs) == 400
    assert Determination.objects.filter(eligible=True).count() > 0


def test_generate_dataset_refuses_a_silly_size():
    with pytest.raises(CommandError):
        call_command("generate_dataset", "--facilities", "0")
