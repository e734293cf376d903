"""Generated fuzz tests of the administrators' forms: every admin add form (every model the
superuser may add), the claim review form, the payout run's creation form and its bank
results upload, and the changelist filters, fed by hypothesis with dates from 0001 to 9999
in several notations, very long text, control characters, arbitrary bytes and huge or
negative numbers. Never a 500; a refused form writes nothing."""

from datetime import date

import pytest
from django import forms
from django.contrib import admin
from django.test import RequestFactory
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

FUZZED = {"inputs": 0}
FUZZ = settings(max_examples=8, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

_CONTROL = st.sampled_from(["\x01", "\x07", "\x1b", "\u200b", "\ufeff", "\u202e", "\r\n"])
_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=300, max_size=3_000),
    st.just("長" * 10_000),
    st.builds(lambda a, c, b: a + c + b, st.text(max_size=10), _CONTROL, st.text(max_size=10)),
    st.sampled_from(["", " ", "=HYPERLINK(\"http://x\")", "<script>alert(1)</script>",
                     "'; DROP TABLE x; --", "１２３４", "令和0年1月1日", "😀" * 50]),
)
_DATES = st.dates().flatmap(lambda d: st.sampled_from([
    d.isoformat(), d.strftime("%Y/%m/%d"), f"{d.year}-{d.month}-{d.day}",
    d.isoformat().translate(str.maketrans("0123456789-", "０１２３４５６７８９－")),
    f"R{d.year % 100}.{d.month}.{d.day}"]))
_NUMBERS = st.one_of(st.integers(min_value=-10**20, max_value=10**20).map(str),
                     st.sampled_from(["", "1e9", "NaN", "-0", "１０", "0x10", "3.5"]))


def _value_for(field: forms.Field, pks: list[int]):
    if isinstance(field, forms.SplitDateTimeField):
        return st.tuples(_DATES, _TEXT)
    if isinstance(field, forms.DateTimeField | forms.DateField):
        return st.one_of(_DATES, _TEXT)
    if isinstance(field, forms.ModelMultipleChoiceField):
        return st.lists(st.one_of(st.sampled_from(pks or [1]), _NUMBERS), max_size=3)
    if isinstance(field, forms.ModelChoiceField):
        return st.one_of(st.sampled_from(pks or [1]), _NUMBERS, _TEXT)
    if isinstance(field, forms.IntegerField | forms.DecimalField | forms.FloatField):
        return _NUMBERS
    if isinstance(field, forms.BooleanField):
        return st.sampled_from(["on", "", "false"])
    if isinstance(field, forms.ChoiceField):
        choices = [str(value) for value, _label in field.choices if not isinstance(_label, list)]
        return st.one_of(st.sampled_from(choices or [""]), _TEXT)
    return _TEXT


def _post_data(form_class, values: dict) -> dict:
    data = {}
    for name, value in values.items():
        field = form_class.base_fields[name]
        if isinstance(field, forms.SplitDateTimeField):
            data[f"{name}_0"], data[f"{name}_1"] = value
        else:
            data[name] = value
    return data


def _addable_models(superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return sorted(
        ((model, model_admin) for model, model_admin in admin.site._registry.items()
         if model_admin.has_add_permission(request)),
        key=lambda pair: pair[0]._meta.label)


def _form_class(model_admin, superuser):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    return model_admin.get_form(request, None, change=False)


def _fuzz_add_form(admin_client, model, model_admin, form_class, strategy, superuser):
    url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_add")
    request = RequestFactory().get("/admin/")
    request.user = superuser

    @FUZZ
    @given(values=strategy)
    def post(values):
        FUZZED["inputs"] += 1
        before = model._default_manager.count()
        response = admin_client.post(url, _post_data(form_class, values))
        assert response.status_code in (200, 302, 400), (model, response.status_code)
        if response.status_code != 302:
            assert model._default_manager.count() == before, model
        elif not model_admin.has_add_permission(request):
            # A single row (the consignor) was added: removed, so that the next input
            # meets the add form again.
            model._default_manager.all().delete()

    post()


def test_every_admin_add_form_survives_fuzzing(admin_client, admin_user):
    from tests.factories import FacilityFactory

    pks = [FacilityFactory().pk, admin_user.pk]
    checked = []
    for model, model_admin in _addable_models(admin_user):
        form_class = _form_class(model_admin, admin_user)
        strategy = st.fixed_dictionaries(
            {name: _value_for(field, pks) for name, field in form_class.base_fields.items()})
        _fuzz_add_form(admin_client, model, model_admin, form_class, strategy, admin_user)
        checked.append(model._meta.label)
    assert "facilities.UsageApplication" in checked and "eligibility.ParameterVersion" in checked
    assert "payouts.Consignor" in checked and "portal.ContactPoint" in checked
    assert "cardreader.TrustedIssuer" in checked and "cardreader.InsuredPerson" in checked
    assert "cardreader.RevocationList" in checked  # its add page takes the file
    assert "obligation.SurveyAnswer" in checked


_DIGITS = st.one_of(st.from_regex(r"[0-9]{0,12}", fullmatch=True),
                    st.from_regex(r"[０-９0-9 \-]{0,12}", fullmatch=True), _NUMBERS)
_KANA = st.one_of(st.text(alphabet="ｱｲｳｴｵｶﾞﾊﾟｰ ()-./,ABCあいうアイウ漢字＆￥", max_size=50), _TEXT)


@FUZZ
@given(values=st.fixed_dictionaries({
    "code": _DIGITS, "name": _KANA, "bank_code": _DIGITS, "bank_name": _KANA,
    "branch_code": _DIGITS, "branch_name": _KANA,
    "account_type": st.one_of(st.sampled_from(["1", "2", "9", "4"]), _TEXT),
    "account_number": _DIGITS,
    "recovery_due_days": st.one_of(st.sampled_from(["30", "31"]), _NUMBERS),
    "recovery_contact": _TEXT}))
def test_the_consignor_form_survives_fuzzing_and_keeps_only_what_the_file_can_carry(
        admin_client, values):
    """Near-valid input (digits of every width, kana of every kind): what is saved is what
    the transfer file can carry."""
    from payouts import zengin
    from payouts.models import Consignor

    FUZZED["inputs"] += 1
    Consignor.objects.all().delete()
    response = admin_client.post(reverse("admin:payouts_consignor_add"), values)
    assert response.status_code in (200, 302, 400)  # 400: a NUL, refused before any view
    if response.status_code != 302:
        assert not Consignor.objects.exists()
        return
    saved = Consignor.objects.get()
    for name, width in (("code", 10), ("bank_code", 4), ("branch_code", 3),
                        ("account_number", 7)):
        value = getattr(saved, name)
        assert value.isascii() and value.isdigit() and len(value) == width
    for name, width in (("name", 40), ("bank_name", 15), ("branch_name", 15)):
        value = getattr(saved, name)
        assert zengin.zengin_encodable(value) and len(value) <= width


@FUZZ
@given(values=st.fixed_dictionaries({
    "name": _TEXT, "phone": st.one_of(_DIGITS, _TEXT), "hours": _TEXT,
    "postcode": st.one_of(st.sampled_from(["100-8916", "〒１００－８９１６", "1008916", "100-891"]),
                          _DIGITS, _TEXT),
    "address": st.one_of(st.sampled_from(["東京都千代田区霞が関1-2-2", "千代田区霞が関1-2-2",
                                          "北海道札幌市", "神奈川県横浜市"]), _TEXT),
    "url": st.one_of(st.sampled_from(["", "https://portal.example.jp/contact/",
                                      "javascript:alert(1)", "portal.example.jp"]), _TEXT)}))
def test_the_contact_point_form_survives_fuzzing_and_keeps_an_address_to_write_on_a_letter(
        admin_client, values):
    """What is saved is printable on every letter: a 7-digit postcode written 123-4567, an
    address that starts with its prefecture, a web address (or none)."""
    from portal.contact import starts_with_prefecture
    from portal.models import ContactPoint

    FUZZED["inputs"] += 1
    ContactPoint.objects.all().delete()
    response = admin_client.post(reverse("admin:portal_contactpoint_add"), values)
    assert response.status_code in (200, 302, 400)  # 400: a NUL, refused before any view
    if response.status_code != 302:
        assert not ContactPoint.objects.exists()
        return
    saved = ContactPoint.objects.get()
    assert len(saved.postcode) == 8 and saved.postcode[3] == "-"
    assert saved.postcode.replace("-", "").isascii() and saved.postcode.replace("-", "").isdigit()
    assert starts_with_prefecture(saved.address)
    assert saved.url == "" or saved.url.startswith(("http://", "https://"))


def test_the_payout_run_form_survives_fuzzing(client):
    from payouts.models import PaymentLine, PayoutRun
    from portal import roles
    from tests.factories import login_admin, make_admin
    from tests.payouts.helpers import payables, set_consignor

    payables(1)
    set_consignor()  # without it the page refuses every post (tested in tests/payouts)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    url = reverse("admin:payouts_payoutrun_create")

    @FUZZ
    @given(program=st.one_of(st.sampled_from([str(pk) for pk in PayoutRun._meta.get_field(
               "program").related_model.objects.values_list("pk", flat=True)]),
               _NUMBERS, _TEXT),
           transfer_date=st.one_of(_DATES, _TEXT))
    def post(program, transfer_date):
        FUZZED["inputs"] += 1
        runs, lines = PayoutRun.objects.count(), PaymentLine.objects.count()
        response = client.post(url, {"program": program, "transfer_date": transfer_date})
        assert response.status_code in (200, 302, 400)
        if response.status_code != 302:
            assert (PayoutRun.objects.count(), PaymentLine.objects.count()) == (runs, lines)

    post()


def test_the_release_confirmations_page_number_survives_fuzzing(client):
    from payouts import services as payout_services
    from tests.factories import login_admin
    from tests.payouts.helpers import lump_sum, officers, payables, set_consignor, transfer_day

    set_consignor()
    creator, releaser = officers()
    payables(2)
    run = payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                     actor=creator)
    login_admin(client, releaser)
    url = reverse("admin:payouts_payoutrun_move", args=[run.pk, "release"])

    @FUZZ
    @given(page=st.one_of(_NUMBERS, _TEXT.filter(lambda v: "\x00" not in v)))
    def get(page):
        FUZZED["inputs"] += 1
        response = client.get(url, {"page": page})
        assert response.status_code == 200 and "支払明細（2件" in response.content.decode()

    get()


def test_the_bank_results_upload_survives_fuzzing(client, monkeypatch):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from payouts import services
    from payouts.models import PaymentLine, PayoutRun
    from tests.factories import login_admin
    from tests.payouts.helpers import (
        lump_sum,
        officers,
        payables,
        today_is,
        transfer_day,
        write_file,
    )

    payables(2)
    creator, releaser = officers()
    run = services.release_run(run=services.create_run(
        program=lump_sum(), transfer_date=transfer_day(), actor=creator), actor=releaser)
    write_file(run, releaser)  # results are taken once the file is written, on its date
    today_is(monkeypatch, run.transfer_date)
    line_pks = [str(pk) for pk in run.lines.values_list("pk", flat=True)]
    login_admin(client, releaser)
    url = reverse("admin:payouts_payoutrun_results", args=[run.pk])
    cell = st.one_of(st.sampled_from([*line_pks, "0", "1", "2", "3", "9"]), _NUMBERS, _TEXT)
    csv_text = st.builds(
        lambda header, rows, separator: separator.join(
            [header, *(",".join(row) for row in rows)]),
        st.sampled_from(["顧客コード1,結果コード", "顧客コード1,結果コード,", "", "x"]),
        st.lists(st.lists(cell, max_size=3), max_size=5),
        st.sampled_from(["\r\n", "\n", "\r"]))
    body = st.one_of(
        st.binary(max_size=2_000),
        st.tuples(csv_text, st.sampled_from(["utf-8", "utf-8-sig", "cp932", "utf-16"])).map(
            lambda pair: pair[0].encode(pair[1], errors="replace")))

    @FUZZ
    @given(data=body, name=st.one_of(st.just("kekka.csv"), _TEXT.filter(lambda n: n.strip())))
    def post(data, name):
        FUZZED["inputs"] += 1
        before = list(PaymentLine.objects.order_by("pk").values_list("state", flat=True))
        response = client.post(url, {"file": SimpleUploadedFile(name[:200], data)})
        assert response.status_code in (200, 302, 400)
        if response.status_code != 302:
            after = list(PaymentLine.objects.order_by("pk").values_list("state", flat=True))
            assert after == before
            assert PayoutRun.objects.get(pk=run.pk).state in ("released", "settled")

    post()


def test_the_insured_person_registry_upload_survives_fuzzing(client):
    """Any bytes, any near-valid CSV: a check or an import answers with a page, and a file
    with any refused line writes nothing."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cardreader.models import InsuredPerson
    from portal import roles
    from tests.factories import login_admin, make_admin

    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    url = reverse("admin:cardreader_insuredperson_import")
    header = ("issuer,serial,insurer_number,symbol,number,branch,name,name_kana,birth_date,"
              "copay_ratio,valid_from,valid_to,lost_on")
    cell = st.one_of(st.sampled_from(["CN=JPKI,C=JP", "1001", "123456789012", "06132013", "01",
                                      "ヤマダ", "1980-04-01", "30", "3割", "", '"a,b"']),
                     _DIGITS, _DATES, _TEXT)
    csv_text = st.builds(
        lambda first, rows, separator: separator.join(
            [first, *(",".join(row) for row in rows)]),
        st.sampled_from([header, header + ",", "", "issuer,serial", "x"]),
        st.lists(st.lists(cell, min_size=0, max_size=14), max_size=4),
        st.sampled_from(["\r\n", "\n", "\r"]))
    body = st.one_of(
        st.binary(max_size=2_000),
        st.tuples(csv_text, st.sampled_from(["utf-8", "utf-8-sig", "cp932", "utf-16"])).map(
            lambda pair: pair[0].encode(pair[1], errors="replace")))

    @FUZZ
    @given(data=body, button=st.sampled_from(["_check", "_import"]))
    def post(data, button):
        FUZZED["inputs"] += 1
        before = InsuredPerson.objects.count()
        response = client.post(url, {"file": SimpleUploadedFile("daicho.csv", data),
                                     button: "1"})
        assert response.status_code in (200, 400)
        if button == "_check" or response.context is None or not (
                response.context.get("outcome") and response.context["outcome"].saved):
            assert InsuredPerson.objects.count() == before
        InsuredPerson.objects.all().delete()

    post()


def test_the_revocation_list_upload_survives_fuzzing(client):
    """Any bytes, a real CRL cut or with bytes flipped, PEM text around anything, a CRL of
    another CA or signed by another key: a page with the reason next to the file, and only a
    CRL the trusted CA signed is kept."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from cardreader.models import RevocationList
    from portal import roles
    from tests.cardreader.pki import authority, make_authority, revocation_list
    from tests.cardreader.test_api import trust
    from tests.factories import login_admin, make_admin

    trust()
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    url = reverse("admin:cardreader_revocationlist_add")
    real = revocation_list([1001, 2**64])
    crls = [real, revocation_list(issuer=authority("Other Authentication CA")),
                revocation_list(signer=make_authority("x", key_index=2).key),
                revocation_list(pem=True)]

    def mutate(data: bytes, at: int, value: int, cut: int) -> bytes:
        data = bytearray(data[:max(cut, 1)])
        data[at % len(data)] = value
        return bytes(data)

    body = st.one_of(
        st.binary(max_size=2_000),
        st.builds(mutate, st.sampled_from(crls), st.integers(0, 2_000), st.integers(0, 255),
                  st.integers(0, 2_000)),
        st.builds(lambda text: f"-----BEGIN X509 CRL-----\n{text}\n-----END X509 CRL-----".encode(
            "utf-8", "replace"), _TEXT),
        st.sampled_from(crls[1:]))

    @FUZZ
    @given(data=body, name=st.one_of(st.just("ca.crl"), _TEXT.filter(lambda n: n.strip())))
    def post(data, name):
        FUZZED["inputs"] += 1
        before = RevocationList.objects.count()
        response = client.post(url, {"file": SimpleUploadedFile(name[:200], data)})
        assert response.status_code in (200, 302, 400)
        if response.status_code != 302:
            assert RevocationList.objects.count() == before
        else:
            assert RevocationList.objects.latest("pk").issuer.subject == (
                authority().certificate.subject.rfc4514_string())

    post()


@FUZZ
@given(lost_on=st.one_of(_DATES, _TEXT, _NUMBERS))
def test_the_lost_date_form_survives_fuzzing(admin_client, lost_on):
    from cardreader.models import InsuredPerson

    FUZZED["inputs"] += 1
    person, _ = InsuredPerson.objects.get_or_create(
        issuer="CN=JPKI,C=JP", serial="1001", defaults={
            "insurer_number": "06132013", "number": "1", "branch": "00", "name": "山田 太郎",
            "name_kana": "ヤマダ タロウ", "birth_date": "1980-04-01", "copay_ratio": 30,
            "valid_from": "2020-04-01"})
    InsuredPerson.objects.filter(pk=person.pk).update(lost_on=None)
    response = admin_client.post(reverse("admin:cardreader_insuredperson_lose", args=[person.pk]),
                                 {"lost_on": lost_on})
    assert response.status_code in (200, 302, 400)
    person.refresh_from_db()
    if response.status_code != 302:
        assert person.lost_on is None
    else:
        assert person.lost_on >= person.valid_from


@FUZZ
@given(decision=st.one_of(st.sampled_from(["approve", "return", "reject"]), _TEXT),
       amount=_NUMBERS, reason=_TEXT, note=_TEXT)
def test_the_claim_review_form_survives_fuzzing(client, decision, amount, reason, note):
    from portal import roles
    from subsidies.models import Claim
    from tests.factories import claim_under_review, login_admin, make_admin

    FUZZED["inputs"] += 1
    claim = claim_under_review()
    item = claim.items.get()
    login_admin(client, make_admin(roles.REVIEWER, roles.APPROVER))
    response = client.post(reverse("admin:subsidies_claim_review", args=[claim.pk]),
                           {"decision": decision, "amount": amount, "reason": reason,
                            f"note_{item.pk}": note})
    assert response.status_code in (200, 302, 400, 403)
    after = Claim.objects.get(pk=claim.pk)
    if response.status_code != 302:
        assert after.state == "under_review"


@FUZZ
@given(key=st.sampled_from(["state__exact", "q", "o", "p", "submitted_at__gte",
                            "facility__kind__exact", "e", "_changelist_filters", "letter",
                            "route__exact", "waiting"]),
       value=st.one_of(_TEXT.filter(lambda v: "\x00" not in v), _DATES, _NUMBERS))
def test_changelist_filters_survive_fuzzing(admin_client, key, value):
    FUZZED["inputs"] += 1
    for url in ("admin:facilities_usageapplication_changelist",
                "admin:subsidies_claim_changelist", "admin:facilities_facility_changelist",
                "admin:facilities_linkrequest_changelist",
                # The work queue's lists (portal/admin_queues.py: ?waiting=).
                "admin:eligibility_adjustment_changelist",
                "admin:obligation_exemptiondeclaration_changelist",
                "admin:payouts_payoutrun_changelist"):
        response = admin_client.get(reverse(url), {key: value})
        assert response.status_code in (200, 302, 400)


@FUZZ
@given(object_id=st.one_of(_NUMBERS, _TEXT.filter(lambda v: v and "\x00" not in v
                                                   and "/" not in v)),
       page=st.one_of(_NUMBERS, _TEXT.filter(lambda v: "\x00" not in v)))
def test_the_history_pages_survive_fuzzing(admin_client, object_id, page):
    """The 履歴 page of every admin (portal/admin_history.py) with any object id and any page
    number: an object's history, or back to the index; never a 500."""
    from tests.factories import FacilityFactory

    FUZZED["inputs"] += 1
    facility = FacilityFactory()
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}_history"
        for key in (object_id, facility.pk):
            url = reverse(info, args=[key])
            response = admin_client.get(url, {"p": page})
            assert response.status_code in (200, 302, 404), (url, response.status_code)


def test_the_survey_answer_change_form_survives_fuzzing(client):
    """A reviewer's correction of an answer: a refused one changes nothing."""
    from django.forms.models import model_to_dict

    from obligation import services
    from obligation.models import SurveyAnswer
    from portal import roles
    from tests.factories import FacilityFactory, login_admin, make_admin

    reviewer = make_admin(roles.REVIEWER)
    facility = FacilityFactory(kind="judo")
    answer = services.save_survey_answer(answer=SurveyAnswer(
        name="接骨院", address="東京都", registration_code=facility.code, reason="1",
        received_on="2025-02-03"), actor=reviewer)
    login_admin(client, reviewer)
    url = reverse("admin:obligation_surveyanswer_change", args=[answer.pk])
    pks = [facility.pk, FacilityFactory(kind="clinic").pk]

    @FUZZ
    @given(values=st.fixed_dictionaries({
        "registration_code": st.one_of(st.sampled_from([facility.code, "契９９９", "協1-2"]),
                                       _TEXT),
        "name": _TEXT, "address": _TEXT,
        "email": st.one_of(st.sampled_from(["a@example.jp", "ａ＠example.jp"]), _TEXT),
        "reason": st.one_of(st.sampled_from(["1", "2", "3", "1-1"]), _TEXT),
        "channel": st.one_of(st.sampled_from(["post", "email"]), _TEXT),
        "received_on": st.one_of(_DATES, _TEXT),
        "facility": st.one_of(st.sampled_from([str(pk) for pk in pks]), _NUMBERS, _TEXT),
        "note": _TEXT}))
    def post(values):
        FUZZED["inputs"] += 1
        before = model_to_dict(SurveyAnswer.objects.get(pk=answer.pk))
        response = client.post(url, values)
        assert response.status_code in (200, 302, 400)
        if response.status_code != 302:
            assert model_to_dict(SurveyAnswer.objects.get(pk=answer.pk)) == before
        assert SurveyAnswer.objects.count() == 1

    post()


def test_the_session_schedule_form_survives_fuzzing(client):
    import uuid
    from datetime import time

    from obligation import services
    from obligation.models import SessionRequest
    from portal import roles
    from tests.factories import login_admin, make_admin

    login_admin(client, make_admin(roles.REVIEWER))
    _times = st.one_of(st.sampled_from(["14:00", "１４：００", "25:00", "9:5", "23:59"]),
                       _NUMBERS, _TEXT)

    @FUZZ
    @given(day=st.one_of(_DATES, _TEXT), start=_times, end=_times, meeting_info=_TEXT)
    def post(day, start, end, meeting_info):
        FUZZED["inputs"] += 1
        session = services.request_session(token=uuid.uuid4(), data={
            "organisation": "会", "address": "東京都", "contact_furigana": "かい",
            "contact_name": "担当", "phone": "03-1111-2222", "email": "kai@example.jp",
            "preferred_date": "2030-01-10", "preferred_start": time(14), "preferred_end":
            time(15), "attendees": 3, "occupation": "柔道整復師"})
        response = client.post(reverse("admin:obligation_sessionrequest_schedule",
                                       args=[session.pk]),
                               {"date": day, "start": start, "end": end,
                                "meeting_info": meeting_info})
        assert response.status_code in (200, 302, 400)
        session = SessionRequest.objects.get(pk=session.pk)
        if response.status_code != 302:
            assert session.state == "requested" and session.scheduled_start is None
        else:
            assert session.scheduled_end > session.scheduled_start

    post()


def test_the_declaration_move_reason_survives_fuzzing(client):
    import uuid
    from datetime import date

    from obligation import services
    from obligation.models import ExemptionDeclaration
    from obligation.rules import Practitioner
    from portal import roles
    from tests.factories import FacilityFactory, login_admin, make_admin, make_staff

    login_admin(client, make_admin(roles.REVIEWER))

    @FUZZ
    @given(name=st.sampled_from(["send_back", "accept"]), reason=_TEXT)
    def post(name, reason):
        FUZZED["inputs"] += 1
        facility = FacilityFactory(kind="judo")
        declaration = services.declare_exemption(
            user=make_staff(facility), facility=facility, token=uuid.uuid4(),
            data=services.DeclarationInput(reason="1-1", contact_name="担当", practitioners=(
                Practitioner(birth_date=date(1950, 1, 1), full_time=True),)))
        response = client.post(reverse("admin:obligation_exemptiondeclaration_move",
                                       args=[declaration.pk, name]), {"reason": reason})
        assert response.status_code in (200, 302, 400)
        after = ExemptionDeclaration.objects.get(pk=declaration.pk)
        if response.status_code != 302:
            assert after.state == "declared"
        elif name == "send_back":
            assert after.state == "returned" and after.return_reason.strip()

    post()


def test_the_guidance_letter_form_survives_fuzzing(client):
    from obligation.compliance import compute_statuses
    from obligation.models import ComplianceStatus, LetterBatch
    from portal import roles
    from tests.factories import FacilityFactory, login_admin, make_admin

    FacilityFactory(kind="judo")
    compute_statuses()
    login_admin(client, make_admin(roles.REVIEWER))
    chosen = [str(pk) for pk in ComplianceStatus.objects.values_list("pk", flat=True)]

    @FUZZ
    @given(day=st.one_of(_DATES, _TEXT), place=_TEXT,
           across=st.sampled_from(["0", "1", "x", ""]))
    def post(day, place, across):
        FUZZED["inputs"] += 1
        before = LetterBatch.objects.count()
        response = client.post(reverse("admin:obligation_compliancestatus_changelist"), {
            "action": "guidance_letters", "_selected_action": chosen, "select_across": across,
            "confirm": "1", "guidance_date": day, "guidance_place": place})
        assert response.status_code in (200, 302, 400)
        if response.status_code != 302 or "letterbatch" not in response["Location"]:
            assert LetterBatch.objects.count() == before

    post()


@FUZZ
@given(key=st.sampled_from(["state__exact", "reason__exact", "prefecture__exact",
                            "last_step__exact", "matched", "channel__exact", "q", "o", "p",
                            "facility__kind__exact"]),
       value=st.one_of(_TEXT.filter(lambda v: "\x00" not in v), _DATES, _NUMBERS))
def test_obligation_changelist_filters_survive_fuzzing(admin_client, key, value):
    FUZZED["inputs"] += 1
    for name in ("exemptiondeclaration", "surveyanswer", "sessionrequest", "compliancestatus",
                 "followupstep", "letterbatch", "annexpairing"):
        response = admin_client.get(reverse(f"admin:obligation_{name}_changelist"),
                                    {key: value})
        assert response.status_code in (200, 302, 400)


def _proposed_adjustment():
    """A paid clinic whose best month fell after payment: its adjustment, proposed."""
    from tests.eligibility.test_adjustments import best_month, open_one, paid, rerun
    from tests.eligibility.test_batch import clinic

    facility = clinic()
    rerun()
    paid(facility)
    best_month(facility, 100)
    rerun()
    return open_one(facility)


@FUZZ
@given(key=st.sampled_from(["state__exact", "program__id__exact", "direction", "q", "o", "p",
                            "e", "_changelist_filters"]),
       value=st.one_of(_TEXT.filter(lambda v: "\x00" not in v), _DATES, _NUMBERS))
def test_adjustment_changelist_and_csv_filters_survive_fuzzing(admin_client, key, value):
    FUZZED["inputs"] += 1
    for url in ("admin:eligibility_adjustment_changelist", "admin:eligibility_adjustment_csv"):
        response = admin_client.get(reverse(url), {key: value})
        assert response.status_code in (200, 302, 400)


def test_the_adjustment_actions_survive_fuzzing(client):
    """The review / decide / reject actions with any selection and confirmation: never a
    500, and the reviewer's own decision never made."""
    from eligibility.models import Adjustment
    from portal import roles
    from tests.factories import login_admin, make_admin

    adjustment = _proposed_adjustment()
    both = make_admin(roles.REVIEWER, roles.APPROVER)
    login_admin(client, both)

    @FUZZ
    @given(action=st.sampled_from(["review_selected", "approve_selected", "reject_selected"]),
           chosen=st.lists(st.one_of(st.just(str(adjustment.pk)), _NUMBERS, _TEXT),
                           max_size=3),
           across=st.sampled_from(["0", "1", "x", ""]),
           confirm=st.sampled_from(["1", "", "yes", "\x00"]))
    def post(action, chosen, across, confirm):
        FUZZED["inputs"] += 1
        response = client.post(reverse("admin:eligibility_adjustment_changelist"), {
            "action": action, "_selected_action": chosen, "select_across": across,
            "confirm": confirm})
        assert response.status_code in (200, 302, 400)
        decided = Adjustment.objects.get(pk=adjustment.pk)
        assert decided.decided_by_id is None or decided.reviewed_by_id is None

    post()


def test_the_adjustments_commands_password_and_code_survive_fuzzing():
    """`manage.py adjustments review --by` reads a password and a code from standard input:
    any text there is refused with the command's message (exit 1) and nothing is reviewed."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from eligibility.models import Adjustment
    from portal import roles
    from tests.factories import make_admin

    adjustment = _proposed_adjustment()
    reviewer = make_admin(roles.REVIEWER)
    line = st.one_of(_TEXT, _NUMBERS, st.text(alphabet="0123456789０１２ ", max_size=12))

    @FUZZ
    @given(password=line, code=line, separator=st.sampled_from(["\n", "\r\n", "\x00", ""]))
    def post(password, code, separator):
        FUZZED["inputs"] += 1
        with pytest.raises(CommandError):
            call_command("adjustments", "review", "--program", adjustment.program.code,
                         "--by", reviewer.email, stdout=StringIO(),
                         stdin=StringIO(password + separator + code + "\n"))
        assert Adjustment.objects.get(pk=adjustment.pk).state == "proposed"

    post()


# ---- what the fuzzing found, kept as plain regression tests


def test_an_autocomplete_field_with_a_malformed_or_huge_key_shows_the_form_again(admin_client):
    for value in ("1e9", str(2**63), "-1", "abc"):
        response = admin_client.post(reverse("admin:subsidies_freereadergrant_add"),
                                     {"facility": value, "free_readers": "1"})
        assert response.status_code == 200


@pytest.mark.parametrize("value", [str(2**63), str(2**70), "-" + str(2**63), "1e9"])
def test_a_choice_of_a_key_no_row_can_have_is_an_error_on_the_form(admin_client, value):
    """SQLite cannot bind an integer beyond 64 bits; the lookup used to fail the page."""
    response = admin_client.post(reverse("admin:auth_group_add"),
                                 {"name": "g", "permissions": [value]})
    assert response.status_code == 200
    response = admin_client.post(reverse("admin:eligibility_parameterversion_add"), {
        "program": value, "version": "1", "effective_from": "2024-01-01", "notice": "x",
        "params": "{}"})
    assert response.status_code == 200
    response = admin_client.post(reverse("admin:account_emailaddress_add"),
                                 {"user": value, "email": "x@example.jp"})
    assert response.status_code == 200


def test_a_periodic_task_with_an_overlong_task_name_shows_the_form_again(admin_client):
    from django_celery_beat.models import PeriodicTask

    response = admin_client.post(reverse("admin:django_celery_beat_periodictask_add"),
                                 {"name": "x", "task": "0" * 300, "enabled": "on"})
    assert response.status_code == 200
    assert not PeriodicTask.objects.filter(name="x").exists()


def test_the_payout_commands_password_and_code_survive_fuzzing():
    """`manage.py payout release --by` reads a password and a code from standard input: any
    text there is refused with the command's message (exit 1), never an exception, and the
    run is not released."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from payouts import services
    from payouts.models import PayoutRun
    from tests.payouts.helpers import lump_sum, officers, payables, transfer_day

    payables(1)
    creator, releaser = officers()
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    line = st.one_of(_TEXT, _NUMBERS, st.text(alphabet="0123456789０１２ ", max_size=12))

    @FUZZ
    @given(password=line, code=line, separator=st.sampled_from(["\n", "\r\n", "\x00", ""]))
    def post(password, code, separator):
        FUZZED["inputs"] += 1
        with pytest.raises(CommandError):
            call_command("payout", "release", str(run.pk), "--by", releaser.email,
                         stdout=StringIO(), stdin=StringIO(password + separator + code + "\n"))
        assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.CREATED

    post()


def test_the_parameters_commands_password_and_code_survive_fuzzing():
    """`manage.py parameters apply --by` reads a password and a code from standard input, as
    `payout` does: any text there is refused with the command's message (exit 1), never an
    exception, and the draft stays a draft."""
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from eligibility import engine, services
    from eligibility.models import ParameterVersion, Program
    from portal import roles
    from tests.factories import make_admin

    program = Program.objects.get(code="device-sejutsu")
    draft = services.create_draft_version(
        program=program, params=engine.parameters_in_force(program).params,
        effective_from=date(2026, 4, 1), notice="試験", actor=make_admin(roles.SYSTEM_ADMIN))
    officer = make_admin(roles.SYSTEM_ADMIN)
    line = st.one_of(_TEXT, _NUMBERS, st.text(alphabet="0123456789０１２ ", max_size=12))

    @FUZZ
    @given(password=line, code=line, separator=st.sampled_from(["\n", "\r\n", "\x00", ""]))
    def post(password, code, separator):
        FUZZED["inputs"] += 1
        with pytest.raises(CommandError):
            call_command("parameters", "apply", "--program", program.code, "--version",
                         str(draft.version), "--by", officer.email, stdout=StringIO(),
                         stdin=StringIO(password + separator + code + "\n"))
        assert ParameterVersion.objects.get(pk=draft.pk).status == "draft"

    post()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**12) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=8,
)


@pytest.mark.parametrize("code", ["cooperation-2025", "lump-sum-2024", "device-limited",
                                  "reader-expansion-2024", "obligation"])
def test_the_parameters_draft_file_survives_fuzzing(code, tmp_path):
    """`manage.py parameters draft --file`: any content (text, JSON of any shape, the real
    parameters with one value changed to anything) makes a draft the program's parser
    accepts, or is refused with a message (exit 1) and creates nothing; never an exception."""
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    from eligibility import engine, services
    from eligibility.models import ParameterVersion, Program
    from portal import roles
    from tests.factories import make_admin

    program = Program.objects.get(code=code)
    real = engine.parameters_in_force(program).params
    officer = make_admin(roles.SYSTEM_ADMIN)
    path = tmp_path / "params.json"
    content = st.one_of(
        _TEXT,
        JSON_VALUES.map(json.dumps),
        st.tuples(st.sampled_from(sorted(real)), JSON_VALUES).map(
            lambda change: json.dumps({**real, change[0]: change[1]})),
        st.sampled_from(sorted(real)).map(
            lambda name: json.dumps({k: v for k, v in real.items() if k != name})),
    )

    @FUZZ
    @given(text=content)
    def draft(text):
        FUZZED["inputs"] += 1
        path.write_text(text, encoding="utf-8")
        before = ParameterVersion.objects.filter(program=program).count()
        try:
            call_command("parameters", "draft", "--program", code, "--file", str(path),
                         "--effective-from", "2026-04-01", "--notice", "試験",
                         "--by", officer.email, stdout=StringIO())
        except CommandError:
            assert ParameterVersion.objects.filter(program=program).count() == before
        else:
            made = ParameterVersion.objects.filter(program=program).latest("version")
            services.validate_params(program, made.params)  # only what the parser accepts

    draft()


def test_admin_fuzzing_ran(capsys):
    """Runs last in this file (pytest keeps file order): reports how many inputs were tried."""
    print(f"admin fuzz inputs: {FUZZED['inputs']}")
    assert FUZZED["inputs"] > 0 or pytest.skip("run with the file's other tests")


def test_the_recovery_moves_and_actions_survive_fuzzing(client):
    """返還請求: the move pages (督促する, 納付を確認する) and the list's actions with any ids
    and any text; a refused post changes nothing, and a recovery is settled once."""
    from payouts import services
    from payouts.models import Recovery
    from portal import roles
    from tests.factories import FacilityFactory, login_admin, make_admin
    from tests.payouts.helpers import (
        adjustment,
        eligible,
        lump_sum,
        officers,
        set_consignor,
        transfer_day,
    )

    set_consignor()
    for _ in range(2):
        adjustment(FacilityFactory(kind="clinic"), paid=200_000, new=150_000)
    eligible(FacilityFactory(kind="clinic"))
    services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=officers()[0])
    ids = list(Recovery.objects.values_list("pk", flat=True))
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))

    @FUZZ
    @given(name=st.sampled_from(["remind", "confirm_payment", "approve", "x"]), reason=_TEXT,
           action=st.sampled_from(["remind_selected", "confirm_selected", "delete_selected"]),
           # Ids as a form sends them (digits; Django's own pk__in refuses any other text
           # before an action runs): ours, others', huge ones.
           chosen=st.lists(st.one_of(st.sampled_from([str(pk) for pk in ids]),
                                     st.from_regex(r"[0-9]{1,12}", fullmatch=True)),
                           max_size=4),
           confirmed=st.booleans())
    def post(name, reason, action, chosen, confirmed):
        FUZZED["inputs"] += 1
        response = client.post(reverse("admin:payouts_recovery_move", args=[ids[0], name]),
                               {"reason": reason})
        assert response.status_code in (200, 302, 400, 403)
        data = {"action": action, "_selected_action": chosen}
        if confirmed:
            data["confirmed"] = "1"
        response = client.post(reverse("admin:payouts_recovery_changelist"), data)
        assert response.status_code in (200, 302, 400)
        assert Recovery.objects.count() == 2
        for recovery in Recovery.objects.all():
            assert (recovery.state == Recovery.State.PAID) == (recovery.paid_on is not None)

    post()
    response = client.get(reverse("admin:payouts_recovery_changelist"),
                          {"state__exact": "\u202e", "q": "=1+1"})
    assert response.status_code in (200, 302, 400)
