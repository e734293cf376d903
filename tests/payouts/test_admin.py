"""Payout runs through the admin, over HTTP: created from their own page, checked by their
totals, released by a second officer (never the creator), written as the 全銀 file, settled
by the bank's results; payment lines and the consignor's settings beside them."""

from datetime import date, timedelta

import pytest
from django.urls import reverse

from eligibility.models import Determination
from payouts import services
from payouts.models import Consignor, PaymentLine, PayoutRun
from portal import roles
from tests.factories import FacilityFactory, login_admin, make_admin
from tests.payouts.helpers import (
    eligible,
    lump_sum,
    officers,
    payables,
    results_csv,
    set_consignor,
    today_is,
    transfer_day,
    write_file,
)

pytestmark = pytest.mark.django_db

CREATE = reverse("admin:payouts_payoutrun_create")
RUNS = reverse("admin:payouts_payoutrun_changelist")
LINES = reverse("admin:payouts_paymentline_changelist")


def change(run) -> str:
    return reverse("admin:payouts_payoutrun_change", args=[run.pk])


def move(run, name: str) -> str:
    return reverse("admin:payouts_payoutrun_move", args=[run.pk, name])


def file_url(run) -> str:
    return reverse("admin:payouts_payoutrun_file", args=[run.pk])


def results_url(run) -> str:
    return reverse("admin:payouts_payoutrun_results", args=[run.pk])


def upload(data: bytes, name: str = "kekka.csv"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type="text/csv")


def created_run(count: int = 2, amount: int = 200_000):
    creator, releaser = officers()
    payables(count, amount=amount)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    return run, creator, releaser


def released_run(count: int = 2):
    run, creator, releaser = created_run(count)
    return services.release_run(run=run, actor=releaser), creator, releaser


def written_run(monkeypatch, count: int = 2):
    """A released run whose transfer file was written, on its transfer date (from now on in
    the test): its results may be imported."""
    run, creator, releaser = released_run(count)
    write_file(run, releaser)
    today_is(monkeypatch, run.transfer_date)
    return run, creator, releaser


def text(response) -> str:
    return response.content.decode()


# ---------------------------------------------------------------------- creating a run


def test_a_payout_officer_creates_a_run_from_its_page(client):
    set_consignor()  # the create page asks for it first
    payables(3, amount=150_000)
    officer = make_admin(roles.PAYOUT_OFFICER)
    login_admin(client, officer)
    assert "支払バッチを作成" in text(client.get(RUNS))
    page = client.get(CREATE)
    assert page.status_code == 200
    assert 'lang="ja"' in text(page) and lump_sum().name in text(page)
    day = transfer_day()
    response = client.post(CREATE, {"program": lump_sum().pk,
                                    "transfer_date": day.isoformat()}, follow=True)
    run = PayoutRun.objects.get()
    assert (run.state, run.line_count, run.total_amount, run.created_by, run.transfer_date) == (
        PayoutRun.State.CREATED, 3, 450_000, officer, day)
    assert response.redirect_chain[-1][0] == change(run)
    assert f"支払バッチ{run.pk}を作成しました: 3件、合計 450,000円" in text(response)


def test_a_transfer_date_typed_in_full_width_or_wareki_is_understood(client):
    set_consignor()  # the create page asks for it first
    payables(1)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    day = transfer_day()
    typed = day.isoformat().translate(str.maketrans("0123456789-", "０１２３４５６７８９－"))
    client.post(CREATE, {"program": lump_sum().pk, "transfer_date": typed})
    assert PayoutRun.objects.get().transfer_date == day


def test_a_holiday_transfer_date_is_refused_next_to_the_field_with_the_next_business_day(
        client):
    set_consignor()  # the create page asks for it first
    payables(1)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    response = client.post(CREATE, {"program": lump_sum().pk, "transfer_date": "2027-01-11"})
    assert response.status_code == 200
    form = response.context["form"]
    assert "成人の日" in form.errors["transfer_date"][0]
    assert "次の営業日は令和9年1月12日です" in form.errors["transfer_date"][0]
    assert '<a href="#id_transfer_date">' in text(response)  # the summary links to the field
    assert not PayoutRun.objects.exists() and not PaymentLine.objects.exists()
    assert not Determination.objects.filter(payout_locked=True).exists()


@pytest.mark.parametrize("day, message", [
    ("2026-12-31", "年末年始"),
    ("2020-06-01", "過ぎています"),
    ("2026-02-30", ""),
    ("", "必須"),
])
def test_other_transfer_dates_are_refused_and_nothing_is_created(client, day, message):
    set_consignor()  # the create page asks for it first
    payables(1)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    response = client.post(CREATE, {"program": lump_sum().pk, "transfer_date": day})
    assert response.status_code == 200
    assert response.context["form"].errors["transfer_date"]
    assert message in response.context["form"].errors["transfer_date"][0]
    assert not PayoutRun.objects.exists()


def test_a_program_must_be_chosen_among_those_paid(client):
    set_consignor()  # the create page asks for it first
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    for value in ("", "999999", "abc", str(2**63)):
        response = client.post(CREATE, {"program": value,
                                        "transfer_date": transfer_day().isoformat()})
        assert response.status_code == 200 and response.context["form"].errors["program"]
    assert not PayoutRun.objects.exists()


def test_a_run_with_nothing_payable_says_so(client):
    set_consignor()  # the create page asks for it first
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    response = client.post(CREATE, {"program": lump_sum().pk,
                                    "transfer_date": transfer_day().isoformat()}, follow=True)
    run = PayoutRun.objects.get()
    assert run.state == PayoutRun.State.EMPTY
    assert "支払の対象がありませんでした" in text(response)


@pytest.mark.parametrize("role", [roles.VIEWER, roles.REVIEWER, roles.APPROVER,
                                  roles.SYSTEM_ADMIN])
def test_only_payout_officers_may_create_a_run(client, role):
    payables(1)
    login_admin(client, make_admin(role))
    assert "支払バッチを作成" not in text(client.get(RUNS))
    assert client.get(CREATE).status_code == 403
    response = client.post(CREATE, {"program": lump_sum().pk,
                                    "transfer_date": transfer_day().isoformat()})
    assert response.status_code == 403
    assert not PayoutRun.objects.exists()


def test_runs_are_never_added_changed_or_deleted_through_the_standard_forms(admin_client):
    run, _, _ = created_run(1)
    assert admin_client.get(reverse("admin:payouts_payoutrun_add")).status_code == 403
    assert admin_client.post(reverse("admin:payouts_payoutrun_add"), {
        "program": lump_sum().pk, "transfer_date": transfer_day().isoformat()}
    ).status_code == 403
    delete = reverse("admin:payouts_payoutrun_delete", args=[run.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    page = text(admin_client.get(change(run)))
    assert 'name="_save"' not in page
    admin_client.post(change(run), {"state": "released", "line_count": "9"})
    run.refresh_from_db()
    assert (run.state, run.line_count) == (PayoutRun.State.CREATED, 1)


# --------------------------------------------------------------- checking and releasing


def test_the_run_page_shows_its_totals_by_prefecture_and_state(client):
    creator, _ = officers()
    for prefecture, amount in (("13", 100_000), ("13", 200_000), ("27", 50_000)):
        eligible(FacilityFactory(kind="clinic", prefecture=prefecture), amount=amount)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    login_admin(client, make_admin(roles.VIEWER))
    page = text(client.get(change(run)))
    assert "3件 350,000円" in page
    assert "東京都</th><td>2件</td><td>300,000円" in page
    assert "大阪府</th><td>1件</td><td>50,000円" in page
    assert "承認待ち</th><td>3件</td><td>350,000円" in page
    assert "承認する" not in page and "行える操作はありません" in page


def test_the_list_shows_each_run_with_its_numbers(client):
    run, creator, _ = created_run(2, amount=123_000)
    login_admin(client, make_admin(roles.VIEWER))
    page = text(client.get(RUNS))
    for shown in (lump_sum().name, "承認待ち", "246,000円", str(creator)):
        assert shown in page
    assert text(client.get(RUNS, {"state__exact": "released"})).count(lump_sum().name) <= 1


def test_the_creator_may_not_release_the_run_and_is_told_why(client):
    run, creator, _ = created_run()
    login_admin(client, creator)
    page = text(client.get(change(run)))
    assert "二者確認" in page
    assert move(run, "release") not in page
    assert move(run, "cancel") in page  # a creator may still withdraw it
    response = client.get(move(run, "release"), follow=True)
    assert response.redirect_chain[-1][0] == change(run)
    assert "別の方が行ってください（二者確認）" in text(response)
    assert client.post(move(run, "release")).status_code == 403
    run.refresh_from_db()
    assert (run.state, run.released_by) == (PayoutRun.State.CREATED, None)
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.SCHEDULED}


def test_a_second_officer_releases_the_run_after_a_confirmation_page(client):
    run, _, releaser = created_run(2, amount=100_000)
    login_admin(client, releaser)
    page = text(client.get(change(run)))
    assert move(run, "release") in page and "二者確認" not in page
    confirmation = client.get(move(run, "release"))
    assert confirmation.status_code == 200
    assert "2件 200,000円" in text(confirmation)
    assert 'value="承認する（振込を確定する）"' in text(confirmation)  # one button, its plain name
    run.refresh_from_db()
    assert run.state == PayoutRun.State.CREATED  # the confirmation page changes nothing
    response = client.post(move(run, "release"), follow=True)
    assert "を行いました" in text(response)
    run.refresh_from_db()
    assert (run.state, run.released_by) == (PayoutRun.State.RELEASED, releaser)
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.RELEASED}


def test_a_release_the_services_refuse_shows_their_message_and_changes_nothing(client):
    run, _, releaser = created_run(1)
    PayoutRun.objects.filter(pk=run.pk).update(transfer_date=date(2025, 6, 2))
    login_admin(client, releaser)
    response = client.post(move(run, "release"))
    assert response.status_code == 200 and "過ぎています" in text(response)
    run.refresh_from_db()
    assert run.state == PayoutRun.State.CREATED


@pytest.mark.parametrize("role", [roles.VIEWER, roles.REVIEWER, roles.SYSTEM_ADMIN])
def test_other_administrators_may_neither_release_nor_cancel(client, role):
    run, _, _ = created_run(1)
    login_admin(client, make_admin(role))
    for name in ("release", "cancel", "finish", "settle"):
        assert client.post(move(run, name)).status_code == 403
    run.refresh_from_db()
    assert run.state == PayoutRun.State.CREATED


def test_cancelling_a_run_makes_its_records_payable_again(client):
    run, _, releaser = created_run(2)
    login_admin(client, releaser)
    assert client.get(move(run, "cancel")).status_code == 200
    client.post(move(run, "cancel"))
    run.refresh_from_db()
    assert run.state == PayoutRun.State.CANCELLED
    assert not Determination.objects.filter(payout_locked=True).exists()


def test_moves_the_admin_does_not_make_are_refused(client):
    run, _, releaser = created_run(1)
    login_admin(client, releaser)
    for name in ("finish", "finish_empty", "settle", "nonsense"):
        assert client.get(move(run, name)).status_code == 403


# ------------------------------------------------ a scheduled run: checked, then released


def scheduled_run(count: int = 2, amount: int = 100_000) -> PayoutRun:
    from payouts.tasks import create_scheduled_runs

    payables(count, amount=amount)
    create_scheduled_runs()
    return PayoutRun.objects.get(state=PayoutRun.State.TO_CHECK)


def test_a_scheduled_run_is_checked_from_its_page_after_a_confirmation_page(client):
    """A run the schedule built is checked by one officer and released by another
    (docs/decisions.md D5.4.2): its page offers 確認する (not 承認する) and says who does what."""
    run = scheduled_run(2, amount=100_000)
    checker, releaser = officers()
    login_admin(client, checker)
    page = text(client.get(change(run)))
    assert "確認待ち" in page and "スケジュールで作成された支払バッチです" in page
    assert move(run, "verify") in page and move(run, "release") not in page
    assert move(run, "cancel") in page
    confirmation = client.get(move(run, "verify"))
    assert confirmation.status_code == 200
    assert "2件 200,000円" in text(confirmation) and 'value="確認する"' in text(confirmation)
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.TO_CHECK
    response = client.post(move(run, "verify"), follow=True)
    assert "「確認する」を行いました" in text(response)
    run.refresh_from_db()
    assert (run.state, run.checked_by) == (PayoutRun.State.CREATED, checker)
    # The checker is not offered the release, and is told why.
    page = text(client.get(change(run)))
    assert move(run, "release") not in page and "二者確認" in page
    assert client.post(move(run, "release")).status_code == 403
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.CREATED
    # Another officer releases it.
    login_admin(client, releaser)
    assert move(run, "release") in text(client.get(change(run)))
    client.post(move(run, "release"))
    run.refresh_from_db()
    assert (run.state, run.released_by) == (PayoutRun.State.RELEASED, releaser)


def test_a_scheduled_run_is_not_released_before_its_check(client):
    run = scheduled_run(1)
    _, releaser = officers()
    login_admin(client, releaser)
    response = client.get(move(run, "release"), follow=True)
    assert response.redirect_chain[-1][0] == change(run)
    assert "「確認待ち」のため" in text(response)
    assert client.post(move(run, "release")).status_code == 403
    run.refresh_from_db()
    assert (run.state, run.released_by) == (PayoutRun.State.TO_CHECK, None)
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.SCHEDULED}


@pytest.mark.parametrize("role", [roles.VIEWER, roles.REVIEWER, roles.APPROVER,
                                  roles.SYSTEM_ADMIN])
def test_only_payout_officers_check_a_run(client, role):
    run = scheduled_run(1)
    login_admin(client, make_admin(role))
    assert move(run, "verify") not in text(client.get(change(run)))
    assert client.post(move(run, "verify")).status_code == 403
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.TO_CHECK


def test_an_officers_run_is_not_checked_its_creator_checked_it(client):
    run, _, releaser = created_run(1)
    login_admin(client, releaser)
    assert move(run, "verify") not in text(client.get(change(run)))
    assert client.post(move(run, "verify")).status_code == 403
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.CREATED


# ---------------------------------------------------------------------- the file


def test_the_transfer_file_is_downloaded_as_the_services_write_it(client):
    set_consignor()
    run, _, releaser = released_run(2)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    assert file_url(run) in text(client.get(change(run)))
    response = client.get(file_url(run))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == (
        f'attachment; filename="sogofurikomi-{run.pk}.txt"')
    assert response.content == services.transfer_file(run=run, actor=releaser)
    assert len(response.content) == 122 * (2 + 3)
    run.refresh_from_db()
    assert run.file_sha256


def test_no_file_before_release_or_without_the_consignor(client):
    run, _, releaser = created_run(1)
    login_admin(client, releaser)
    assert file_url(run) not in text(client.get(change(run)))
    response = client.get(file_url(run), follow=True)
    assert response.redirect_chain[-1][0] == change(run) and "承認後" in text(response)
    services.release_run(run=run, actor=releaser)
    response = client.get(file_url(run), follow=True)
    assert "振込依頼人（仕向口座）が設定されていません" in text(response)


@pytest.mark.parametrize("role", [roles.VIEWER, roles.REVIEWER, roles.SYSTEM_ADMIN])
def test_only_payout_officers_may_download_the_file(client, role):
    set_consignor()
    run, _, _ = released_run(1)
    login_admin(client, make_admin(role))
    assert file_url(run) not in text(client.get(change(run)))
    assert client.get(file_url(run)).status_code == 403
    run.refresh_from_db()
    assert not run.file_sha256


# ------------------------------------------------------------------- the bank's results


def test_the_banks_results_are_imported_from_the_run_page(client, monkeypatch):
    run, _, releaser = written_run(monkeypatch, 3)
    first, second, third = run.lines.order_by("pk")
    login_admin(client, releaser)
    assert results_url(run) in text(client.get(change(run)))
    assert client.get(results_url(run)).status_code == 200
    data = results_csv([(first.pk, 0), (second.pk, 3), (third.pk, 0)])
    response = client.post(results_url(run), {"file": upload(data)}, follow=True)
    assert response.redirect_chain[-1][0] == change(run)
    assert "振込済 2件、振込不能 1件" in text(response) and "振込結果取込済み" in text(response)
    run.refresh_from_db()
    assert run.state == PayoutRun.State.SETTLED
    second.refresh_from_db()
    assert (second.state, second.failure_reason) == ("failed", "name_mismatch")


def test_shift_jis_results_are_read_too(client, monkeypatch):
    run, _, releaser = written_run(monkeypatch, 1)
    line = run.lines.get()
    login_admin(client, releaser)
    data = f"顧客コード1,結果コード\r\n{line.pk},0\r\n".encode("cp932")
    client.post(results_url(run), {"file": upload(data)})
    line.refresh_from_db()
    assert line.state == PaymentLine.State.PAID


@pytest.mark.parametrize("data, shown", [
    (b"", "ファイルが空です"),
    ("番号,結果\r\n1,0\r\n".encode(), "1行目は見出し"),
    ("顧客コード1,結果コード\r\nabc,0\r\n9,7\r\n".encode(), "2行目"),
    ("顧客コード1,結果コード\r\nabc,0\r\n9,7\r\n".encode(), "3行目"),
    ("顧客コード1,結果コード\r\n99999999,0\r\n".encode(), "この支払バッチの明細ではありません"),
    (b"\x82\xa0\xff\xfe\x00", "見出し"),
])
def test_a_bad_results_file_shows_its_errors_and_changes_nothing(client, monkeypatch, data,
                                                                  shown):
    run, _, releaser = written_run(monkeypatch, 2)
    login_admin(client, releaser)
    response = client.post(results_url(run), {"file": upload(data)})
    assert response.status_code == 200
    page = text(response)
    assert shown in page and "何も変更していません" in page
    run.refresh_from_db()
    assert run.state == PayoutRun.State.RELEASED
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.RELEASED}


def test_one_bad_row_among_good_ones_changes_nothing(client, monkeypatch):
    run, _, releaser = written_run(monkeypatch, 2)
    first, second = run.lines.order_by("pk")
    login_admin(client, releaser)
    data = results_csv([(first.pk, 0), (second.pk, 5)])
    response = client.post(results_url(run), {"file": upload(data)})
    assert "3行目: 結果コード「5」" in text(response)
    assert set(run.lines.values_list("state", flat=True)) == {PaymentLine.State.RELEASED}


def test_a_result_contradicting_one_already_imported_is_refused(client, monkeypatch):
    run, _, releaser = written_run(monkeypatch, 1)
    line = run.lines.get()
    login_admin(client, releaser)
    client.post(results_url(run), {"file": upload(results_csv([(line.pk, 0)]))})
    response = client.post(results_url(run), {"file": upload(results_csv([(line.pk, 2)]))})
    assert "既に「振込済」" in text(response)
    line.refresh_from_db()
    assert line.state == PaymentLine.State.PAID


def test_no_file_is_the_forms_own_error(client, monkeypatch):
    run, _, releaser = written_run(monkeypatch, 1)
    login_admin(client, releaser)
    response = client.post(results_url(run), {})
    assert response.status_code == 200 and response.context["form"].errors["file"]


def test_results_before_release_are_refused_with_a_message(client):
    run, _, releaser = created_run(1)
    login_admin(client, releaser)
    assert results_url(run) not in text(client.get(change(run)))
    response = client.get(results_url(run), follow=True)
    assert response.redirect_chain[-1][0] == change(run) and "承認後に取り込めます" in text(
        response)


def test_results_before_the_file_or_the_transfer_date_are_refused_with_why(client, monkeypatch):
    """Results are refused before the file is written and before the transfer date
    (docs/decisions.md D5.4.3). The page says why above its form; a file sent is refused next to the
    field and changes nothing."""
    from portal.wareki import to_wareki

    run, _, releaser = released_run(1)
    line = run.lines.get()
    login_admin(client, releaser)
    data = results_csv([(line.pk, 0)])
    not_written = "振込データがまだ作成されていません"
    too_early = f"振込指定日（{to_wareki(run.transfer_date)}）より前には結果を取り込めません。"
    today_is(monkeypatch, run.transfer_date)
    assert not_written in text(client.get(results_url(run)))
    response = client.post(results_url(run), {"file": upload(data)})
    assert response.status_code == 200
    assert not_written in " ".join(response.context["form"].errors["file"])
    line.refresh_from_db()
    assert line.state == PaymentLine.State.RELEASED

    write_file(run, releaser)
    today_is(monkeypatch, run.transfer_date - timedelta(days=1))
    assert too_early in text(client.get(results_url(run)))
    response = client.post(results_url(run), {"file": upload(data)})
    assert too_early in " ".join(response.context["form"].errors["file"])
    line.refresh_from_db()
    assert line.state == PaymentLine.State.RELEASED

    today_is(monkeypatch, run.transfer_date)
    page = text(client.get(results_url(run)))
    assert too_early not in page and not_written not in page
    client.post(results_url(run), {"file": upload(data)})
    line.refresh_from_db()
    assert line.state == PaymentLine.State.PAID


@pytest.mark.parametrize("role", [roles.VIEWER, roles.APPROVER, roles.SYSTEM_ADMIN])
def test_only_payout_officers_may_import_results(client, role):
    run, _, _ = released_run(1)
    line = run.lines.get()
    login_admin(client, make_admin(role))
    assert client.get(results_url(run)).status_code == 403
    response = client.post(results_url(run), {"file": upload(results_csv([(line.pk, 0)]))})
    assert response.status_code == 403
    line.refresh_from_db()
    assert line.state == PaymentLine.State.RELEASED


# ----------------------------------------------------------------------- payment lines


def test_payment_lines_show_the_full_account_number_to_payout_officers_only(client):
    run, _, _ = created_run(1)
    line = run.lines.get()
    detail = reverse("admin:payouts_paymentline_change", args=[line.pk])
    login_admin(client, make_admin(roles.VIEWER))
    for url in (LINES, detail):
        page = text(client.get(url))
        assert line.account_number not in page and line.masked_number in page
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    for url in (LINES, detail):
        assert line.account_number in text(client.get(url))


def test_payment_lines_are_searched_by_facility_and_filtered(client):
    run, _, _ = created_run(2)
    first, second = run.lines.select_related("facility").order_by("pk")
    login_admin(client, make_admin(roles.VIEWER))
    page = text(client.get(LINES, {"q": first.facility.code}))
    assert first.facility.name in page and second.facility.name not in page
    page = text(client.get(LINES, {"q": second.facility.name}))
    assert second.facility.name in page and first.facility.name not in page
    for filters in ({"run__id__exact": run.pk}, {"state__exact": "scheduled"},
                    {"failure_reason__exact": "closed"}, {"program__id__exact": lump_sum().pk}):
        assert client.get(LINES, filters).status_code == 200
    assert first.facility.name not in text(client.get(LINES, {"state__exact": "paid"}))
    detail = text(client.get(reverse("admin:payouts_paymentline_change", args=[first.pk])))
    assert services.describe_line(first) in detail  # where the payment comes from
    assert "の支給判定" in detail


def test_payment_lines_are_read_only(admin_client):
    run, _, _ = created_run(1)
    line = run.lines.get()
    assert admin_client.get(reverse("admin:payouts_paymentline_add")).status_code == 403
    admin_client.post(reverse("admin:payouts_paymentline_change", args=[line.pk]),
                      {"amount": "1", "state": "paid"})
    assert admin_client.post(reverse("admin:payouts_paymentline_delete", args=[line.pk]),
                             {"post": "yes"}).status_code == 403
    line.refresh_from_db()
    assert (line.amount, line.state) == (200_000, PaymentLine.State.SCHEDULED)


# --------------------------------------------------------------------------- consignor

CONSIGNOR_ADD = reverse("admin:payouts_consignor_add")
CONSIGNOR = {"code": "1234567890", "name": "コウセイロウドウショウ", "bank_code": "０００１",
             "bank_name": "みずほ", "branch_code": "001", "branch_name": "ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ",
             "account_type": "1", "account_number": "7654321", "recovery_due_days": "30",
             "recovery_contact": "支払担当窓口 03-0000-0000"}


def test_the_consignor_is_added_once_with_its_kana_normalised(client):
    admin_user = make_admin(roles.SYSTEM_ADMIN)
    login_admin(client, admin_user)
    response = client.post(CONSIGNOR_ADD, {**CONSIGNOR, "bank_code": "0001"})
    assert response.status_code == 302, response.context["adminform"].form.errors
    consignor = Consignor.objects.get()
    assert (consignor.pk, consignor.name, consignor.bank_name, consignor.updated_by) == (
        1, "ｺｳｾｲﾛｳﾄﾞｳｼﾖｳ", "ﾐｽﾞﾎ", admin_user)
    assert client.get(CONSIGNOR_ADD).status_code == 403  # one row: changed, never added
    assert client.post(CONSIGNOR_ADD, CONSIGNOR).status_code == 403
    assert Consignor.objects.count() == 1
    delete = reverse("admin:payouts_consignor_delete", args=[1])
    assert client.post(delete, {"post": "yes"}).status_code == 403
    changed = client.post(reverse("admin:payouts_consignor_change", args=[1]),
                          {**CONSIGNOR, "bank_code": "0005", "name": "ｺｳｾｲ"})
    assert changed.status_code == 302
    assert Consignor.objects.get().bank_code == "0005"


@pytest.mark.parametrize("field, value, message", [
    ("code", "12345", "数字10桁"),
    ("bank_code", "０００１", "数字4桁"),
    ("branch_code", "1a3", "数字3桁"),
    ("account_number", "123456", "数字7桁"),
    ("name", "厚生労働省", "書けない文字があります: 「厚」「生」「労」「働」「省」"),
    ("name", "ｺｳｾｲ＆ﾛｳﾄﾞｳ", "「&」"),
    ("bank_name", "ﾐｽﾞﾎｷﾞﾝｺｳﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ", "15"),
    ("branch_name", "トウキョウエイギョウブダイイチ", "半角で15文字以内"),
])
def test_a_consignor_with_a_bad_field_is_refused_next_to_it(client, field, value, message):
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    response = client.post(CONSIGNOR_ADD, {**CONSIGNOR, "bank_code": "0001", field: value})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert message in " ".join(errors[field]), errors
    assert not Consignor.objects.exists()


def test_the_consignors_number_is_whole_for_those_who_keep_it_or_pay_from_it(client):
    # Masked for anyone else (tests/portal/test_masked_fields.py).
    set_consignor()
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    page = text(client.get(reverse("admin:payouts_consignor_changelist")))
    assert "7654321" in page
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    page = text(client.get(reverse("admin:payouts_consignor_changelist")))
    assert "7654321" in page
    detail = text(client.get(reverse("admin:payouts_consignor_change", args=[1])))
    assert 'name="_save"' not in detail  # payout officers read it; system admins keep it


@pytest.mark.parametrize("role", [roles.VIEWER, roles.REVIEWER, roles.APPROVER])
def test_other_administrators_do_not_see_the_consignor(client, role):
    set_consignor()
    login_admin(client, make_admin(role))
    assert client.get(reverse("admin:payouts_consignor_changelist")).status_code == 403
    assert client.get(reverse("admin:payouts_consignor_change", args=[1])).status_code == 403


def test_the_menu_places_the_payout_pages_in_their_own_section(client):
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    page = text(client.get(reverse("admin:index")))
    section = page.index(">支払<")
    assert page.index(">協力金・一時金<") < section < page.index(">制度・マスタ・取り込み<")
    for label in ("支払バッチ", "支払明細", "振込先口座", "振込依頼人（仕向口座）"):
        assert section < page.index(label, section) < page.index(">制度・マスタ・取り込み<")
    assert ">その他<" not in page


def test_the_schedule_is_installed_for_beat():
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["create-payout-runs"]
    assert entry["task"] == "payouts.tasks.create_scheduled_runs"
    from payouts import tasks

    assert callable(getattr(tasks, entry["task"].rsplit(".", 1)[1]))


def test_a_date_typed_beyond_the_calendar_is_the_forms_error(client):
    set_consignor()  # the create page asks for it first
    payables(1)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    for typed in ("9999-12-31", (date.today() + timedelta(days=365 * 90)).isoformat()):
        response = client.post(CREATE, {"program": lump_sum().pk, "transfer_date": typed})
        assert response.status_code == 200 and response.context["form"].errors
    assert not PayoutRun.objects.exists()


@pytest.mark.parametrize("data", [b"\r\x01", "顧客コード1,結果コード\r\n1,0\r\x01\r".encode(),
                                  b'"' + b"x" * 200_000 + b'"'])
def test_a_file_that_is_no_csv_at_all_is_refused_not_failed(client, data, monkeypatch):
    """Found by the fuzzing: a lone CR or an overlong field stopped the services' CSV reader
    with an exception (a 500); now one of the file's errors."""
    run, _, releaser = written_run(monkeypatch, 1)
    login_admin(client, releaser)
    response = client.post(results_url(run), {"file": upload(data)})
    assert response.status_code == 200 and "CSVとして読めません" in text(response)
    assert run.lines.get().state == PaymentLine.State.RELEASED


# ------------------------------------------------- the desk: consignor first, lines, what is left


def test_no_run_is_created_before_the_consignor_is_set(client):
    payables(2)
    officer = make_admin(roles.PAYOUT_OFFICER)
    login_admin(client, officer)
    page = text(client.get(CREATE))
    assert "振込依頼人（仕向口座）が設定されていないため、支払バッチを作成できません" in page
    # A payout officer may look at the setting (システム管理 sets it).
    consignors = reverse("admin:payouts_consignor_changelist")
    assert f'href="{consignors}"' in page and "システム管理の担当者" in page
    assert 'name="transfer_date"' not in page
    assert client.get(consignors).status_code == 200
    response = client.post(CREATE, {"program": lump_sum().pk,
                                    "transfer_date": transfer_day().isoformat()})
    assert response.status_code == 409 and not PayoutRun.objects.exists()
    set_consignor()
    assert 'name="transfer_date"' in text(client.get(CREATE))


def test_a_system_administrator_is_sent_to_set_the_consignor(client):
    login_admin(client, make_admin(roles.SYSTEM_ADMIN, roles.PAYOUT_OFFICER))
    page = text(client.get(CREATE))
    assert f'href="{reverse("admin:payouts_consignor_add")}">振込依頼人を設定する' in page


def test_a_released_run_says_what_the_officer_can_still_do(client):
    set_consignor()
    run, _creator, releaser = released_run()
    login_admin(client, releaser)
    page = text(client.get(change(run)))
    assert "あなたが行える操作はありません" not in page
    assert "「振込データをダウンロード」と「振込結果を取り込む」です" in page
    assert f'href="{file_url(run)}"' in page


def test_the_release_confirmation_lists_the_lines_it_pays_masked_and_paged(client, monkeypatch):
    from payouts import admin as payout_admin

    set_consignor()
    run, _creator, releaser = created_run(count=3)
    lines = list(run.lines.order_by("pk"))
    monkeypatch.setattr(payout_admin, "LINES_PER_PAGE", 2)
    login_admin(client, releaser)
    first = text(client.get(move(run, "release")))
    assert "支払明細（3件、1 / 2ページ）" in first and "都道府県別" in first
    assert lines[0].facility.name in first and lines[2].facility.name not in first
    assert "****" + lines[0].account_number[-3:] in first
    assert lines[0].account_number not in first.replace("****" + lines[0].account_number[-3:], "")
    second = text(client.get(move(run, "release") + "?page=2"))
    assert lines[2].facility.name in second and "200,000円" in second
