"""What the facility reads on its claim pages: the calculation once, money as 41,000円."""

import pytest
from django.urls import reverse

from subsidies.models import Claim
from tests.factories import FacilityFactory, make_staff
from tests.samples import PDF

pytestmark = pytest.mark.django_db

ITEM = {"description": "タブレット端末", "quantity": "1", "unit_price": "42000", "tax": "4200",
        "vendor": "家電店", "purchase_date": "令和6年11月1日"}


def test_the_confirmation_states_the_calculation_once(client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    client.post(reverse("subsidies:start", args=[facility.pk, "device-sejutsu"]))
    claim = Claim.objects.get(facility=facility)
    response = client.post(reverse("subsidies:claim", args=[facility.pk, claim.pk]),
                           {**ITEM, "receipt": SimpleUploadedFile("r.pdf", PDF)})
    assert response.status_code == 302  # the 和暦 purchase date was read
    page = client.get(reverse("subsidies:confirm", args=[facility.pk, claim.pk])).content.decode()
    main = page.split("<main")[1]
    assert main.count("事業費 46,200円 → 上限 41,000円") == 1
    assert "41,000円" in main and "41000円" not in main


def test_the_facility_reads_a_return_from_its_own_side(client):
    from facilities.models import Activity
    from portal import roles
    from subsidies import services
    from tests.factories import claim_under_review, make_admin

    claim = claim_under_review()
    services.return_claim(claim=claim, actor=make_admin(roles.REVIEWER),
                          reason="領収書の宛名をご確認ください", item_notes={})
    client.force_login(claim.facility.memberships.first().user)
    page = client.get(reverse("facilities:history", args=[claim.facility.pk])).content.decode()
    assert "修正のお願いがありました: 領収書の宛名をご確認ください" in page
    assert "修正をお願いしました" not in page
    assert "審査が始まりました" in page
    # The administrators' record keeps their own words.
    assert Activity.objects.filter(verb="claim_returned",
                                   summary__startswith="修正をお願いしました").exists()
