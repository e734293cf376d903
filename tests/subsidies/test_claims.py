"""Claims through HTTP and services: offers, items with receipts, uploads judged by content,
every legal and illegal state move, the decision notice."""

import io
import itertools
from datetime import date

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from eligibility.models import MonthlyStatistic, Program
from portal.errors import IllegalTransition, NotPermitted, ServiceError
from portal.workflow import moves, perform
from subsidies import selectors, services
from subsidies.models import Claim, ClaimState, Document, FreeReaderGrant
from tests.factories import AdminFactory, FacilityFactory, make_staff
from tests.samples import JPEG, PDF, PNG

pytestmark = pytest.mark.django_db


def program(code):
    return Program.objects.get(code=code)


@pytest.fixture
def sejutsu(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    return facility


ITEM = {"description": "タブレット端末", "quantity": "1", "unit_price": "42000", "tax": "4200",
        "vendor": "家電店", "purchase_date": "2024-11-01"}


def _start(client, facility, code="device-sejutsu"):
    client.post(reverse("subsidies:start", args=[facility.pk, code]))
    return Claim.objects.get(facility=facility)


def _add_item(client, facility, claim, content=PDF, name="receipt.pdf", **changes):
    return client.post(reverse("subsidies:claim", args=[facility.pk, claim.pk]),
                       {**ITEM, **changes, "receipt": SimpleUploadedFile(name, content)})


def test_only_entitled_programs_are_offered_with_reasons(sejutsu):
    offers = {o.program.code: o for o in selectors.offers_for(sejutsu)}
    assert offers["device-sejutsu"].offered
    assert not offers["device-limited"].offered and "紙レセプト" in offers["device-limited"].reason
    assert not offers["reader-expansion-2024"].offered
    assert not offers["rececom"].offered


def test_a_sejutsu_claim_from_draft_to_submitted(client, sejutsu,
                                                 django_capture_on_commit_callbacks):
    claim = _start(client, sejutsu)
    assert _add_item(client, sejutsu, claim).status_code == 302
    page = client.get(reverse("subsidies:confirm", args=[sejutsu.pk, claim.pk])).content.decode()
    assert "事業費 46,200円 → 上限 41,000円" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("subsidies:confirm", args=[sejutsu.pk, claim.pk]))
        client.post(reverse("subsidies:confirm", args=[sejutsu.pk, claim.pk]))  # double submit
    claim.refresh_from_db()
    assert claim.state == ClaimState.SUBMITTED
    assert (claim.computed_amount, claim.receipt_number[:1]) == (41000, "S")
    assert any(claim.receipt_number in m.subject for m in mail.outbox)


def test_live_estimate_uses_the_rule(client, sejutsu):
    claim = _start(client, sejutsu)
    data = client.get(reverse("subsidies:estimate", args=[sejutsu.pk, claim.pk]),
                      {"extra_cost": "30000"}).json()
    assert (data["eligible"], data["amount"]) == (True, 30000)


@pytest.mark.parametrize(
    "content, name, message",
    [
        (b"MZ\x90\x00" + b"\x00" * 100, "receipt.pdf", "PDF・JPEG・PNG"),  # an executable named .pdf
        (b"<html><script>alert(1)</script></html>", "receipt.png", "PDF・JPEG・PNG"),
        (b"", "receipt.pdf", "空です"),
        (PDF + b"\x00" * (20 * 1024 * 1024), "big.pdf", "大きすぎます"),
    ],
)
def test_bad_uploads_are_refused_and_the_form_is_kept(client, sejutsu, content, name, message):
    claim = _start(client, sejutsu)
    response = _add_item(client, sejutsu, claim, content=content, name=name)
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert 'value="タブレット端末"' in body and 'value="家電店"' in body
    assert not claim.items.exists() and not Document.objects.exists()


@pytest.mark.parametrize("content, content_type", [(PDF, "application/pdf"), (PNG, "image/png"),
                                                   (JPEG, "image/jpeg")])
def test_receipts_are_judged_by_content_and_served_as_downloads(client, sejutsu, content,
                                                                 content_type, settings):
    claim = _start(client, sejutsu)
    _add_item(client, sejutsu, claim, content=content, name="scan.bin")
    document = Document.objects.get()
    assert document.content_type == content_type
    stored = settings.PRIVATE_STORAGE_ROOT / "claims" / document.stored_name
    assert stored.exists() and "scan" not in document.stored_name
    response = client.get(reverse("subsidies:document", args=[sejutsu.pk, claim.pk, document.pk]))
    assert response["Content-Type"] == content_type
    assert response["Content-Disposition"].startswith("attachment")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert b"".join(response.streaming_content) == content


def test_another_facility_cannot_see_a_claim_or_its_receipt(client, sejutsu):
    claim = _start(client, sejutsu)
    _add_item(client, sejutsu, claim)
    document = Document.objects.get()
    other = FacilityFactory(kind="judo")
    client.force_login(make_staff(other))
    for url in [reverse("subsidies:claim", args=[sejutsu.pk, claim.pk]),
                reverse("subsidies:document", args=[sejutsu.pk, claim.pk, document.pk]),
                reverse("subsidies:document", args=[other.pk, claim.pk, document.pk])]:
        assert client.get(url).status_code == 404


def test_a_subsidy_cannot_be_claimed_twice(sejutsu):
    user = make_staff(sejutsu)
    services.start_claim(user=user, facility=sejutsu, program=program("device-sejutsu"))
    with pytest.raises(ServiceError):
        services.start_claim(user=user, facility=sejutsu, program=program("device-sejutsu"))
    assert Claim.objects.count() == 1


def _submitted_claim(facility, cost=46200):
    user = make_staff(facility)
    claim = services.start_claim(user=user, facility=facility, program=program("device-sejutsu"))
    item = services.save_item(claim=claim, data=services.ItemInput(
        "端末", 1, cost, 0, "店", date(2024, 11, 1)))
    services.attach_document(claim=claim, item=item, kind="receipt",
                             upload=SimpleUploadedFile("r.pdf", PDF), user=user)
    return services.submit_claim(claim=claim, user=user), user


# Each action a person can take, and the state it leads to from each state where it is legal.
ACTIONS = {
    "submit": (lambda c, a: services.submit_claim(claim=c, user=a),
               {ClaimState.DRAFT: ClaimState.SUBMITTED,
                ClaimState.RETURNED: ClaimState.RESUBMITTED}),
    "review": (lambda c, a: services.start_review(claim=c, actor=a),
               {ClaimState.SUBMITTED: ClaimState.UNDER_REVIEW,
                ClaimState.RESUBMITTED: ClaimState.UNDER_REVIEW}),
    "return": (lambda c, a: services.return_claim(claim=c, actor=a, reason="r", item_notes={}),
               {ClaimState.UNDER_REVIEW: ClaimState.RETURNED}),
    "approve": (lambda c, a: services.approve_claim(claim=c, actor=a),
                {ClaimState.UNDER_REVIEW: ClaimState.APPROVED}),
    "reject": (lambda c, a: services.reject_claim(claim=c, actor=a, reason="r"),
               {ClaimState.UNDER_REVIEW: ClaimState.REJECTED}),
    # Payment moves are made by the payouts app (a run takes the claim, the bank's result
    # pays it), through the same workflow.
    "enter": (lambda c, a: perform(c, "enter_payout", actor=a),
              {ClaimState.APPROVED: ClaimState.PAYING}),
    "leave": (lambda c, a: perform(c, "leave_payout", actor=a),
              {ClaimState.PAYING: ClaimState.APPROVED}),
    "pay": (lambda c, a: perform(c, "mark_paid", actor=a),
            {ClaimState.PAYING: ClaimState.PAID}),
}
PATH_TO = {  # actions that bring a submitted claim into each state
    ClaimState.SUBMITTED: [],
    ClaimState.UNDER_REVIEW: ["review"],
    ClaimState.RETURNED: ["review", "return"],
    ClaimState.RESUBMITTED: ["review", "return", "submit"],
    ClaimState.APPROVED: ["review", "approve"],
    ClaimState.REJECTED: ["review", "reject"],
    ClaimState.PAYING: ["review", "approve", "enter"],
    ClaimState.PAID: ["review", "approve", "enter", "pay"],
}


def test_the_action_table_matches_the_declared_moves():
    declared = {(m.source, m.target) for m in moves(Claim).values()}
    declared |= {(source, m.target) for m in moves(Claim).values()
                 for source in _sources(Claim, m.name)}
    table = {(start, end) for _move, legal in ACTIONS.values() for start, end in legal.items()}
    assert table <= declared


def _sources(model, name):
    return getattr(model, name)._django_fsm.transitions.keys()


def _actor(action, user):
    """The facility's staff submit; each administrative step is a different administrator
    (four-eyes)."""
    return user if action == "submit" else AdminFactory()


@pytest.mark.parametrize("start, action", list(itertools.product(PATH_TO, ACTIONS)))
def test_every_state_move(start, action):
    claim, user = _submitted_claim(FacilityFactory(kind="judo"))
    for step in PATH_TO[start]:
        claim = ACTIONS[step][0](claim, _actor(step, user))
    assert claim.state == start
    move, legal = ACTIONS[action]
    if start in legal:
        assert move(claim, _actor(action, user)).state == legal[start]
    else:
        with pytest.raises((IllegalTransition, NotPermitted)):
            move(claim, _actor(action, user))
        assert Claim.objects.get(pk=claim.pk).state == start


def test_approval_may_lower_the_amount_only_with_a_reason():
    claim, _ = _submitted_claim(FacilityFactory(kind="judo"))
    admin = AdminFactory()
    claim = services.start_review(claim=claim, actor=AdminFactory())
    with pytest.raises(ServiceError, match="理由"):
        services.approve_claim(claim=claim, actor=admin, amount=30000)
    with pytest.raises(ServiceError):
        services.approve_claim(claim=claim, actor=admin, amount=41001)
    claim = services.approve_claim(claim=claim, actor=admin, amount=30000,
                                   reason="付属品は対象外")
    assert claim.approved_amount == 30000


def test_returned_claim_shows_the_item_note_and_can_be_fixed(client):
    facility = FacilityFactory(kind="judo")
    claim, user = _submitted_claim(facility)
    admin = AdminFactory()
    claim = services.start_review(claim=claim, actor=AdminFactory())
    item = claim.items.get()
    services.return_claim(claim=claim, actor=admin, reason="領収書の宛名をご確認ください",
                          item_notes={item.pk: "宛名が施設名と違います"})
    client.force_login(user)
    page = client.get(reverse("subsidies:claim", args=[facility.pk, claim.pk])).content.decode()
    assert "宛名が施設名と違います" in page and "領収書の宛名をご確認ください" in page
    client.post(reverse("subsidies:item", args=[facility.pk, claim.pk, item.pk]),
                {**ITEM, "unit_price": "30000", "tax": "3000",
                 "receipt": SimpleUploadedFile("new.pdf", PDF)})
    client.post(reverse("subsidies:confirm", args=[facility.pk, claim.pk]))
    claim.refresh_from_db()
    assert (claim.state, claim.computed_amount) == (ClaimState.RESUBMITTED, 33000)


def test_decision_notice_pdf(client):
    facility = FacilityFactory(kind="judo", name="あおば整骨院")
    claim, user = _submitted_claim(facility)
    admin = AdminFactory()
    services.approve_claim(claim=services.start_review(claim=claim, actor=AdminFactory()),
                           actor=admin)
    client.force_login(user)
    response = client.get(reverse("subsidies:notice", args=[facility.pk, claim.pk]))
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(response.content)).pages)
    assert "交付決定通知書" in text and "41,000円" in text and "あおば整骨院" in text


def test_no_notice_before_approval(client):
    facility = FacilityFactory(kind="judo")
    claim, user = _submitted_claim(facility)
    client.force_login(user)
    assert client.get(reverse("subsidies:notice", args=[facility.pk, claim.pk])).status_code == 404


def test_reader_expansion_offers_only_the_readers_allowed(client):
    hospital = FacilityFactory(kind="hospital")
    FreeReaderGrant.objects.create(facility=hospital, free_readers=2)
    MonthlyStatistic.objects.create(facility=hospital, month=date(2024, 6, 1), receipts=5000,
                                    card_users=1200, usage_count=1600,
                                    imported_at=timezone.now())
    offer = {o.program.code: o for o in selectors.offers_for(hospital)}["reader-expansion-2024"]
    assert offer.offered and offer.readers_allowed == 2
    user = make_staff(hospital)
    claim = services.start_claim(user=user, facility=hospital,
                                 program=program("reader-expansion-2024"))
    with pytest.raises(ServiceError, match="2台まで"):
        services.set_readers(claim=claim, readers=3)
    services.set_readers(claim=claim, readers=2)
    item = services.save_item(claim=claim, data=services.ItemInput(
        "顔認証付きカードリーダー", 2, 500000, 50000, "販売店", date(2024, 10, 1)))
    services.attach_document(claim=claim, item=item, kind="receipt",
                             upload=SimpleUploadedFile("r.pdf", PDF), user=user)
    claim = services.submit_claim(claim=claim, user=user)
    assert claim.computed_amount == 450000


def test_limited_device_claim_for_a_paper_claims_clinic():
    clinic = FacilityFactory(kind="clinic", paper_claims=True)
    offer = {o.program.code: o for o in selectors.offers_for(clinic)}["device-limited"]
    # Today is after the planned deadline of 2025-01-15, so it is not offered.
    assert not offer.offered and "申請期限" in offer.reason


def test_amounts_with_commas_and_full_width_digits_are_read(client, sejutsu):
    """「38,000」「３８，０００」 are amounts, not errors (docs/decisions.md D1.3)."""
    claim = _start(client, sejutsu)
    response = _add_item(client, sejutsu, claim, quantity="１", unit_price="３８，０００",
                         tax="3,800円")
    assert response.status_code == 302
    item = claim.items.get()
    assert (item.quantity, item.unit_price, item.tax) == (1, 38000, 3800)


@pytest.mark.parametrize(("typed", "message"), [
    ("-38000", "0以上の数を入力してください（マイナスは入力できません）"),
    ("三万八千", "数字で入力してください"),
])
def test_a_bad_amount_is_refused_next_to_it_and_kept(client, sejutsu, typed, message):
    claim = _start(client, sejutsu)
    response = _add_item(client, sejutsu, claim, unit_price=typed)
    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_unit_price_error"' in page and message in page
    assert f'value="{typed}"' in page
    assert not claim.items.exists()


def test_the_live_estimate_reads_commas(client, sejutsu):
    claim = _start(client, sejutsu)
    data = client.get(reverse("subsidies:estimate", args=[sejutsu.pk, claim.pk]),
                      {"extra_cost": "30,000"}).json()
    assert (data["eligible"], data["amount"]) == (True, 30000)
