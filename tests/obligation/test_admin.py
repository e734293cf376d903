"""The obligation's admin pages through the test client, as administrators of each role:
declarations accepted and returned, survey answers entered and matched, sessions scheduled
and cancelled, the counts by prefecture, the letter and follow-up actions, the letter batch's
progress and download, and what a staff account in no group is refused."""

import csv
import io
import uuid
import zipfile
from datetime import date, time, timedelta

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from facilities.models import Activity
from obligation import services
from obligation.models import (
    ComplianceState,
    ComplianceStatus,
    DeclarationState,
    ExemptionDeclaration,
    LetterBatch,
    LetterBatchState,
    SessionRequest,
    SessionState,
    SurveyAnswer,
)
from obligation.rules import Practitioner
from portal import roles
from tests import samples
from tests.factories import FacilityFactory, login_admin, make_admin, make_staff

pytestmark = pytest.mark.django_db


def _declared(kind: str = "judo"):
    facility = FacilityFactory(kind=kind)
    staff = make_staff(facility)
    declaration = services.declare_exemption(
        user=staff, facility=facility, token=uuid.uuid4(),
        data=services.DeclarationInput(reason="1-1", contact_name="担当 花子", practitioners=(
            Practitioner(birth_date=date(1950, 5, 1), full_time=True, name="柔整 一郎"),)))
    mail.outbox.clear()
    return facility, staff, declaration


def _session() -> SessionRequest:
    return services.request_session(token=uuid.uuid4(), data={
        "organisation": "柔道整復師会", "address": "東京都千代田区1-1",
        "contact_furigana": "たんとう はなこ", "contact_name": "担当 花子",
        "phone": "03-1111-2222", "email": "kai@example.jp",
        "preferred_date": timezone.localdate() + timedelta(days=30),
        "preferred_start": time(14, 0), "preferred_end": time(15, 0), "attendees": 20,
        "occupation": "柔道整復師"})


def _as(client, *role_names):
    return login_admin(client, make_admin(*role_names))


def _move_url(declaration, name):
    return reverse("admin:obligation_exemptiondeclaration_move", args=[declaration.pk, name])


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# ---------------------------------------------------------------- declarations


def test_a_reviewer_accepts_a_declaration_from_its_page(client, django_capture_on_commit_callbacks):
    facility, staff, declaration = _declared()
    _as(client, roles.REVIEWER)
    change = client.get(reverse("admin:obligation_exemptiondeclaration_change",
                                args=[declaration.pk])).content.decode()
    assert _move_url(declaration, "accept") in change and "柔整 一郎" in change
    assert _move_url(declaration, "withdraw") not in change  # the facility's move
    assert client.get(_move_url(declaration, "accept")).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_move_url(declaration, "accept"))
    assert response.status_code == 302
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.ACCEPTED and declaration.decided_at
    assert [m.to for m in mail.outbox] == [[staff.email]]
    assert "受理" in mail.outbox[0].body
    assert Activity.objects.filter(facility=facility, verb="exemption_accepted").exists()
    assert declaration.history.count() >= 2


def test_returning_a_declaration_needs_a_reason(client, django_capture_on_commit_callbacks):
    _facility, staff, declaration = _declared()
    _as(client, roles.REVIEWER)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_move_url(declaration, "send_back"), {"reason": "  "})
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.DECLARED and not mail.outbox
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_move_url(declaration, "send_back"),
                               {"reason": "生年月日の確認書類をお送りください。"})
    assert response.status_code == 302
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.RETURNED
    assert declaration.return_reason == "生年月日の確認書類をお送りください。"
    assert [m.to for m in mail.outbox] == [[staff.email]]
    assert "生年月日の確認書類" in mail.outbox[0].body


@pytest.mark.parametrize("role", [roles.VIEWER, roles.APPROVER, roles.PAYOUT_OFFICER,
                                  roles.SYSTEM_ADMIN])
def test_other_roles_see_a_declaration_but_cannot_decide_it(client, role):
    _facility, _staff, declaration = _declared()
    _as(client, role)
    change = client.get(reverse("admin:obligation_exemptiondeclaration_change",
                                args=[declaration.pk]))
    assert change.status_code == 200 and _move_url(declaration, "accept") not in (
        change.content.decode())
    assert client.post(_move_url(declaration, "accept")).status_code == 403
    assert client.post(_move_url(declaration, "send_back"),
                       {"reason": "理由"}).status_code == 403
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.DECLARED


def test_a_second_reviewer_is_told_the_declaration_was_decided_meanwhile(client):
    _facility, _staff, declaration = _declared()
    first, second = make_admin(roles.REVIEWER), make_admin(roles.REVIEWER)
    from django.test import Client

    other = login_admin(Client(), second)
    login_admin(client, first)
    # Both opened the confirmation page; the first confirms, then the second.
    assert client.get(_move_url(declaration, "accept")).status_code == 200
    assert other.get(_move_url(declaration, "accept")).status_code == 200
    assert client.post(_move_url(declaration, "accept")).status_code == 302
    response = other.post(_move_url(declaration, "send_back"), {"reason": "理由"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:obligation_exemptiondeclaration_change",
                                           args=[declaration.pk])
    assert any("「受理」のため" in m and "他の方が先に" in m for m in _messages(response))
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.ACCEPTED
    assert declaration.decided_by == first and declaration.return_reason == ""


def test_the_declarations_list_filters_searches_and_exports(client):
    facility, _staff, declaration = _declared()
    _declared()
    _as(client, roles.VIEWER)
    listing = client.get(reverse("admin:obligation_exemptiondeclaration_changelist"),
                         {"q": facility.code, "state__exact": "declared"})
    assert listing.status_code == 200 and declaration.receipt_number in listing.content.decode()
    assert listing.context["cl"].result_count == 1
    response = client.get(reverse("admin:obligation_exemptiondeclaration_csv"),
                          {"q": facility.code})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "受付番号" and len(rows) == 2 and rows[1][0] == declaration.receipt_number


# ---------------------------------------------------------------- survey answers


def _answer(**overrides) -> dict:
    return {"registration_code": "", "name": "鍼灸院", "address": "東京都千代田区1-1",
            "email": "in@example.jp", "reason": "2", "channel": "post",
            "received_on": "2025-02-03", "facility": "", "note": "", **overrides}


def test_a_survey_answer_is_matched_by_its_code_and_makes_the_facility_exempt(
        client, django_capture_on_commit_callbacks):
    from obligation.compliance import compute_statuses

    facility = FacilityFactory(kind="acupuncture")
    _as(client, roles.REVIEWER)
    wide = facility.code.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:obligation_surveyanswer_add"),
                               _answer(registration_code=wide, received_on="令和7年2月3日",
                                       reason="1"))
    assert response.status_code == 302, response.content.decode()[:2000]
    answer = SurveyAnswer.objects.get()
    assert answer.registration_code == facility.code and answer.facility == facility
    assert answer.entered_by is not None and answer.received_on == date(2025, 2, 3)
    assert any("照合しました" in m for m in _messages(response))
    page = client.get(reverse("admin:obligation_surveyanswer_change", args=[answer.pk]))
    assert f"照合済み: {facility.name}" in page.content.decode()
    compute_statuses()
    assert ComplianceStatus.objects.get(facility=facility).state == ComplianceState.EXEMPT


def test_a_survey_answer_with_no_matching_facility_is_kept_unmatched(client):
    _as(client, roles.REVIEWER)
    response = client.post(reverse("admin:obligation_surveyanswer_add"),
                           _answer(registration_code="契9999999"))
    assert response.status_code == 302
    assert SurveyAnswer.objects.get().facility is None
    assert any("見つかりませんでした" in m for m in _messages(response))
    listing = client.get(reverse("admin:obligation_surveyanswer_changelist"), {"matched": "no"})
    assert listing.context["cl"].result_count == 1


@pytest.mark.parametrize(("field", "value", "error"), [
    ("name", "長" * 201, "施術所名は200文字以内"),
    ("email", "not-an-address", "メールアドレスの形が正しくありません"),
    ("received_on", "2099-01-01", "までの日付を入力してください"),
    ("received_on", "2025-01-23", "までの日付を入力してください"),
    ("registration_code", "1234567", "「契」または「協」で始まり"),
    ("note", "メ" * 2001, "メモは2000文字以内"),
])
def test_a_wrong_survey_answer_is_refused_with_a_clear_error(client, field, value, error):
    FacilityFactory(kind="judo", code="契1300001")
    _as(client, roles.REVIEWER)
    response = client.post(reverse("admin:obligation_surveyanswer_add"),
                           _answer(**{"registration_code": "契1300001", field: value}))
    assert response.status_code == 200 and error in response.content.decode()
    assert not SurveyAnswer.objects.exists()


def test_only_a_reviewer_enters_survey_answers(client):
    _as(client, roles.VIEWER)
    assert client.get(reverse("admin:obligation_surveyanswer_add")).status_code == 403
    response = client.post(reverse("admin:obligation_surveyanswer_add"),
                           _answer(registration_code="契9999999"))
    assert response.status_code == 403 and not SurveyAnswer.objects.exists()


# ---------------------------------------------------------------- explanation sessions


def test_scheduling_a_session_emails_the_applicant_with_the_date(
        client, django_capture_on_commit_callbacks):
    session = _session()
    mail.outbox.clear()
    _as(client, roles.REVIEWER)
    url = reverse("admin:obligation_sessionrequest_schedule", args=[session.pk])
    change = client.get(reverse("admin:obligation_sessionrequest_change", args=[session.pk]))
    assert url in change.content.decode()
    assert client.get(url).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"date": "2030-02-05", "start": "１４：００", "end": "15:30",
                                     "meeting_info": "https://meet.example.jp/abc"})
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.state == SessionState.SCHEDULED
    assert timezone.localtime(session.scheduled_start).strftime("%Y-%m-%d %H:%M") == \
        "2030-02-05 14:00"
    assert [m.to for m in mail.outbox] == [["kai@example.jp"]]
    assert "令和12年2月5日 14:00" in mail.outbox[0].body
    assert "https://meet.example.jp/abc" in mail.outbox[0].body


def test_a_session_whose_end_is_before_its_start_is_not_scheduled(client):
    session = _session()
    _as(client, roles.REVIEWER)
    response = client.post(reverse("admin:obligation_sessionrequest_schedule",
                                   args=[session.pk]),
                           {"date": "2030-02-05", "start": "15:00", "end": "14:00"})
    assert response.status_code == 200
    assert "終了時刻は開始時刻より後にしてください" in response.content.decode()
    session.refresh_from_db()
    assert session.state == SessionState.REQUESTED


def test_cancelling_a_session_needs_a_reason(client, django_capture_on_commit_callbacks):
    session = _session()
    mail.outbox.clear()
    _as(client, roles.REVIEWER)
    url = reverse("admin:obligation_sessionrequest_move", args=[session.pk, "cancel"])
    assert client.post(url, {"reason": ""}).status_code == 200
    session.refresh_from_db()
    assert session.state == SessionState.REQUESTED
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(url, {"reason": "講師の都合"}).status_code == 302
    session.refresh_from_db()
    assert session.state == SessionState.CANCELLED and session.cancel_reason == "講師の都合"
    assert [m.to for m in mail.outbox] == [["kai@example.jp"]]


def test_a_viewer_cannot_schedule_a_session(client):
    session = _session()
    _as(client, roles.VIEWER)
    url = reverse("admin:obligation_sessionrequest_schedule", args=[session.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"date": "2030-02-05", "start": "14:00",
                             "end": "15:00"}).status_code == 403
    session.refresh_from_db()
    assert session.state == SessionState.REQUESTED


# ---------------------------------------------------------------- compliance


def _statuses():
    from obligation.compliance import compute_statuses

    for prefecture, kind in [("13", "judo"), ("13", "judo"), ("13", "ama"), ("01", "judo"),
                             ("47", "acupuncture")]:
        FacilityFactory(kind=kind, prefecture=prefecture)
    FacilityFactory(kind="clinic", prefecture="13")  # not a 施術所
    _declared()
    compute_statuses()


def test_the_counts_page_equals_a_direct_count_and_its_csv_has_every_prefecture(client):
    _statuses()
    _as(client, roles.VIEWER)
    response = client.get(reverse("admin:obligation_compliancestatus_counts"))
    assert response.status_code == 200
    table = response.context["table"]
    states = [state.value for state in table["states"]]
    assert len(table["rows"]) == 47
    for row in table["rows"]:
        for state, count in zip(states, row["cells"], strict=True):
            assert count == ComplianceStatus.objects.filter(prefecture=row["code"],
                                                            state=state).count()
    assert table["total"] == ComplianceStatus.objects.count() > 0
    tokyo = next(row for row in table["rows"] if row["code"] == "13")
    assert tokyo["total"] == ComplianceStatus.objects.filter(prefecture="13").count()
    response = client.get(reverse("admin:obligation_compliancestatus_counts_csv"))
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + 47 + 1
    assert rows[0][:2] == ["都道府県コード", "都道府県"] and rows[0][-1] == "合計"
    assert rows[-1][1] == "合計" and int(rows[-1][-1]) == ComplianceStatus.objects.count()
    assert rows[13][1] == "東京都" and int(rows[13][-1]) == tokyo["total"]


def test_the_compliance_list_filters_and_exports(client):
    _statuses()
    _as(client, roles.VIEWER)
    listing = client.get(reverse("admin:obligation_compliancestatus_changelist"),
                         {"prefecture__exact": "13"})
    assert listing.status_code == 200
    expected = ComplianceStatus.objects.filter(prefecture="13").count()
    assert listing.context["cl"].result_count == expected
    assert 'value="request_letters"' not in listing.content.decode()  # a viewer's list
    response = client.get(reverse("admin:obligation_compliancestatus_csv"),
                          {"prefecture__exact": "13"})
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert len(rows) == 1 + expected and {row[3] for row in rows[1:]} == {"東京都"}


def _changelist(**query) -> str:
    url = reverse("admin:obligation_compliancestatus_changelist")
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def test_the_request_letter_action_starts_a_batch_over_all_filtered_rows(
        client, django_capture_on_commit_callbacks):
    _statuses()
    _as(client, roles.REVIEWER)
    tokyo = list(ComplianceStatus.objects.filter(
        prefecture="13", state=ComplianceState.NOT_INTRODUCED).values_list("pk", flat=True))
    assert len(tokyo) >= 3
    url = _changelist(prefecture__exact="13")
    post = {"action": "request_letters", "_selected_action": [tokyo[0]], "select_across": "1",
            "index": "0"}
    page = client.post(url, post)
    assert page.status_code == 200 and "依頼文書を作成" in page.content.decode()
    assert page.context["count"] == ComplianceStatus.objects.filter(prefecture="13").count()
    assert not LetterBatch.objects.exists()  # nothing before the confirmation
    confirm = {"action": "request_letters", "_selected_action": [tokyo[0]],
               "select_across": "1", "confirm": "1"}
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, confirm)
    batch = LetterBatch.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:obligation_letterbatch_change",
                                           args=[batch.pk])
    assert sorted(batch.facility_ids) == sorted(tokyo)
    assert batch.kind == LetterBatch.Kind.REQUEST
    assert "東京都" in batch.filter_description
    progress = client.get(response["Location"])
    assert progress.status_code == 200
    assert "<progress" in progress.content.decode()


def test_the_guidance_action_needs_a_date_and_a_place(client, django_capture_on_commit_callbacks):
    _statuses()
    _as(client, roles.REVIEWER)
    chosen = list(ComplianceStatus.objects.values_list("pk", flat=True)[:2])
    post = {"action": "guidance_letters", "_selected_action": chosen, "select_across": "0",
            "confirm": "1"}
    response = client.post(_changelist(), {**post, "guidance_date": "", "guidance_place": ""})
    assert response.status_code == 200
    assert "開催日を入力してください" in response.content.decode()
    assert not LetterBatch.objects.exists()
    day = timezone.localdate() + timedelta(days=20)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(_changelist(), {**post, "guidance_date": day.isoformat(),
                                               "guidance_place": "厚生局 会議室"})
    assert response.status_code == 302
    batch = LetterBatch.objects.get()
    assert sorted(batch.facility_ids) == sorted(chosen)
    assert (batch.kind, batch.guidance_date, batch.guidance_place) == (
        LetterBatch.Kind.GUIDANCE, day, "厚生局 会議室")


def test_recording_a_follow_up_step_reports_what_was_recorded_and_skipped(client):
    _statuses()
    _as(client, roles.REVIEWER)
    chosen = list(ComplianceStatus.objects.values_list("pk", flat=True))
    response = client.post(_changelist(), {"action": "record_absent",
                                           "_selected_action": chosen, "index": "0"})
    assert response.status_code == 302
    texts = _messages(response)
    assert any("「集団指導に欠席」を0件記録しました" in m for m in texts), texts
    # Nobody was invited yet: every one skipped, grouped by the reason.
    assert any(f"記録しなかった施術所が{len(chosen)}件あります" in m
               and f"集団指導の案内を送っていません: {len(chosen)}件" in m for m in texts), texts


def test_recomputing_the_statuses_from_the_list(client):
    facility = FacilityFactory(kind="judo")
    _as(client, roles.REVIEWER)
    listing = client.get(_changelist()).content.decode()
    url = reverse("admin:obligation_compliancestatus_recompute")
    assert url in listing
    assert client.get(url).status_code == 200
    assert not ComplianceStatus.objects.filter(facility=facility).exists()
    response = client.post(url)
    assert response.status_code == 302
    assert ComplianceStatus.objects.get(facility=facility).state == (
        ComplianceState.NOT_INTRODUCED)


@pytest.mark.parametrize("role", [roles.VIEWER, roles.APPROVER, roles.SYSTEM_ADMIN])
def test_the_follow_up_actions_are_offered_to_follow_up_holders_only(client, role):
    _statuses()
    _as(client, role)
    page = client.get(_changelist()).content.decode()
    for action in ("request_letters", "guidance_letters", "record_attended", "record_absent",
                   "mark_suspension_candidate"):
        assert f'value="{action}"' not in page
    assert reverse("admin:obligation_compliancestatus_recompute") not in page
    chosen = list(ComplianceStatus.objects.values_list("pk", flat=True))
    client.post(_changelist(), {"action": "request_letters", "_selected_action": chosen,
                                "select_across": "0", "confirm": "1"})
    assert not LetterBatch.objects.exists()


# ---------------------------------------------------------------- letter batches


def _finished_batch(creator) -> LetterBatch:
    from obligation.letters import batch_path, print_path

    facility = FacilityFactory(kind="judo")
    batch = LetterBatch.objects.create(
        kind=LetterBatch.Kind.REQUEST, state=LetterBatchState.DONE, facility_ids=[facility.pk],
        total=1, done=1, stored_name=f"{uuid.uuid4().hex}.zip", created_by=creator,
        print_name=f"{uuid.uuid4().hex}.pdf",
        page_ranges=[[facility.code, facility.name, 1, 2]], finished_at=timezone.now())
    path = batch_path(batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("letter.pdf", samples.PDF)
    print_path(batch).write_bytes(samples.PDF)
    return batch


def test_a_finished_batch_downloads_as_a_zip(client):
    _as(client, roles.VIEWER)
    batch = _finished_batch(make_admin(roles.REVIEWER))
    page = client.get(reverse("admin:obligation_letterbatch_change", args=[batch.pk]))
    download = reverse("admin:obligation_letterbatch_download", args=[batch.pk])
    assert download in page.content.decode()
    assert "data-auto-refresh" not in page.content.decode()
    response = client.get(download)
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert "attachment" in response["Content-Disposition"]
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["letter.pdf"]


def test_a_finished_batch_also_downloads_as_one_pdf_with_each_facilitys_pages_listed(client):
    _as(client, roles.VIEWER)
    batch = _finished_batch(make_admin(roles.REVIEWER))
    code, name, *_ = batch.page_ranges[0]
    text = client.get(reverse("admin:obligation_letterbatch_change", args=[batch.pk])
                      ).content.decode()
    printed = reverse("admin:obligation_letterbatch_print_download", args=[batch.pk])
    assert printed in text and "印刷用PDF（全件を1ファイル）" in text
    assert f"<td>{code}</td><td>{name}</td><td>1〜2ページ</td>" in text
    response = client.get(printed)
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    assert "attachment" in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == samples.PDF
    # A batch made before the PDF to print existed has none: no link, and 404.
    LetterBatch.objects.filter(pk=batch.pk).update(print_name="", page_ranges=[])
    text = client.get(reverse("admin:obligation_letterbatch_change", args=[batch.pk])
                      ).content.decode()
    assert printed not in text and client.get(printed).status_code == 404


def test_a_running_batch_refreshes_its_page_and_has_no_download(client):
    _as(client, roles.VIEWER)
    batch = LetterBatch.objects.create(kind=LetterBatch.Kind.GUIDANCE,
                                       state=LetterBatchState.RUNNING, facility_ids=[1, 2],
                                       total=4, done=1, created_by=make_admin(roles.REVIEWER))
    page = client.get(reverse("admin:obligation_letterbatch_change", args=[batch.pk]))
    text = page.content.decode()
    # Reloaded by a script with a button to stop it (no <meta refresh>: WCAG 2.2.1).
    assert 'data-auto-refresh="3"' in text and "js/auto-refresh.js" in text
    assert 'http-equiv="refresh"' not in text
    assert '<progress value="25" max="100">' in text and "1 / 4件" in text
    download = reverse("admin:obligation_letterbatch_download", args=[batch.pk])
    assert download not in text
    assert client.get(download).status_code == 404


# ---------------------------------------------------------------- staff in no group


def test_a_staff_account_in_no_group_is_refused_every_obligation_page(client):
    _facility, _staff, declaration = _declared()
    session = _session()
    batch = _finished_batch(make_admin(roles.REVIEWER))
    _as(client)
    for url in [
        reverse("admin:obligation_exemptiondeclaration_changelist"),
        reverse("admin:obligation_exemptiondeclaration_csv"),
        _move_url(declaration, "accept"),
        reverse("admin:obligation_sessionrequest_schedule", args=[session.pk]),
        reverse("admin:obligation_sessionrequest_move", args=[session.pk, "cancel"]),
        reverse("admin:obligation_compliancestatus_changelist"),
        reverse("admin:obligation_compliancestatus_counts"),
        reverse("admin:obligation_compliancestatus_counts_csv"),
        reverse("admin:obligation_compliancestatus_csv"),
        reverse("admin:obligation_compliancestatus_recompute"),
        reverse("admin:obligation_letterbatch_download", args=[batch.pk]),
        reverse("admin:obligation_letterbatch_print_download", args=[batch.pk]),
        reverse("admin:obligation_surveyanswer_add"),
    ]:
        assert client.get(url).status_code == 403, url
    assert client.post(_move_url(declaration, "accept")).status_code == 403
    assert client.post(reverse("admin:obligation_compliancestatus_recompute")).status_code == 403
    declaration.refresh_from_db()
    assert declaration.state == DeclarationState.DECLARED
    assert ExemptionDeclaration.objects.count() == 1
