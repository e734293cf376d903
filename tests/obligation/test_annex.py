"""併設申告 through the facility's pages: one side proposes, the other side's staff confirm;
both histories and both sides' staff hear of every step; no chains; another facility's staff
see nothing."""

import pytest
from django.core import mail
from django.urls import reverse

from facilities.models import Activity, Facility
from obligation.models import AnnexPairing, PairingState
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db


def _annex(facility):
    return reverse("obligation:annex", args=[facility.pk])


def _move(facility, pairing, move):
    return reverse("obligation:annex_move", args=[facility.pk, pairing.pk, move])


def propose(client, facility, partner, role="main"):
    """Through the confirmation page: review, then submit the posted-back fields."""
    data = {"partner_code": partner.code, "role": role}
    confirm = client.post(_annex(facility), data)
    assert confirm.status_code == 200
    return confirm, client.post(_annex(facility), {**data, "submit": "1"})


@pytest.fixture
def pair():
    a = FacilityFactory(kind="judo", name="主たる整骨院")
    b = FacilityFactory(kind="ama", name="従たる治療院", address="北区梅田9-9-9",
                        founder_name="別人 次郎", phone="06-9999-8888", prefecture="27")
    return a, make_staff(a, email="a-staff@example.jp"), b, make_staff(
        b, email="b-staff@example.jp")


def test_propose_then_the_other_side_confirms(client, pair, django_capture_on_commit_callbacks):
    a, staff_a, b, staff_b = pair
    client.force_login(staff_a)
    with django_capture_on_commit_callbacks(execute=True):
        confirm, done = propose(client, a, b)
    page = confirm.content.decode()
    assert "主たる整骨院" in page and "従たる治療院" in page and "内容の確認" in page
    # Only the partner's name: nothing else of it (its address, founder, phone).
    for secret in (b.address, b.founder_name, b.phone):
        assert secret not in page
    assert done.status_code == 302
    pairing = AnnexPairing.objects.get()
    assert (pairing.main, pairing.subordinate, pairing.state) == (a, b, PairingState.PROPOSED)
    # The proposer cannot confirm its own proposal.
    assert "併設を確認する" not in client.get(_annex(a)).content.decode()
    client.post(_move(a, pairing, "confirm"))
    pairing.refresh_from_db()
    assert pairing.state == PairingState.PROPOSED
    # B's staff confirm, through the confirmation page.
    client.force_login(staff_b)
    listing = client.get(_annex(b)).content.decode()
    assert "併設を確認する" in listing and "取り下げる" not in listing
    assert "併設を確認する" in client.get(_move(b, pairing, "confirm")).content.decode()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(_move(b, pairing, "confirm")).status_code == 302
    pairing.refresh_from_db()
    assert pairing.state == PairingState.ACTIVE
    assert Facility.objects.get(pk=b.pk).main_facility_id == a.pk
    for side in (a, b):
        assert Activity.objects.filter(facility=side, verb="annex_active").exists()
    recipients = {address for m in mail.outbox for address in m.to}
    assert {"a-staff@example.jp", "b-staff@example.jp"} <= recipients


def test_dissolve_by_either_side_clears_the_main_facility(client, pair,
                                                           django_capture_on_commit_callbacks):
    a, staff_a, b, staff_b = pair
    client.force_login(staff_b)
    propose(client, b, a, role="subordinate")
    pairing = AnnexPairing.objects.get()
    assert (pairing.main, pairing.subordinate) == (a, b)
    client.force_login(staff_a)
    client.post(_move(a, pairing, "confirm"))
    assert Facility.objects.get(pk=b.pk).main_facility_id == a.pk
    page = client.get(_move(a, pairing, "dissolve")).content.decode()
    assert "解除の理由" in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(_move(a, pairing, "dissolve"), {"reason": "移転のため"})
    pairing.refresh_from_db()
    assert pairing.state == PairingState.DISSOLVED and pairing.end_reason == "移転のため"
    assert Facility.objects.get(pk=b.pk).main_facility_id is None
    assert any("解除" in m.subject for m in mail.outbox)


def test_decline_and_withdraw(client, pair):
    a, staff_a, b, staff_b = pair
    client.force_login(staff_a)
    propose(client, a, b)
    first = AnnexPairing.objects.get()
    client.post(_move(a, first, "withdraw"))
    first.refresh_from_db()
    assert first.state == PairingState.WITHDRAWN
    propose(client, a, b)
    second = AnnexPairing.objects.exclude(pk=first.pk).get()
    client.force_login(staff_b)
    client.post(_move(b, second, "decline"))
    second.refresh_from_db()
    assert second.state == PairingState.DECLINED
    assert Facility.objects.get(pk=b.pk).main_facility_id is None


def test_another_facility_staff_get_404(client, pair):
    a, staff_a, b, _ = pair
    client.force_login(staff_a)
    propose(client, a, b)
    pairing = AnnexPairing.objects.get()
    stranger_facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(stranger_facility))
    for move in ("confirm", "decline", "withdraw", "dissolve"):
        assert client.get(_move(a, pairing, move)).status_code == 404
        assert client.post(_move(stranger_facility, pairing, move)).status_code == 404
    assert client.get(_annex(a)).status_code == 404
    pairing.refresh_from_db()
    assert pairing.state == PairingState.PROPOSED


def test_an_unknown_move_is_404(client, pair):
    a, staff_a, b, _ = pair
    client.force_login(staff_a)
    propose(client, a, b)
    pairing = AnnexPairing.objects.get()
    assert client.post(_move(a, pairing, "delete")).status_code == 404


def test_chains_are_refused(client, pair):
    a, staff_a, b, staff_b = pair
    client.force_login(staff_a)
    propose(client, a, b)
    pairing = AnnexPairing.objects.get()
    client.force_login(staff_b)
    client.post(_move(b, pairing, "confirm"))
    # B is now a subordinate: it cannot become a main.
    c = FacilityFactory(kind="judo")
    _, done = propose(client, b, c, role="main")
    assert done.status_code == 200
    assert "主たる施術所にはなれません" in done.content.decode()
    # A is a main: it cannot become a subordinate.
    client.force_login(staff_a)
    _, done = propose(client, a, c, role="subordinate")
    assert "従たる施術所にはなれません" in done.content.decode()
    assert 'value="' + c.code + '"' in done.content.decode()  # what was typed is kept
    assert AnnexPairing.objects.count() == 1


def test_unknown_code_and_a_medical_facility_code_read_the_same(client, pair):
    a, staff_a, _, _ = pair
    client.force_login(staff_a)
    clinic = FacilityFactory(kind="clinic", name="内科クリニック")
    unknown = client.post(_annex(a), {"partner_code": "契9999999", "role": "main"})
    medical = client.post(_annex(a), {"partner_code": clinic.code, "role": "main"})
    for response in (unknown, medical):
        page = response.content.decode()
        assert "この登録記号番号の施術所は見つかりません" in page
    assert "内科クリニック" not in medical.content.decode()
    own = client.post(_annex(a), {"partner_code": a.code, "role": "main"})
    assert "この施術所自身の登録記号番号です" in own.content.decode()
    assert not AnnexPairing.objects.exists()


def test_a_full_width_code_is_found(client, pair):
    a, staff_a, b, _ = pair
    client.force_login(staff_a)
    wide = b.code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    page = client.post(_annex(a), {"partner_code": wide, "role": "main"}).content.decode()
    assert "従たる治療院" in page and "内容の確認" in page


def test_a_medical_facility_gets_a_message_and_no_form(client):
    clinic = FacilityFactory(kind="clinic")
    partner = FacilityFactory(kind="judo")
    client.force_login(make_staff(clinic))
    page = client.get(_annex(clinic)).content.decode()
    assert "施術所のみが行えます" in page and "確認画面へ" not in page
    client.post(_annex(clinic), {"partner_code": partner.code, "role": "main", "submit": "1"})
    assert not AnnexPairing.objects.exists()


def test_lookups_are_rate_limited(client, pair, settings):
    settings.RATE_LIMITS = {"annex_lookup": "3/h"}
    a, staff_a, _, _ = pair
    client.force_login(staff_a)
    for _ in range(3):
        assert client.post(_annex(a), {"partner_code": "契9999999", "role": "main"}
                           ).status_code == 200
    limited = client.post(_annex(a), {"partner_code": "契9999999", "role": "main"})
    assert limited.status_code == 429 and "短時間に多くの照会" in limited.content.decode()
