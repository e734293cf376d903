"""Generated input for every facility-side form: whatever is typed (dates from year 1 to
9999 in any writing, 10,000-character text, control characters, huge or negative numbers,
emoji), the answer is never a 500, and a refused form changes nothing in the database.
A NUL byte anywhere in a request is answered 400 by `portal.middleware.RejectNulBytes`.

Each test keeps its example count modest; FUZZED counts the inputs sent."""

import io
import uuid
from collections import Counter
from datetime import date, timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter

from eligibility.models import ActivityReport, Attestation
from facilities import services as facility_services
from facilities.models import (
    Activity,
    DeviceAccount,
    Facility,
    GoLive,
    LinkRequest,
    Membership,
    UsageApplication,
)
from obligation.models import (
    AnnexPairing,
    DeclaredPractitioner,
    ExemptionDeclaration,
    SessionRequest,
)
from payouts.models import BankAccount
from portal import roles
from portal.middleware import NUL_MESSAGE
from subsidies import services as subsidy_services
from subsidies.models import Claim, ClaimItem, Document
from tests.confirming import post_confirmed
from tests.factories import (
    PASSWORD,
    AdminFactory,
    FacilityFactory,
    UserFactory,
    accepted_facility,
    login_admin,
    make_admin,
    make_staff,
)
from todos import services as todo_services
from todos.models import ReminderPreference, ReminderSent

pytestmark = pytest.mark.django_db

FUZZED: Counter = Counter()
STATUSES: Counter = Counter()

FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)

# ---------------------------------------------------------------- what people (and robots) type

FULL_WIDTH = str.maketrans("0123456789-/", "０１２３４５６７８９－／")
ERAS = ("令和", "平成", "昭和", "大正", "明治", "R", "H", "S")
EMOJI = st.sampled_from(["🎌", "🏥", "💊", "👨‍👩‍👧", "🇯🇵", "🙇‍♀️", "㍻", "㋿", "𠮷", "﨑"])
CONTROL = st.text(st.characters(min_codepoint=0, max_codepoint=31) | st.just("\x7f"),
                  min_size=1, max_size=5)


def _iso(d: date) -> str:
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


any_date = st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))
near_date = st.dates(min_value=date(2018, 1, 1), max_value=date(2030, 12, 31))
old_date = st.dates(min_value=date(1800, 1, 1), max_value=date(2019, 1, 1))
written_dates = st.one_of(
    any_date.map(_iso),
    near_date.map(_iso),
    old_date.map(_iso),
    any_date.map(lambda d: f"{d.year}/{d.month}/{d.day}"),
    any_date.map(lambda d: _iso(d).translate(FULL_WIDTH)),
    st.builds(lambda era, y, m, d: f"{era}{y}年{m}月{d}日", st.sampled_from(ERAS),
              st.sampled_from(["元", "1", "7", "31", "64", "99", "０"]),
              st.integers(-1, 13), st.integers(0, 32)),
    st.builds(lambda era, y: f"{era}{y}.5.1", st.sampled_from(ERAS), st.integers(0, 100)),
    st.sampled_from(["0000-00-00", "2025-02-30", "2025-13-01", "99999-01-01", "2025-6-1",
                     "20250601", "-2025-06-01", "2025-06-01T00:00", "２０２５年６月１日"]),
)
numbers = st.one_of(
    st.integers(-(10**30), 10**30).map(str),
    st.integers(-5, 1000).map(str),
    st.integers(0, 100).map(lambda n: str(n).translate(FULL_WIDTH)),
    st.sampled_from(["1e3", "-0", "0x10", "1.5", "NaN", "Infinity", "٣", "１２３", "1_000",
                     "9" * 400, "+1", " 1 "]),
    # Written as people write amounts (portal.normalize.integer): separators, units, signs.
    st.sampled_from(["38,000", "３８，０００", "38、000円", "1,2,3", ",", ",000", "--5", "−5",
                     "ー５", "5円円", "1,000人", "9,999,999,999,999,999,999,999,999,999,999",
                     "1" * 31, "１，０００台"]),
    st.integers(0, 10**12).map(lambda n: f"{n:,}"),
)
long_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["あ", "x", "🎌", "1", "ｱ", " "]),
                      st.integers(9_000, 10_000))
texts = st.one_of(
    st.text(max_size=40),
    long_text,
    CONTROL,
    st.builds(lambda a, b: a + b, st.text(max_size=10), CONTROL),
    EMOJI,
    st.builds(lambda e, t: e + t, EMOJI, st.text(max_size=10)),
)
junk = st.one_of(written_dates, numbers, texts, st.just(""))


class Field:
    """A form field: values that pass, and the junk to try in it."""

    def __init__(self, *valid: str, strategy=junk):
        self.valid, self.junk = valid, strategy

    @property
    def any(self):
        return st.one_of(st.sampled_from(self.valid), self.junk) if self.valid else self.junk


field = Field


def form(**fields: Field) -> st.SearchStrategy[dict]:
    """A POST body: a valid one with one field spoiled or left out, a valid one, or every field
    generated (each present or missing) — so that both the forms and the services behind them
    are reached."""
    valid = {name: f for name, f in fields.items() if f.valid}
    base = st.fixed_dictionaries({name: st.sampled_from(f.valid) for name, f in valid.items()})

    def spoil(body: dict, name: str, value, drop: bool) -> dict:
        body = dict(body)
        if drop:
            body.pop(name, None)
        else:
            body[name] = value
        return body

    spoiled = st.sampled_from(sorted(fields)).flatmap(
        lambda name: st.builds(spoil, base, st.just(name), fields[name].junk, st.booleans()))
    anything = st.fixed_dictionaries({}, optional={name: f.any for name, f in fields.items()})
    return st.one_of(spoiled, spoiled, base, anything)


def has_nul(data: dict) -> bool:
    return any("\x00" in str(k) or "\x00" in str(v) for k, v in data.items())


# ---------------------------------------------------------------- what must never change

WATCHED = (ReminderPreference, ReminderSent,
           Membership, UsageApplication, DeviceAccount, GoLive, Activity, ActivityReport,
           Attestation, BankAccount, Claim, ClaimItem, Document, ExemptionDeclaration,
           DeclaredPractitioner, AnnexPairing, SessionRequest, LinkRequest)


def snapshot() -> dict:
    return {model.__name__: list(model.objects.order_by("pk").values()) for model in WATCHED}


def send(client, method: str, url: str, data: dict, *, label: str):
    """Send one generated request; it must be answered (no 500) and a refusal (200 with the
    form, or 400) must leave the database as it was."""
    FUZZED[label] += 1
    before = snapshot()
    if method == "get":
        response = client.get(url, data)
    else:
        response = client.post(url, data)
    assert response.status_code in (200, 302, 400), (response.status_code, data)
    if has_nul(data):
        assert response.status_code == 400, data
        assert response.content.decode() == NUL_MESSAGE
    if response.status_code == 302:
        # What was saved must show: the page redirected to renders it.
        assert client.get(response.url).status_code == 200, data
    else:
        assert snapshot() == before, data
    STATUSES[(label, response.status_code)] += 1
    return response


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def accepted(client):
    facility, user, _ = accepted_facility(kind="judo")
    client.force_login(user)
    return facility


@pytest.fixture
def clinic(client):
    facility, user, _ = accepted_facility(kind="clinic")
    client.force_login(user)
    return facility


def _one_page_pdf() -> bytes:
    writer, buffer = PdfWriter(), io.BytesIO()
    writer.add_blank_page(width=595, height=842)
    writer.write(buffer)
    return buffer.getvalue()


PDF = _one_page_pdf()


@pytest.fixture
def claim(client, accepted):
    client.post(reverse("subsidies:start", args=[accepted.pk, "device-sejutsu"]))
    return Claim.objects.get(facility=accepted)


# ---------------------------------------------------------------- facilities


# The limits of wrong guesses and codes are tested in tests/facilities; here they are lifted so
# that every generated input reaches the services.
NO_LINK_LIMITS = dict(RATE_LIMITS={"facility_link_user": "1000000/m",
                                   "facility_link_address": "1000000/m",
                                   "facility_link_facility": "1000000/m"},
                      FACILITY_LINK_CODE_MAX_FAILURES=10**6)


@FUZZ
@given(data=form(code=field("0110113719", "契1300001", "０１１０１１３７１９"),
                 account_last4=field("1234", "１２３４", "12 34")))
def test_link_form(staff_client, data):
    # A checked guess is recorded (LinkAttempt) and right ones make a request, by design;
    # a Membership never comes of the form.
    from django.test import override_settings

    if not Facility.objects.filter(code="0110113719").exists():
        FacilityFactory(kind="clinic", code="0110113719", prefecture="01")
    FUZZED["link"] += 1
    before = list(Membership.objects.values())
    with override_settings(**NO_LINK_LIMITS):
        response = staff_client.post(reverse("facilities:link"), data)
    assert response.status_code in (200, 302, 400), data
    if has_nul(data):
        assert response.status_code == 400
    if response.status_code == 302:  # to the request's own page
        assert staff_client.get(response.url).status_code == 200
    assert list(Membership.objects.values()) == before


@pytest.fixture
def letter_request(client):
    """A first-staff request whose letter was made, the requester logged in."""
    facility, user = FacilityFactory(kind="judo"), UserFactory()
    link_request = facility_services.request_facility_link(
        user=user, code=facility.code, account_last4=facility.account_last4)
    facility_services.issue_link_letters(link_requests=[link_request],
                                         actor=make_admin(roles.REVIEWER))
    client.force_login(user)
    return link_request


@FUZZ
@given(data=form(code=field("ABCD-2345", "abcd2345", "ＡＢＣＤ－２３４５", "ABCD 2345")))
def test_link_code_form(client, letter_request, data):
    # A wrong code is counted on the request by design; nothing else may change.
    from django.test import override_settings

    FUZZED["link_code"] += 1
    before = list(Membership.objects.values())
    with override_settings(**NO_LINK_LIMITS):
        response = client.post(reverse("facilities:link_request", args=[letter_request.pk]),
                               data)
    assert response.status_code in (200, 400), (response.status_code, data)
    if has_nul(data):
        assert response.status_code == 400
    assert list(Membership.objects.values()) == before
    letter_request.refresh_from_db()
    assert letter_request.state == "pending"


@FUZZ
@given(move=st.one_of(st.sampled_from(["approve", "refuse", "cancel", "expire", "withdraw",
                                       "confirm_code"]),
                      st.from_regex(r"[-a-zA-Z0-9_]{1,60}", fullmatch=True)),
       method=st.sampled_from(["get", "post"]))
def test_link_request_decision_page(client, accepted, move, method):
    facility_services.request_facility_link(user=UserFactory(), code=accepted.code,
                                            account_last4=accepted.account_last4)
    link_request = LinkRequest.objects.filter(facility=accepted, state="pending").latest("pk")
    url = reverse("facilities:link_request_decide", args=[accepted.pk, link_request.pk, move])
    FUZZED["link_request_decide"] += 1
    response = getattr(client, method)(url, {"reason": "x"})
    assert response.status_code in (200, 302, 404), (response.status_code, move)
    if move not in ("approve", "refuse"):
        assert response.status_code == 404
        link_request.refresh_from_db()
        assert link_request.state == "pending"
    STATUSES[("link_request_decide", response.status_code)] += 1


APPLICATION = dict(
    contact_name=field("担当 花子"), founder_name=field("開設 太郎"),
    phone=field("03-1111-2222", "０３－１１１１－２２２２"),
    email=field("tanto@example.jp", "ｔａｎｔｏ@example.jp"),
)


def _steps():
    return st.sampled_from([{}, {"submit": "1"}, {"edit": "1"}])


@FUZZ
@given(data=form(**APPLICATION, staff_count=field("2"), device_count=field("1", "99")),
       step=_steps())
def test_application_start_form(client, data, step):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    body = {"token": str(uuid.uuid4()), **data, **step}
    send(client, "post", reverse("facilities:application_start", args=[facility.pk]), body,
         label="application_start")


@FUZZ
@given(data=form(**APPLICATION, device_count=field("3"), end_action=field(
    "", "end", "change", "cancel"), planned_end_date=field("2030-03-31", strategy=written_dates),
    token=field(str(uuid.uuid4()))), step=_steps())
def test_application_change_form(client, accepted, data, step):
    send(client, "post", reverse("facilities:application_change", args=[accepted.pk]),
         {**data, **step}, label="application_change")


@FUZZ
@given(data=form(date=field("2025-06-10", strategy=written_dates)))
@example(data={"date": "1900-01-01"})
def test_golive_form(client, accepted, data):
    send(client, "post", reverse("facilities:golive", args=[accepted.pk]), data, label="golive")


# ---------------------------------------------------------------- incentives

BOOL = field("on", "", "false", "0")


@FUZZ
@given(data=form(voice=BOOL, flyer=BOOL, poster=BOOL,
                 activity_from=field("2025-06-10", strategy=written_dates),
                 activity_to=field("2025-07-31", strategy=written_dates)))
@example(data={"voice": "on", "flyer": "on", "activity_from": "1900-01-01",
               "activity_to": "1900-01-02"})
def test_report_form(client, accepted, data):
    GoLive.objects.get_or_create(facility=accepted, defaults={"date": date(2025, 6, 1)})
    send(client, "post", reverse("incentives:report", args=[accepted.pk, "cooperation-2025"]),
         data, label="report")


@FUZZ
@given(data=form(poster=BOOL, informed=BOOL))
def test_attestation_form(client, clinic, data):
    send(client, "post", reverse("incentives:attest", args=[clinic.pk, "lump-sum-2024"]), data,
         label="attestation")


CONFIRM_STEPS = st.sampled_from([{"confirm": ""}, {"back": ""}, {}])


@FUZZ
@given(token=st.text(max_size=300) | st.sampled_from(["", "x", "a:b:c"]), step=CONFIRM_STEPS,
       target=st.sampled_from(["golive", "report", "attest"]))
def test_confirmation_step_of_money_forms(client, accepted, clinic, token, step, target):
    """The confirm step of the forms that change money (portal/confirmation.py): any token
    other than the one the server signed is refused, and changes nothing."""
    from tests.factories import make_staff

    GoLive.objects.get_or_create(facility=accepted, defaults={"date": date(2025, 6, 1)})
    client.force_login(make_staff(accepted))
    if target == "golive":
        url = reverse("facilities:golive", args=[accepted.pk])
    elif target == "report":
        url = reverse("incentives:report", args=[accepted.pk, "cooperation-2025"])
    else:
        client.force_login(make_staff(clinic))
        url = reverse("incentives:attest", args=[clinic.pk, "lump-sum-2024"])
    response = send(client, "post", url, {"confirmation": token, **step},
                    label=f"{target}_confirmation")
    assert response.status_code in (200, 400)


@FUZZ
@given(data=form(method=field("bank", "japan_post"), bank=field("0001", "みずほ"),
                 branch=field("001", "東京営業部"), account_type=field("1", "2", "4"),
                 account_number=field("1234567", "１２３４５６７"),
                 kigo=field("10010", "１００１０"), bango=field("12345671"),
                 holder_name=field("ｶﾌﾞｼｷｶﾞｲｼｬ", "かぶしきがいしゃ", "ヤマダ　タロウ")),
       step=_steps())
@example(data={"bank_q": "みずほ", "pick_bank": "0001"}, step={})
@example(data={"bank_code": "0001", "branch_q": "東京", "pick_branch": "001"}, step={})
@example(data={"pick_bank": "<0001>", "pick_branch": "１２３"}, step={})
def test_bank_account_form(client, accepted, data, step):
    send(client, "post", reverse("payouts:bank", args=[accepted.pk]), {**data, **step},
         label="bank_account")


# ---------------------------------------------------------------- subsidies

ITEM_FIELDS = dict(
    description=field("タブレット端末"), quantity=field("1", "999"),
    unit_price=field("42000", "0"), tax=field("4200", "0"), vendor=field("家電店"),
    purchase_date=field("2024-11-01", strategy=written_dates),
)
VALID_RECEIPT = st.builds(lambda: SimpleUploadedFile("receipt.pdf", PDF, "application/pdf"))
UPLOADS = st.one_of(
    st.just(None),
    VALID_RECEIPT,
    VALID_RECEIPT,
    st.builds(lambda content, name: SimpleUploadedFile(name, content),
              st.binary(max_size=200),
              st.sampled_from(["r.pdf", "r.png", "🎌.jpg", "a" * 300 + ".pdf", "r", ".pdf"])),
)


def _with_files(data: dict, receipt, invoice) -> dict:
    body = dict(data)
    for name, upload in (("receipt", receipt), ("invoice", invoice)):
        if upload is not None:
            upload.seek(0)
            body[name] = upload
    return body


VALID_ITEM = {"description": "タブレット端末", "quantity": "1", "unit_price": "42000",
              "tax": "4200", "vendor": "家電店"}


@FUZZ
@given(data=form(**ITEM_FIELDS), receipt=UPLOADS, invoice=UPLOADS)
@example(data={**VALID_ITEM, "purchase_date": "1926-12-24"}, receipt=SimpleUploadedFile(
    "receipt.pdf", PDF, "application/pdf"), invoice=None)
def test_claim_item_add_form(client, accepted, claim, data, receipt, invoice):
    send(client, "post", reverse("subsidies:claim", args=[accepted.pk, claim.pk]),
         _with_files(data, receipt, invoice), label="claim_item_add")


@FUZZ
@given(data=form(**ITEM_FIELDS), receipt=UPLOADS, invoice=UPLOADS)
def test_claim_item_edit_form(client, accepted, claim, data, receipt, invoice):
    item = claim.items.first() or subsidy_services.save_item(
        claim=claim, data=subsidy_services.ItemInput("端末", 1, 42000, 4200, "店",
                                                     date(2024, 11, 1)))
    send(client, "post", reverse("subsidies:item", args=[accepted.pk, claim.pk, item.pk]),
         _with_files(data, receipt, invoice), label="claim_item_edit")


@FUZZ
@given(readers=field("1", "2", "3", strategy=numbers | texts).any)
def test_readers_form(client, accepted, claim, readers):
    send(client, "post", reverse("subsidies:claim", args=[accepted.pk, claim.pk]),
         {"readers": readers}, label="readers")


# ---------------------------------------------------------------- obligation (docs/domain.md §7)

PRACTITIONER_ROWS = {
    "practitioners-TOTAL_FORMS": field("5", "30"),
    "practitioners-INITIAL_FORMS": field("0"),
    "practitioners-0-name": field("柔整 一郎", ""),
    "practitioners-0-birth_date": field("1950-01-01", "昭和29年4月1日",
                                        strategy=written_dates),
    "practitioners-0-full_time": BOOL,
    "practitioners-0-visually_impaired": BOOL,
    "practitioners-1-name": field("", "柔整 二郎"),
    "practitioners-1-birth_date": field("", "2000-01-01", strategy=written_dates),
}


@FUZZ
@given(data=form(reason=field("1-1", "2", "3"), contact_name=field("担当 花子"),
                 phone=field("", "03-1111-2222"),
                 planned_date=field("2025-06-30", "令和7年12月2日", strategy=written_dates),
                 token=field(str(uuid.uuid4())), **PRACTITIONER_ROWS),
       step=st.sampled_from([{}, {"submit": "1"}, {"edit": "1"}, {"more_rows": "1"}]))
@example(data={"reason": "1-1", "contact_name": "担当", "token": str(uuid.uuid4()),
               "practitioners-TOTAL_FORMS": "5", "practitioners-INITIAL_FORMS": "0",
               "practitioners-0-name": "柔整 一郎", "practitioners-0-birth_date": "1950-01-01",
               "practitioners-0-full_time": "on"}, step={"submit": "1"})
def test_exemption_declaration_form(client, accepted, data, step):
    send(client, "post", reverse("obligation:exemption", args=[accepted.pk]), {**data, **step},
         label="exemption_declaration")


@FUZZ
@given(data=form(partner_code=field("契2799999", "契２７９９９９９", "契9999999",
                                   "０１１０１１３７１９"),
                 role=field("main", "subordinate")), step=_steps())
def test_annex_proposal_form(client, accepted, data, step):
    from django.test import override_settings

    if not Facility.objects.filter(code="契2799999").exists():
        FacilityFactory(kind="ama", code="契2799999", prefecture="27")  # the partner found
    with override_settings(RATE_LIMITS={"annex_lookup": "100000/m"}):
        send(client, "post", reverse("obligation:annex", args=[accepted.pk]), {**data, **step},
             label="annex_proposal")


SESSION_DAY = (date.today() + timedelta(days=30)).isoformat()


@FUZZ
@given(data=form(organisation=field("東京都柔道整復師会"), address=field("千代田区霞が関1-2-2"),
                 contact_furigana=field("やまだ はなこ"), contact_name=field("山田 花子"),
                 phone=field("03-1111-2222"), email=field("kai@example.jp", "ｋａｉ＠ｅｘａｍｐｌｅ．ｊｐ"),
                 preferred_date=field(SESSION_DAY, strategy=written_dates),
                 preferred_start=field("14:00", "１４：００"),
                 preferred_end=field("15:30"), attendees=field("40", "1000", strategy=numbers),
                 occupation=field("柔道整復師"), topics=field("", "義務化について"),
                 notes=field("", "Zoom"), token=field(str(uuid.uuid4()))),
       step=_steps())
@example(data={"organisation": "会", "address": "千代田区", "contact_furigana": "やまだ",
               "contact_name": "山田", "phone": "03-1111-2222", "email": "kai@example.jp",
               "preferred_date": SESSION_DAY, "preferred_start": "14:00",
               "preferred_end": "15:00", "attendees": "5", "occupation": "柔道整復師",
               "token": str(uuid.uuid4())}, step={"submit": "1"})
def test_session_request_form(client, data, step):
    from django.test import override_settings

    with override_settings(RATE_LIMITS={"session_request": "100000/m"}):
        send(client, "post", reverse("obligation:session_apply"), {**data, **step},
             label="session_request")


# ---------------------------------------------------------------- accounts (allauth's forms)

WIDE = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))})
addresses = st.one_of(
    st.sampled_from(["ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ", "たろう＠example.jp", "taro＠example．jp",
                     "taro@例え.jp", "taro@@example.jp", "@", "ｔａｒｏ", "taro@ex ample.jp"]),
    st.emails().map(lambda e: e.translate(WIDE)),
    junk,
)
ACCOUNT_PASSWORD = "Kagawa2025Seikotsu"  # noqa: S105 - a test password


@pytest.fixture
def fuzz_user():
    return UserFactory(email="fuzz@example.jp")


@FUZZ
@given(data=form(login=field("fuzz@example.jp", "ｆｕｚｚ＠ｅｘａｍｐｌｅ．ｊｐ", strategy=addresses),
                 password=field(PASSWORD, "x")))
def test_log_in_form(client, fuzz_user, data):
    send(client, "post", reverse("account_login"), data, label="log_in")
    client.logout()


@FUZZ
@given(data=form(email=field("new@example.jp", "ｎｅｗ＠ｅｘａｍｐｌｅ．ｊｐ", strategy=addresses),
                 password1=field(ACCOUNT_PASSWORD), password2=field(ACCOUNT_PASSWORD)))
def test_sign_up_form(client, data):
    send(client, "post", reverse("account_signup"), data, label="sign_up")
    client.logout()


@FUZZ
@given(data=form(email=field("fuzz@example.jp", strategy=addresses)))
def test_password_reset_and_add_address_forms(client, data):
    send(client, "post", reverse("account_reset_password"), data, label="password_reset")
    client.force_login(UserFactory())
    send(client, "post", reverse("account_email"), {**data, "action_add": ""},
         label="add_address")
    client.logout()


# ---------------------------------------------------------------- to-do list and reminders


@FUZZ
@given(data=form(receives_reminders=BOOL))
def test_reminder_setting_form(client, accepted, data):
    send(client, "post", reverse("todos:reminders"), data, label="reminder_setting")


@FUZZ
@given(token=st.one_of(texts, st.builds(lambda t, cut: t[:cut] + "x" + t[cut + 1:],
                                        st.just("placeholder"), st.integers(0, 80))),
       method=st.sampled_from(["get", "post"]))
def test_unsubscribe_link(client, token, method):
    """Any token in the path (no log-in): answered, and only a genuine one stops anything."""
    from urllib.parse import quote

    user = make_staff(FacilityFactory(kind="judo"))
    if token.startswith("placeholder"):  # a genuine token with one character changed
        genuine = todo_services.unsubscribe_token(user)
        cut = min(len(token) - len("placeholder"), len(genuine) - 1)
        token = genuine[:cut] + ("y" if genuine[cut] != "y" else "z") + genuine[cut + 1:]
    FUZZED["unsubscribe"] += 1
    before = snapshot()
    url = f"/todos/reminders/unsubscribe/{quote(token, safe='')}/"
    response = getattr(client, method)(url)
    assert response.status_code in (200, 400, 404), (response.status_code, token)
    if response.status_code != 200 or method == "get":
        assert snapshot() == before, token
    assert todo_services.receives_reminders(user)
    STATUSES[("unsubscribe", response.status_code)] += 1


@FUZZ
@given(today=any_date, deadline=st.one_of(st.none(), any_date),
       kind=st.sampled_from(["judo", "clinic", "hospital", "pharmacy", "ama_acupuncture"]))
@example(today=date(9999, 12, 31), deadline=date(9999, 12, 31), kind="judo")
@example(today=date(1, 1, 1), deadline=date(1, 1, 1), kind="clinic")
def test_reminder_task_on_any_day(today, deadline, kind):
    """The weekly reminder on any day of the calendar, with any deadline: never an error;
    sent at most once a week, and only with something due within 14 days."""
    from eligibility.models import Program
    from todos import selectors as todo_selectors

    FUZZED["reminders"] += 1
    # Each example on the database as the test found it (a savepoint rolled back): the
    # examples' staff do not pile up for the next example's reminders to go through.
    with transaction.atomic():
        Program.objects.filter(code__in=["cooperation-2025", "lump-sum-2024"]).update(
            report_deadline=deadline)
        user = make_staff(FacilityFactory(kind=kind))
        todo_services.send_reminders(today=today)
        due = todo_selectors.due_soon(todo_selectors.todos_for(user=user, today=today), today)
        assert ReminderSent.objects.filter(user=user).count() == (1 if due else 0)
        assert todo_services.send_reminders(today=today) == 0
        transaction.set_rollback(True)


# ---------------------------------------------------------------- two-factor invitation (staff)


@pytest.fixture
def invitation_token():
    """The token of an invitation to a staff account without an authenticator."""
    from urllib.parse import urlsplit

    from portal.invitations import issue_invitation
    from tests.factories import UserFactory

    _invitation, link = issue_invitation(user=UserFactory(is_staff=True))
    return urlsplit(link).path.rstrip("/").rsplit("/", 1)[1]


def _nothing_enrolled() -> bool:
    from allauth.mfa.models import Authenticator

    from portal.models import TwoFactorInvitation

    return (not Authenticator.objects.exists()
            and not TwoFactorInvitation.objects.filter(used_at__isnull=False).exists())


@FUZZ
@given(data=form(password=field("Passw0rdForTests", strategy=texts)))
def test_two_factor_invitation_form(client, invitation_token, data):
    """Anything typed as the password: only the account's own opens the set-up page, and
    nothing is set up by the form itself."""
    FUZZED["two_factor_invitation"] += 1
    assert client.get(reverse("two_factor_invitation", args=[invitation_token])).status_code == 302
    response = client.post(reverse("two_factor_invitation_open"), data)
    assert response.status_code in (200, 302, 400), (response.status_code, data)
    if has_nul(data):
        assert response.status_code == 400
    if response.status_code == 302:
        assert data.get("password") == "Passw0rdForTests", data
        assert client.get(response["Location"]).status_code == 200
    assert _nothing_enrolled()
    STATUSES[("two_factor_invitation", response.status_code)] += 1


@FUZZ
@given(token=texts, method=st.sampled_from(["get", "post"]))
def test_two_factor_invitation_link(client, token, method):
    """Any token in the path: refused (404, or 400 for a NUL), never a log-in."""
    from urllib.parse import quote

    FUZZED["two_factor_invitation_link"] += 1
    url = f"/accounts/2fa/invitation/{quote(token, safe='')}/"
    response = getattr(client, method)(url, {"password": "Passw0rdForTests"})
    assert response.status_code in (400, 404), (response.status_code, token)
    assert "_auth_user_id" not in client.session and _nothing_enrolled()
    STATUSES[("two_factor_invitation_link", response.status_code)] += 1


@FUZZ
@given(address=st.one_of(texts, st.builds(lambda t: t + "@example.jp", texts)))
def test_invite_staff_command(address):
    """`manage.py invite_staff` with any address: a refusal in words (CommandError), never a
    traceback, and no invitation."""
    from django.core.management import CommandError, call_command

    from portal.models import TwoFactorInvitation

    FUZZED["invite_staff"] += 1
    with pytest.raises(CommandError):
        call_command("invite_staff", address, stdout=io.StringIO())
    assert not TwoFactorInvitation.objects.exists()


# ---------------------------------------------------------------- public pages (GET)


@pytest.fixture
def public_entries():
    """A listed facility, so that searches and page keys meet rows."""
    from facilities import services as facility_services

    facility, user, _ = accepted_facility(kind="judo")
    facility.name = "テスト整骨院 100%_"
    facility.save()
    facility_services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    facility_services.rebuild_public_list()
    return facility


@FUZZ
@given(data=form(prefecture=field("13", "01", "47", "48"),
                 kind=field("clinic", "judo", "hospital"),
                 name=field("テスト", "てすと", "ﾃｽﾄ", "%", "_", "100%_", "' OR 1=1 --"),
                 code=field("0110113719", "０１１", "契13", "%", "_"),
                 after=field("13:0110113719", "99:x", ":", "13:" + "9" * 40),
                 before=field("13:0110113719", "01:%", "x"),
                 page=field("1", "2", "last", strategy=numbers)))
def test_public_list_filter(client, public_entries, data):
    from django.test import override_settings

    send(client, "get", reverse("public:list"), data, label="public_list")
    with override_settings(RATE_LIMITS={"public_list_csv": "100000/m"}):
        send(client, "get", reverse("public:csv"), data, label="public_csv")


@FUZZ
@given(data=form(kind=field("clinic", "hospital", "dental", "pharmacy"),
                 oct_receipts=field("1000", strategy=numbers),
                 oct_users=field("40", strategy=numbers),
                 best_users=field("200", strategy=numbers), poster=BOOL, informed=BOOL,
                 program=field("lump-sum-2024")))
def test_simulator(client, data):
    send(client, "get", reverse("simulator"), data, label="simulator")


# ---------------------------------------------------------------- NUL bytes (middleware)


def test_a_nul_byte_in_an_admin_changelist_filter_is_answered_400(client):
    login_admin(client, AdminFactory())
    response = client.get("/admin/facilities/usageapplication/?state__exact=%00")
    assert response.status_code == 400
    assert response.content.decode() == NUL_MESSAGE
    assert client.get("/admin/facilities/usageapplication/?state__exact=submitted"
                      ).status_code == 200


@pytest.mark.parametrize("query", ["name=%00", "prefecture=13&name=a%00b", "%00=1"])
def test_a_nul_byte_in_a_public_page_query_is_answered_400(client, query):
    assert client.get(f"{reverse('public:list')}?{query}").status_code == 400
    assert client.get(f"{reverse('public:list')}?name=ok").status_code == 200


def test_a_nul_byte_in_a_path_or_a_posted_field_is_answered_400(client, accepted):
    assert client.get("/public/%00/").status_code == 400
    url = reverse("facilities:golive", args=[accepted.pk])
    assert client.post(url, {"date": "2025-06-10\x00"}).status_code == 400
    assert post_confirmed(client, url, {"date": "2025-06-10"}).status_code == 302


def test_every_form_was_fuzzed():
    """Runs after the fuzz tests (file order); under xdist they may run on another worker."""
    total = sum(FUZZED.values())
    print(f"\nfuzzed inputs: {total} {dict(sorted(FUZZED.items()))}")
    print(f"answers: {dict(sorted(STATUSES.items()))}")
    if total == 0:
        pytest.skip("the fuzz tests ran in another worker process")
    assert total > 0
