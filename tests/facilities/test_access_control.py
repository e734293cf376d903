"""Every facility-scoped URL, tried by another facility's staff: 404, never the data."""

import uuid
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import get_resolver, reverse

from cardreader import counter
from eligibility.models import Program
from facilities import services
from facilities.models import DeviceAccount, Membership, UsageApplication
from obligation import services as obligation_services
from payouts import services as payout_services
from payouts.models import Recovery
from subsidies import services as subsidy_services
from tests.built_once import built_once
from tests.factories import FacilityFactory, UserFactory, accepted_facility, make_staff
from tests.payouts.helpers import (
    adjustment,
    cooperation,
    eligible,
    import_on_the_day,
    officers,
    set_consignor,
    transfer_day,
)
from tests.samples import PDF

pytestmark = pytest.mark.django_db

# "namespace:name" → the kwargs it needs besides facility_id, from the victim's objects.
FACILITY_SCOPED = {
    "facilities:home": lambda v: {},
    "facilities:applications": lambda v: {},
    "facilities:application_start": lambda v: {},
    "facilities:application_change": lambda v: {},
    "facilities:application_detail": lambda v: {"pk": v["application"].pk},
    "facilities:accounts": lambda v: {},
    "facilities:account_detail": lambda v: {"pk": v["account"].pk},
    "facilities:account_settings_pdf": lambda v: {"pk": v["account"].pk},
    "facilities:golive": lambda v: {},
    "facilities:history": lambda v: {},
    "facilities:staff": lambda v: {},
    "facilities:link_request_decide": lambda v: {"pk": v["link_request"].pk, "move": "approve"},
    "incentives:overview": lambda v: {},
    "payouts:bank": lambda v: {},
    "payouts:payments": lambda v: {},
    "payouts:notice": lambda v: {"pk": v["paid_line"].pk},
    "payouts:recovery_notice": lambda v: {"pk": v["recovery"].pk},
    "incentives:report": lambda v: {"code": "cooperation-2025"},
    "incentives:attest": lambda v: {"code": "lump-sum-2024"},
    "subsidies:claims": lambda v: {},
    "subsidies:start": lambda v: {"code": "device-sejutsu"},
    "subsidies:claim": lambda v: {"pk": v["claim"].pk},
    "subsidies:item": lambda v: {"pk": v["claim"].pk, "item_pk": v["item"].pk},
    "subsidies:delete_item": lambda v: {"pk": v["claim"].pk, "item_pk": v["item"].pk},
    "subsidies:estimate": lambda v: {"pk": v["claim"].pk},
    "subsidies:confirm": lambda v: {"pk": v["claim"].pk},
    "subsidies:document": lambda v: {"pk": v["claim"].pk, "doc_pk": v["document"].pk},
    "subsidies:notice": lambda v: {"pk": v["claim"].pk},
    "cardreader:counter": lambda v: {},
    "cardreader:check": lambda v: {"check_id": v["check"].id},
    "obligation:overview": lambda v: {},
    "obligation:exemption": lambda v: {},
    "obligation:withdraw_exemption": lambda v: {"pk": v["declaration"].pk},
    "obligation:annex": lambda v: {},
    "obligation:annex_move": lambda v: {"pk": v["pairing"].pk, "move": "withdraw"},
}


def _facility_url_names() -> set[str]:
    """Every URL of the project that takes a facility_id, whatever app it is in."""
    names = set()
    for namespace, (_prefix, sub) in get_resolver().namespace_dict.items():
        for name in sub.reverse_dict:
            if not isinstance(name, str):
                continue
            possibilities = sub.reverse_dict.getlist(name)[0][0]
            if any("facility_id" in params for _pattern, params in possibilities):
                names.add(f"{namespace}:{name}")
    return names


def test_every_facility_scoped_url_is_in_this_table():
    assert _facility_url_names() == set(FACILITY_SCOPED)


def _paid_line(facility):
    """A 協力金 paid to the facility (its 支払通知書 is available)."""
    eligible(facility, program=cooperation(), amount=50_000)
    creator, releaser = officers()
    run = payout_services.create_run(program=cooperation(), transfer_date=transfer_day(),
                                     actor=creator)
    run = payout_services.release_run(run=run, actor=releaser)
    line = run.lines.get()
    import_on_the_day(
        run=run, data=f"顧客コード1,結果コード\r\n{line.pk},0\r\n".encode(), actor=releaser)
    return line


def _recovery(facility):
    """A 返還請求 of the facility: its paid 協力金 re-determined at 0円, the adjustment approved,
    claimed back by the program's next run (no line to net it against)."""
    set_consignor()
    adjustment(facility, program=cooperation(), paid=50_000, new=0)
    payout_services.create_run(program=cooperation(), transfer_date=transfer_day(),
                               actor=officers()[0])
    return Recovery.objects.get(facility=facility)


def _victim() -> dict:
    """A facility with an object behind every facility-scoped URL."""
    facility, user, _admin = accepted_facility()
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 1))
    claim = subsidy_services.start_claim(user=user, facility=facility,
                                         program=Program.objects.get(code="device-sejutsu"))
    item = subsidy_services.save_item(claim=claim, data=subsidy_services.ItemInput(
        "端末", 1, 30000, 3000, "店", date(2024, 11, 1)))
    document = subsidy_services.attach_document(
        claim=claim, item=item, kind="receipt", user=user,
        upload=SimpleUploadedFile("r.pdf", PDF))
    return {
        "facility": facility,
        "application": UsageApplication.objects.get(facility=facility),
        "account": DeviceAccount.objects.filter(facility=facility).first(),
        "claim": claim, "item": item, "document": document,
        "paid_line": _paid_line(facility),
        "recovery": _recovery(facility),
        "declaration": obligation_services.declare_exemption(
            user=user, facility=facility, token=uuid.uuid4(),
            data=obligation_services.DeclarationInput(reason="3", contact_name="担当",
                                                      planned_date=date(2025, 6, 30))),
        "pairing": obligation_services.propose_annex(
            user=user, facility=facility, partner=FacilityFactory(kind="judo"),
            facility_is_main=True),
        "link_request": services.request_facility_link(
            user=UserFactory(), code=facility.code, account_last4=facility.account_last4),
    }


@pytest.fixture(scope="module")
def victim_storage(tmp_path_factory):
    return tmp_path_factory.mktemp("victim-private")


@pytest.fixture(scope="module")
def built_victim(django_db_setup, django_db_blocker, victim_storage):
    """_victim(), built once for the module's tests (tests/built_once.py)."""
    with built_once(django_db_blocker, _victim, private_storage=victim_storage) as built:
        yield built


@pytest.fixture
def victim(built_victim, victim_storage, settings):
    """The facility and its objects as built, and a card check of its own started for the
    test (a check waits in the cache, which every test starts without)."""
    settings.PRIVATE_STORAGE_ROOT = victim_storage
    return with_a_check(built_victim)


def with_a_check(victim: dict) -> dict:
    check = counter.start_check(facility=victim["facility"], mode="face",
                                device_account_id=victim["account"].pk)
    return {**victim, "check": check}


@pytest.mark.parametrize("name", sorted(FACILITY_SCOPED))
@pytest.mark.parametrize("method", ["get", "post"])
def test_other_facility_staff_gets_404(client, victim, name, method):
    intruder_facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(intruder_facility))
    url = reverse(
        name, kwargs={"facility_id": victim["facility"].pk, **FACILITY_SCOPED[name](victim)}
    )

    response = getattr(client, method)(url, {"date": "2025-07-01", "token": "x"})

    assert response.status_code in (404, 405)
    assert victim["facility"].name not in response.content.decode()
    account = DeviceAccount.objects.get(pk=victim["account"].pk)
    assert account.issue_count == victim["account"].issue_count
    assert victim["claim"].items.count() == 1 and victim["claim"].documents.count() == 1
    victim["declaration"].refresh_from_db()
    victim["pairing"].refresh_from_db()
    assert (victim["declaration"].state, victim["pairing"].state) == ("declared", "proposed")
    victim["link_request"].refresh_from_db()
    assert victim["link_request"].state == "pending"
    assert not Membership.objects.filter(user=victim["link_request"].user).exists()


WITH_OBJECT_ID = [
    "facilities:application_detail", "facilities:account_detail",
    "facilities:account_settings_pdf", "subsidies:claim", "subsidies:item",
    "subsidies:delete_item", "subsidies:estimate", "subsidies:confirm", "subsidies:document",
    "subsidies:notice", "payouts:notice", "payouts:recovery_notice", "cardreader:check",
    "obligation:withdraw_exemption", "obligation:annex_move", "facilities:link_request_decide",
]


@pytest.mark.parametrize("name", WITH_OBJECT_ID)
def test_own_facility_object_through_another_own_facility_is_404(client, victim, name):
    """Staff of two facilities cannot reach facility A's object under facility B's URL."""
    user = victim["application"].submitted_by
    other = FacilityFactory(kind="judo")
    Membership.objects.create(user=user, facility=other)
    client.force_login(user)
    url = reverse(name, kwargs={"facility_id": other.pk, **FACILITY_SCOPED[name](victim)})
    assert client.get(url).status_code in (404, 405)
    assert client.post(url).status_code in (404, 405)


@pytest.mark.parametrize("name", sorted(FACILITY_SCOPED))
def test_anonymous_is_sent_to_login(client, victim, name):
    url = reverse(
        name, kwargs={"facility_id": victim["facility"].pk, **FACILITY_SCOPED[name](victim)}
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


def test_a_link_request_is_seen_and_withdrawn_by_its_requester_only(client):
    """The requester's own page (not facility-scoped: the requester is no staff yet)."""
    facility = FacilityFactory(kind="judo")
    make_staff(facility)
    link_request = services.request_facility_link(user=UserFactory(), code=facility.code,
                                                  account_last4=facility.account_last4)
    url = reverse("facilities:link_request", args=[link_request.pk])
    assert reverse("account_login") in client.get(url)["Location"]
    for intruder in (UserFactory(), make_staff(facility)):
        client.force_login(intruder)
        assert client.get(url).status_code == 404
        assert client.post(url, {"withdraw": "1"}).status_code == 404
    link_request.refresh_from_db()
    assert link_request.state == "pending"
