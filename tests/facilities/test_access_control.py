"""Every facility-scoped URL, tried by another facility's staff: 404, never the data."""

from datetime import date

import pytest
from django.urls import get_resolver, reverse

from facilities import services
from facilities.models import DeviceAccount, Membership, UsageApplication
from tests.factories import FacilityFactory, accepted_facility, make_staff

pytestmark = pytest.mark.django_db

# url name → the kwargs it needs besides facility_id, as a function of the victim's objects.
FACILITY_SCOPED = {
    "home": lambda v: {},
    "applications": lambda v: {},
    "application_start": lambda v: {},
    "application_change": lambda v: {},
    "application_detail": lambda v: {"pk": v["application"].pk},
    "accounts": lambda v: {},
    "account_detail": lambda v: {"pk": v["account"].pk},
    "account_settings_pdf": lambda v: {"pk": v["account"].pk},
    "golive": lambda v: {},
    "history": lambda v: {},
}


def _facility_url_names() -> set[str]:
    resolver = get_resolver()
    facilities = resolver.namespace_dict["facilities"][1]
    return {
        name for name in facilities.reverse_dict if isinstance(name, str)
        and "facility_id" in facilities.reverse_dict.getlist(name)[0][0][0][1]
    }


def test_every_facility_scoped_url_is_in_this_table():
    assert _facility_url_names() == set(FACILITY_SCOPED)


@pytest.fixture
def victim():
    facility, user, _admin = accepted_facility()
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 1))
    return {
        "facility": facility,
        "application": UsageApplication.objects.get(facility=facility),
        "account": DeviceAccount.objects.filter(facility=facility).first(),
    }


@pytest.mark.parametrize("name", sorted(FACILITY_SCOPED))
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_facility_staff_gets_404(client, victim, name, method):
    intruder_facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(intruder_facility))
    url = reverse(
        f"facilities:{name}",
        kwargs={"facility_id": victim["facility"].pk, **FACILITY_SCOPED[name](victim)},
    )

    response = getattr(client, method)(url, {"date": "2025-07-01", "token": "x"})

    assert response.status_code in (404, 405)
    assert victim["facility"].name not in response.content.decode()
    account = DeviceAccount.objects.get(pk=victim["account"].pk)
    assert account.issue_count == victim["account"].issue_count


WITH_OBJECT_ID = sorted(n for n in FACILITY_SCOPED if n.endswith(("_detail", "_pdf")))


@pytest.mark.parametrize("name", WITH_OBJECT_ID)
def test_own_facility_object_through_another_own_facility_is_404(client, victim, name):
    """Staff of two facilities cannot reach facility A's object under facility B's URL."""
    user = victim["application"].submitted_by
    other = FacilityFactory(kind="judo")
    Membership.objects.create(user=user, facility=other)
    client.force_login(user)
    url = reverse(
        f"facilities:{name}", kwargs={"facility_id": other.pk, **FACILITY_SCOPED[name](victim)}
    )
    assert client.get(url).status_code in (404, 405)
    assert client.post(url).status_code == 404


@pytest.mark.parametrize("name", sorted(FACILITY_SCOPED))
def test_anonymous_is_sent_to_login(client, victim, name):
    url = reverse(
        f"facilities:{name}",
        kwargs={"facility_id": victim["facility"].pk, **FACILITY_SCOPED[name](victim)},
    )
    response = client.get(url)
    assert response.status_code in (302, 405)
    if response.status_code == 302:
        assert reverse("account_login") in response["Location"]


def test_facility_staff_cannot_open_the_admin(client, victim):
    client.force_login(victim["application"].submitted_by)
    response = client.get("/admin/facilities/facility/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
