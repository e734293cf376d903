"""The facility's side of its payments, through HTTP: the payments page says each state in
the facility's words (支給決定 → 振込予定（日付） → 振込済 / 振込不能（what to do）), the
支払通知書 PDF of a paid line, and the e-mails; the account number is never shown in full."""

import io
import re

import pytest
from django.core import mail
from django.urls import reverse
from pypdf import PdfReader

from payouts import services
from payouts.models import BankAccount, PaymentLine
from portal.wareki import to_wareki
from tests.confirming import confirmation_token, post_bank_confirmed
from tests.factories import FacilityFactory, make_staff
from tests.payouts.helpers import (
    eligible,
    import_on_the_day,
    lump_sum,
    officers,
    results_csv,
    transfer_day,
    with_account,
)

pytestmark = pytest.mark.django_db

NUMBER = "8642097"  # the facility's account number: only ****097 may ever be shown
MASKED = "****097"
PROGRAM = "一時金（医療機関・薬局・2024年）"
BANK_FORM = {"method": "bank", "bank": "みずほ", "branch": "東京営業部", "account_type": "1",
             "account_number": "7531864", "holder_name": "ﾏｲﾅ ﾊﾅｺ"}
RESULT = {"口座なし": "1", "解約済": "2", "名義相違": "3", "その他": "9"}


@pytest.fixture
def facility():
    return FacilityFactory(kind="clinic")


@pytest.fixture
def staff(client, facility):
    user = make_staff(facility)
    client.force_login(user)
    return user


def decided(facility, staff, *, account: bool = True):
    """An eligible 一時金 of 200,000円 (the facility's account registered by its staff)."""
    eligible(facility, account=False)
    if account:
        with_account(facility, number=NUMBER, user=staff)


def in_run(facility, staff):
    decided(facility, staff)
    creator, releaser = officers()
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    return run, releaser


def released(facility, staff):
    run, releaser = in_run(facility, staff)
    return services.release_run(run=run, actor=releaser), releaser


def with_result(facility, staff, code: str) -> PaymentLine:
    """A released line and the bank's result for it (0: 振込済; else 振込不能, see RESULT)."""
    run, releaser = released(facility, staff)
    line = run.lines.get()
    import_on_the_day(run=run, data=results_csv([(line.pk, code)]), actor=releaser)
    line.refresh_from_db()
    return line


def page(client, facility) -> str:
    response = client.get(reverse("payouts:payments", args=[facility.pk]))
    assert response.status_code == 200
    return response.content.decode()


def rows(body: str) -> list[str]:
    """The payments table's rows as the text a screen reader reads (tags dropped)."""
    table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in table.split("</tr>")[:-1]]


def links(body: str) -> dict[str, str]:
    """href → the link's text (hidden parts included), for the payments table."""
    table = body.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return {href: " ".join(re.sub(r"<[^>]+>", " ", text).split())
            for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', table)}


def notice_url(facility, line) -> str:
    return reverse("payouts:notice", args=[facility.pk, line.pk])


def pdf_text(content: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(content)).pages)


# ------------------------------------------------------------------------- each state


def test_a_decided_amount_without_an_account_asks_for_one_with_a_link(client, facility, staff):
    decided(facility, staff, account=False)
    body = page(client, facility)
    [row] = rows(body)
    assert "支給決定" in row and "200,000円" in row and PROGRAM in row
    assert "振込先口座を登録してください" in row
    assert links(body) == {reverse("payouts:bank", args=[facility.pk]): "振込先口座を登録する"}
    assert "振込先口座が登録されていません" in body


def test_a_decided_amount_with_an_account_is_paid_with_the_next_payment(client, facility,
                                                                         staff):
    decided(facility, staff)
    body = page(client, facility)
    [row] = rows(body)
    assert "支給決定" in row and "次回の支払で振り込みます" in row
    assert links(body) == {}  # nothing to do, no notice yet
    assert MASKED in body and NUMBER not in body


def test_an_amount_in_a_run_not_yet_released_is_still_decided(client, facility, staff):
    in_run(facility, staff)
    [row] = rows(page(client, facility))
    assert "支給決定" in row and "振込の準備をしています" in row


def test_a_released_payment_shows_its_transfer_date_in_wareki(client, facility, staff):
    run, _ = released(facility, staff)
    body = page(client, facility)
    [row] = rows(body)
    assert f"振込予定（{to_wareki(run.transfer_date)}）" in row
    assert re.search(r"振込予定（令和\d+年\d+月\d+日）", row)
    assert f"みずほ 東京営業部（口座番号 {MASKED}）へ振り込みます" in row
    assert NUMBER not in body
    assert links(body) == {}


def test_the_facility_never_reads_paid_before_the_transfer_date(client, facility, staff):
    """Results imported before the file was written or before the transfer date must not tell
    the facility 振込済 (docs/decisions.md D5.4.3): they are refused, the page still reads
    振込予定, and no e-mail goes."""
    from payouts.models import Consignor
    from tests.payouts.helpers import on_the_day, write_file

    run, releaser = released(facility, staff)
    line = run.lines.get()
    data = results_csv([(line.pk, 0)])
    mail.outbox.clear()
    with on_the_day(run.transfer_date), pytest.raises(services.ServiceError):
        services.import_results(run=run, data=data, actor=releaser)  # no file yet
    write_file(run, releaser)
    assert Consignor.objects.exists()
    with pytest.raises(services.ServiceError, match="より前には結果を取り込めません"):
        services.import_results(run=run, data=data, actor=releaser)  # today
    [row] = rows(page(client, facility))
    assert f"振込予定（{to_wareki(run.transfer_date)}）" in row and "振込済" not in row
    assert not [m for m in mail.outbox if "振込済" in m.subject]


def test_a_paid_payment_links_its_notice(client, facility, staff):
    line = with_result(facility, staff, "0")
    body = page(client, facility)
    [row] = rows(body)
    assert "振込済" in row and "振込不能" not in row
    assert links(body) == {notice_url(facility, line): f"支払通知書（PDF） {PROGRAM} 200,000円"}
    assert NUMBER not in body


@pytest.mark.parametrize("reason, advice", [
    ("名義相違", "通帳に記載の名義（カナ）のとおりに振込先口座を登録し直してください"),
    ("口座なし", "金融機関・支店・口座番号を通帳で確かめ"),
    ("解約済", "お使いの口座を振込先口座として登録し直してください"),
    ("その他", "振込先口座の内容を確かめ、登録し直してください"),
])
def test_a_failed_payment_says_why_and_what_to_do_with_a_link_to_the_form(
        client, facility, staff, reason, advice):
    with_result(facility, staff, RESULT[reason])
    body = page(client, facility)
    [row] = rows(body)
    assert f"振込不能（{reason}）" in row and advice in row
    assert links(body) == {reverse("payouts:bank", args=[facility.pk]): "振込先口座を直す"}
    assert NUMBER not in body


def test_after_the_correction_the_failed_payment_waits_for_the_next_payment(client, facility,
                                                                            staff):
    line = with_result(facility, staff, RESULT["名義相違"])
    url = reverse("payouts:bank", args=[facility.pk])
    # Without the confirmation of what happens to the failed payment, nothing is saved.
    unconfirmed = client.post(url, {**BANK_FORM, "submit": "1"})
    assert unconfirmed.status_code == 200
    assert "振込不能だった" in unconfirmed.content.decode()
    assert PaymentLine.objects.get(pk=line.pk).state == PaymentLine.State.FAILED
    response = post_bank_confirmed(client, url, BANK_FORM)
    assert response.status_code == 302
    assert response["Location"] == reverse("payouts:payments", args=[facility.pk])
    body = page(client, facility)
    [row] = [row for row in rows(body) if "振込不能" in row]
    assert "振込不能（口座修正済み）" in row and "200,000円" in row
    assert "修正された振込先口座へ、次回の支払で振り込みます" in row
    assert links(body) == {}  # nothing left to do
    assert "振込先口座を登録しました" in body  # the message after the redirect
    assert "****864" in body and "7531864" not in body
    line.refresh_from_db()
    assert line.state == PaymentLine.State.REISSUED


def test_a_corrected_failed_payment_is_listed_once(client, facility, staff):
    with_result(facility, staff, RESULT["名義相違"])
    post_bank_confirmed(client, reverse("payouts:bank", args=[facility.pk]), BANK_FORM)
    amount_rows = [row for row in rows(page(client, facility)) if "200,000円" in row]
    assert len(amount_rows) == 1, amount_rows


def test_once_paid_again_no_row_still_promises_the_next_payment(client, facility, staff):
    line = with_result(facility, staff, RESULT["名義相違"])
    post_bank_confirmed(client, reverse("payouts:bank", args=[facility.pk]), BANK_FORM)
    creator, releaser = officers()
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    run = services.release_run(run=run, actor=releaser)
    again = run.lines.get()
    assert again.source_id == line.source_id
    import_on_the_day(run=run, data=results_csv([(again.pk, 0)]), actor=releaser)
    body = page(client, facility)
    assert any("振込済" in row for row in rows(body))
    assert not [row for row in rows(body) if "次回の支払で振り込みます" in row]


def test_a_page_without_payments_says_so(client, facility, staff):
    body = page(client, facility)
    assert "支給決定したお金はまだありません" in body and "<tbody>" not in body


# --------------------------------------------------------------------------- the notice


def test_the_notice_is_a_pdf_with_the_program_amount_and_facility(client, facility, staff):
    line = with_result(facility, staff, "0")
    response = client.get(notice_url(facility, line))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert response["Cache-Control"] == "private, no-store"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    for expected in ("支払通知書", PROGRAM, "200,000円", facility.name, MASKED,
                     to_wareki(line.run.transfer_date)):
        assert expected in text, expected
    assert NUMBER not in text


def test_the_notice_embeds_its_japanese_font(client, facility, staff):
    line = with_result(facility, staff, "0")
    reader = PdfReader(io.BytesIO(client.get(notice_url(facility, line)).content))
    fonts = [font.get_object() for p in reader.pages
             for font in p["/Resources"]["/Font"].values()]
    cjk = [font for font in fonts if re.search(r"Noto-?Sans-?CJK", str(font["/BaseFont"]))]
    assert cjk, [str(font["/BaseFont"]) for font in fonts]
    for font in cjk:
        descriptor = (font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font
                      else font)["/FontDescriptor"].get_object()
        assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), descriptor


@pytest.mark.parametrize("code", [None, "3"])
def test_a_payment_not_paid_has_no_notice(client, facility, staff, code):
    if code is None:
        run, _ = released(facility, staff)
        line = run.lines.get()
    else:
        line = with_result(facility, staff, code)
    assert client.get(notice_url(facility, line)).status_code == 404


def test_a_corrected_failed_payment_has_no_notice(client, facility, staff):
    line = with_result(facility, staff, RESULT["解約済"])
    with_account(facility, number="7531864", user=staff)
    line.refresh_from_db()
    assert line.state == PaymentLine.State.REISSUED
    assert client.get(notice_url(facility, line)).status_code == 404


# ------------------------------------------------------------------- another facility


def test_another_facility_staff_gets_404_for_the_page_and_the_notice(client, facility):
    owner = make_staff(facility)
    line = with_result(facility, owner, "0")
    intruder_facility = FacilityFactory(kind="clinic")
    client.force_login(make_staff(intruder_facility))
    for url in (reverse("payouts:payments", args=[facility.pk]), notice_url(facility, line),
                # the line under the intruder's own facility
                notice_url(intruder_facility, line)):
        response = client.get(url)
        assert response.status_code == 404, url
        assert facility.name not in response.content.decode()


# ---------------------------------------------------------------------------- e-mails


def test_release_and_payment_are_mailed_to_the_staff_with_the_number_masked(
        client, facility, staff, django_capture_on_commit_callbacks):
    run, releaser = in_run(facility, staff)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        run = services.release_run(run=run, actor=releaser)
    [released_mail] = mail.outbox
    date_text = to_wareki(run.transfer_date)
    assert released_mail.to == [staff.email]
    assert f"振込予定のお知らせ（{facility.name}）" in released_mail.subject
    for expected in (PROGRAM, "200,000円", f"振込指定日: {date_text}", MASKED):
        assert expected in released_mail.body, expected

    mail.outbox.clear()
    line = run.lines.get()
    with django_capture_on_commit_callbacks(execute=True):
        import_on_the_day(run=run, data=results_csv([(line.pk, 0)]), actor=releaser)
    [paid_mail] = mail.outbox
    assert f"振込済のお知らせ（{facility.name}）" in paid_mail.subject
    for expected in ("振込済", PROGRAM, "200,000円", f"振込日: {date_text}", MASKED,
                     "支払通知書（PDF）", "振込先口座・支払状況"):
        assert expected in paid_mail.body, expected
    for message in (released_mail, paid_mail):
        assert NUMBER not in message.subject + message.body


def test_a_failure_is_mailed_with_what_to_do_and_the_correction_says_it_will_be_paid_again(
        client, facility, staff, django_capture_on_commit_callbacks):
    run, releaser = released(facility, staff)
    line = run.lines.get()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        import_on_the_day(run=run, data=results_csv([(line.pk, 3)]), actor=releaser)
    [failed_mail] = mail.outbox
    assert "振込不能のお知らせ" in failed_mail.subject
    for expected in (PROGRAM, "200,000円", "理由: 名義相違", "通帳に記載の名義（カナ）",
                     MASKED, "振込先口座・支払状況"):
        assert expected in failed_mail.body, expected

    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_bank_confirmed(client, reverse("payouts:bank", args=[facility.pk]), BANK_FORM)
    [changed_mail] = mail.outbox
    assert "振込先口座が変更されました" in changed_mail.subject
    assert ("振込不能となっていた1件のお支払いは、新しい振込先口座へ次回の支払で振り込みます"
            in changed_mail.body)
    assert "****864" in changed_mail.body
    for message in (failed_mail, changed_mail):
        text = message.subject + message.body
        assert NUMBER not in text and "7531864" not in text


def test_an_account_change_without_failed_payments_promises_nothing(
        client, facility, staff, django_capture_on_commit_callbacks):
    decided(facility, staff)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        post_bank_confirmed(client, reverse("payouts:bank", args=[facility.pk]), BANK_FORM)
    [changed_mail] = mail.outbox
    assert "振込不能" not in changed_mail.body


# ------------------------------------- a change after a run (docs/decisions.md D5.4.5)

def test_changing_the_account_while_a_run_holds_money_says_it_goes_to_the_old_account(
        client, facility, staff):
    run, _ = in_run(facility, staff)
    url = reverse("payouts:bank", args=[facility.pk])
    body = client.post(url, BANK_FORM).content.decode()
    assert f"支払手続中の 200,000円（{PROGRAM}）は変更前の口座に振り込まれます。" in body
    assert "この内容で登録する" in body and "戻って修正する" in body
    assert "7531864" not in body.split('name="confirmation"', 1)[1].split(">", 1)[0]
    # The submit button alone (no confirmation of that effect) changes nothing.
    assert client.post(url, {**BANK_FORM, "submit": "1"}).status_code == 200
    assert BankAccount.objects.get(facility=facility).account_number == NUMBER
    assert post_bank_confirmed(client, url, BANK_FORM).status_code == 302
    assert BankAccount.objects.get(facility=facility).account_number == "7531864"
    # The run keeps its account (docs/domain.md §5.3).
    assert run.lines.get().account_number == NUMBER


def test_a_failed_payment_goes_to_the_new_account_and_the_page_says_so(client, facility, staff):
    with_result(facility, staff, RESULT["口座なし"])
    body = client.post(reverse("payouts:bank", args=[facility.pk]), BANK_FORM).content.decode()
    assert f"振込不能だった 200,000円（{PROGRAM}）は新しい口座に振り込まれます。" in body


def test_a_bank_confirmation_for_other_values_is_asked_again(client, facility, staff):
    in_run(facility, staff)
    url = reverse("payouts:bank", args=[facility.pk])
    token = confirmation_token(client.post(url, BANK_FORM))
    # The hidden fields altered after the confirmation page: not what was confirmed.
    body = client.post(url, {**BANK_FORM, "account_number": "1111111", "confirmation": token,
                             "submit": "1"}).content.decode()
    assert "この内容で登録する" in body
    assert BankAccount.objects.get(facility=facility).account_number == NUMBER


def test_without_money_in_a_run_the_account_form_is_as_before(client, facility, staff):
    with_account(facility, number=NUMBER)
    url = reverse("payouts:bank", args=[facility.pk])
    body = client.post(url, BANK_FORM).content.decode()
    assert "お支払いへの影響" not in body
    assert client.post(url, {**BANK_FORM, "submit": "1"}).status_code == 302
