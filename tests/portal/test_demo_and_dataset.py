"""The demo (load_demo) and the synthetic national dataset (generate_dataset) share one
database in either order: the load test logs in as the demo's staff amid the dataset."""

import io
import re

import pytest
from django.core.management import call_command

from eligibility.models import ActivityReport, Determination, MonthlyStatistic
from facilities.demo import DEMO_FACILITIES
from facilities.models import Facility
from subsidies.models import FreeReaderGrant

pytestmark = pytest.mark.django_db

SIZE = 300
# With seed 19 the dataset's second facility is a clinic in Tokyo (13), whose code would be
# the demo clinic's (1310000028...) had the dataset not kept the demo's codes for it.
SEED = 19
DEMO_CODES = {code for _, code, *_ in DEMO_FACILITIES}
DEMO_NAMES = {code: name for _, code, name, *_ in DEMO_FACILITIES}


def _dataset() -> None:
    out = io.StringIO()
    call_command("generate_dataset", "--facilities", str(SIZE), "--seed", str(SEED), stdout=out)
    assert f"facilities {SIZE}" in out.getvalue()


def _demo() -> list[tuple[str, str, str]]:
    """(e-mail, password, facility) of each facility staff login printed."""
    out = io.StringIO()
    call_command("load_demo", stdout=out)
    return re.findall(r"施設担当者\s+(\S+)\s+パスワード: (\S+)\s+施設: (.+)", out.getvalue())


def _assert_both_present(client, logins) -> None:
    assert Facility.objects.count() == SIZE + len(DEMO_FACILITIES)
    demo = {f.code: f for f in Facility.objects.filter(code__in=DEMO_CODES)}
    assert {code: f.name for code, f in demo.items()} == DEMO_NAMES
    synthetic = Facility.objects.filter(name__startswith="合成施設")
    assert synthetic.count() == SIZE
    assert not synthetic.filter(code__in=DEMO_CODES).exists()
    # The dataset's facts are as generated: 11 months each, nothing added by the demo.
    assert MonthlyStatistic.objects.filter(facility__in=synthetic).count() == SIZE * 11
    assert FreeReaderGrant.objects.get().facility.code == DEMO_FACILITIES[0][1]
    # The demo's results and report are there; its reports all have ordered dates.
    hospital = demo[DEMO_FACILITIES[0][1]]
    assert Determination.objects.filter(facility=hospital, program__code="lump-sum-2024",
                                        eligible=True).exists()
    assert ActivityReport.objects.filter(facility__in=demo.values()).exists()
    # Each demo staff user logs in with the printed password and sees their facility.
    assert len(logins) == 4
    for email, password, facility_name in logins:
        response = client.post("/accounts/login/", {"login": email, "password": password})
        assert response.status_code == 302, email
        page = client.get("/dashboard/")
        assert page.status_code == 200
        assert facility_name in page.content.decode()
        client.logout()


def test_demo_then_dataset(client):
    _demo()
    _dataset()
    logins = _demo()  # again: idempotent, and new passwords printed
    _assert_both_present(client, logins)


def test_dataset_then_demo(client):
    _dataset()
    second = Facility.objects.get(pk=Facility.objects.order_by("pk").first().pk + 1)
    assert (second.kind, second.prefecture) == ("clinic", "13")
    logins = _demo()
    _assert_both_present(client, logins)
    facilities = Facility.objects.count()
    logins = _demo()
    assert Facility.objects.count() == facilities
    _assert_both_present(client, logins)
