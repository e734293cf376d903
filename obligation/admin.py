"""The administrators' side of the obligation (docs/domain.md §7): declarations accepted or returned
from their own page, 併設 pairings dissolved, survey answers received by post or e-mail
entered, explanation sessions scheduled, each 施術所's compliance (with the counts by
prefecture and the follow-up actions that start letters or record steps), the follow-up
steps and the letter batches with their progress and download. Every page and action asks
for the permission of what it does; the work is in obligation/services.py, compliance.py
and letters.py."""

from collections import Counter
from datetime import date, datetime

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from facilities.codes import CodeError, normalize_registration_number
from facilities.prefectures import PREFECTURES
from portal.admin_permissions import EvidenceAdmin, permission_check
from portal.admin_queues import WaitingFilter
from portal.admin_widgets import WellFormedChoices
from portal.admin_workflow import CsvExportAdmin, WorkflowAdmin
from portal.csv_export import csv_response
from portal.db_routers import replica_reads
from portal.errors import IllegalTransition, ServiceError, add_error_to_form
from portal.forms import ISODateField, NormalizedForm
from portal.normalize import nfkc
from portal.workflow import refusal

from . import services
from .models import (
    FOLLOW_UP_PERMISSION,
    SESSION_PERMISSION,
    AnnexPairing,
    ComplianceState,
    ComplianceStatus,
    DeclaredPractitioner,
    ExemptionDeclaration,
    FollowUpKind,
    FollowUpStep,
    LetterBatch,
    LetterBatchState,
    SessionRequest,
    SurveyAnswer,
)

TEXT_LIMIT = 2000
SURVEY_SENT = date(2025, 1, 24)  # the exemption survey was sent on this day (docs/domain.md §9)
SHOWN_SKIPS = 10
SHOWN_PAGE_RANGES = 1000  # a batch's page is not one of 50,000 rows: the PDF's bookmarks are


def skipped_in_words(skipped: list[str]) -> str:
    """The skipped facilities ("name: reason" each) grouped by reason, with a few names."""
    names: dict[str, list[str]] = {}
    for text in skipped:
        name, _, reason = text.rpartition(": ")
        names.setdefault(reason, []).append(name)
    counted = Counter({reason: len(found) for reason, found in names.items()}).most_common()
    parts = []
    for reason, count in counted[:SHOWN_SKIPS]:
        examples = "、".join(name for name in names[reason][:3] if name)
        parts.append(f"{reason}: {count}件" + (f"（{examples}{' など' if count > 3 else ''}）"
                                               if examples else ""))
    if len(counted) > SHOWN_SKIPS:
        parts.append(f"ほか{len(counted) - SHOWN_SKIPS}種類の理由")
    return " / ".join(parts)


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def _holds_move_permission(obj, name: str, user) -> bool:
    """Whether the user holds the move's permission, whatever the object's state (a move
    made meanwhile by someone else is then told as such instead of a bare refusal)."""
    meta = getattr(obj, name)._django_fsm
    return any(found.has_perm(obj, user) for found in meta.transitions.values())


class DecidedMeanwhile:
    """WorkflowAdmin mixin: a move posted after another administrator moved the object
    (two reviewers on the same declaration) answers with the state it is now in and changes
    nothing; a move the user may never make stays a 403."""

    def move_view(self, request, pk: int, name: str):
        if (request.method == "POST" and name in self.move_services
                and self.has_view_permission(request)):
            obj = get_object_or_404(self.get_queryset(request), pk=pk)
            problem = refusal(obj, name, request.user)
            if isinstance(problem, IllegalTransition) and _holds_move_permission(
                    obj, name, request.user):
                self.message_user(request, f"{problem.message}（他の方が先に操作した可能性が"
                                  "あります。現在の状態をご確認ください。）", messages.WARNING)
                return redirect(reverse(f"admin:{self._name('change')}", args=[obj.pk]))
        return super().move_view(request, pk, name)


# ---------------------------------------------------------------- declarations


class DeclaredPractitionerInline(admin.TabularInline):
    model = DeclaredPractitioner
    extra = 0
    can_delete = False
    fields = ["name", "birth_date", "full_time", "visually_impaired"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(ExemptionDeclaration)
class ExemptionDeclarationAdmin(DecidedMeanwhile, WorkflowAdmin, CsvExportAdmin, EvidenceAdmin,
                                SimpleHistoryAdmin):
    """やむを得ない事由の申告: accepted (受理) or returned with a reason (差戻し) from its own
    page; withdrawal is the facility's."""

    list_display = ["receipt_number", "facility", "reason", "state", "submitted_at",
                    "waiting_days", "decided_at"]
    list_filter = [WaitingFilter, "state", "reason"]
    search_fields = ["receipt_number", "facility__code", "facility__name"]
    list_select_related = ["facility"]
    ordering = ["submitted_at"]
    inlines = [DeclaredPractitionerInline]
    move_services = {
        "accept": lambda request, obj, reason: services.accept_declaration(
            declaration=obj, actor=request.user),
        "send_back": lambda request, obj, reason: services.return_declaration(
            declaration=obj, actor=request.user, reason=reason),
    }
    moves_with_reason = frozenset({"send_back"})
    export_filename = "exemption-declarations"
    export_columns = [
        ("受付番号", lambda d: d.receipt_number or ""),
        ("登録記号番号", lambda d: d.facility.code),
        ("施術所名", lambda d: d.facility.name),
        ("都道府県", lambda d: d.facility.prefecture_name),
        ("事由", lambda d: d.get_reason_display()),
        ("予定日", lambda d: d.planned_date.isoformat() if d.planned_date else ""),
        ("状態", lambda d: d.get_state_display()),
        ("申告日時", lambda d: _local(d.submitted_at)),
        ("確認日時", lambda d: _local(d.decided_at)),
        ("差戻しの理由", lambda d: d.return_reason),
    ]
    fields = ["receipt_number", "facility", "state", "reason", "planned_date", "contact_name",
              "phone", "determination", "return_reason", "submitted_by", "submitted_at",
              "decided_by", "decided_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # made by the facility's declaration only

    def has_change_permission(self, request, obj=None):
        return False  # changes only by its moves


# ---------------------------------------------------------------- 併設 pairings


@admin.register(AnnexPairing)
class AnnexPairingAdmin(DecidedMeanwhile, WorkflowAdmin, CsvExportAdmin, EvidenceAdmin,
                        SimpleHistoryAdmin):
    """併設申告, proposed and answered by the facilities; an administrator with the annex
    permission may dissolve an active one (with a reason)."""

    list_display = ["main", "subordinate", "proposed_by_facility", "state", "proposed_at",
                    "answered_at", "ended_at"]
    list_filter = ["state"]
    search_fields = ["main__code", "main__name", "subordinate__code", "subordinate__name"]
    list_select_related = ["main", "subordinate", "proposed_by_facility"]
    move_services = {
        "dissolve": lambda request, obj, reason: services.dissolve_annex(
            pairing=obj, actor=request.user, reason=reason),
    }
    moves_with_reason = frozenset({"dissolve"})
    export_filename = "annex-pairings"
    export_columns = [
        ("主たる施術所の登録記号番号", lambda p: p.main.code),
        ("主たる施術所", lambda p: p.main.name),
        ("従たる施術所の登録記号番号", lambda p: p.subordinate.code),
        ("従たる施術所", lambda p: p.subordinate.name),
        ("申告した施術所", lambda p: p.proposed_by_facility.name),
        ("状態", lambda p: p.get_state_display()),
        ("申告日時", lambda p: _local(p.proposed_at)),
        ("確認・辞退日時", lambda p: _local(p.answered_at)),
        ("解除日時", lambda p: _local(p.ended_at)),
        ("解除の理由", lambda p: p.end_reason),
    ]
    fields = ["main", "subordinate", "proposed_by_facility", "state", "proposed_by",
              "proposed_at", "answered_by", "answered_at", "ended_by", "ended_at",
              "end_reason"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# ---------------------------------------------------------------- survey answers


class SurveyAnswerForm(forms.ModelForm):
    """An answer received by post or e-mail, typed in by an administrator. The 登録記号番号
    and the e-mail address are read in any width; the 施術所 is matched by the number when
    none is chosen."""

    received_on = ISODateField(
        label="受付日", earliest=SURVEY_SENT, latest=timezone.localdate,
        help_text="調査票の送付日（令和7年1月24日）から今日までの日付。例: 2025-02-10 または "
                  "令和7年2月10日")

    class Meta:
        model = SurveyAnswer
        fields = ["registration_code", "name", "address", "email", "reason", "channel",
                  "received_on", "facility", "note"]
        help_texts = {
            "registration_code": "例: 契1234567（全角でも入力できます）。",
            "facility": "空欄のまま保存すると、登録記号番号が一致する施術所を照合します。",
        }
        error_messages = {
            "name": {"max_length": "施術所名は%(limit_value)d文字以内で入力してください"
                                   "（%(show_value)d文字あります）。",
                     "required": "施術所名を入力してください。"},
            "address": {"max_length": "所在地は%(limit_value)d文字以内で入力してください"
                                      "（%(show_value)d文字あります）。",
                        "required": "所在地を入力してください。"},
            "registration_code": {"max_length": "登録記号番号は%(limit_value)d文字以内で入力"
                                                "してください。",
                                  "required": "登録記号番号を入力してください。"},
            "email": {"invalid": "メールアドレスの形が正しくありません（例: info@example.jp）。",
                      "max_length": "メールアドレスが長すぎます。"},
            "reason": {"required": "事由を選んでください。",
                       "invalid_choice": "事由は1・2・3から選んでください。"},
            "channel": {"required": "受付方法を選んでください。",
                        "invalid_choice": "受付方法は郵送・電子メールから選んでください。"},
        }

    NORMALISED = ("registration_code", "email")

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            for key in self.NORMALISED:
                if isinstance(data.get(key), str):
                    data[key] = nfkc(data[key]).strip()
        super().__init__(data, *args, **kwargs)

    def clean_registration_code(self) -> str:
        try:
            return normalize_registration_number(self.cleaned_data.get("registration_code", ""))
        except CodeError as error:
            raise forms.ValidationError(error.message) from None

    def clean_note(self) -> str:
        note = self.cleaned_data.get("note", "")
        if len(note) > TEXT_LIMIT:
            raise forms.ValidationError(f"メモは{TEXT_LIMIT}文字以内で入力してください"
                                        f"（{len(note)}文字あります）。")
        return note

    def clean_facility(self):
        facility = self.cleaned_data.get("facility")
        if facility is not None and not facility.is_sejutsu:
            raise forms.ValidationError("照合できるのは施術所だけです。")
        return facility


class MatchedFilter(admin.SimpleListFilter):
    title = "施術所との照合"
    parameter_name = "matched"

    def lookups(self, request, model_admin):
        return [("yes", "照合済み"), ("no", "未照合")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(facility__isnull=False)
        if self.value() == "no":
            return queryset.filter(facility__isnull=True)
        return queryset


@admin.register(SurveyAnswer)
class SurveyAnswerAdmin(WellFormedChoices, CsvExportAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """調査票の回答（郵送・メール）: entered and corrected here, saved by
    services.save_survey_answer (matching, and the 施術所's status follows)."""

    form = SurveyAnswerForm
    list_display = ["received_on", "name", "registration_code", "reason", "channel",
                    "facility", "entered_by"]
    list_filter = ["reason", "channel", MatchedFilter]
    search_fields = ["name", "registration_code", "facility__code", "facility__name"]
    list_select_related = ["facility", "entered_by"]
    autocomplete_fields = ["facility"]
    readonly_fields = ["matched", "entered_by", "entered_at"]
    export_filename = "survey-answers"
    export_columns = [
        ("受付日", lambda a: a.received_on.isoformat()),
        ("受付方法", lambda a: a.get_channel_display()),
        ("施術所名", lambda a: a.name),
        ("所在地", lambda a: a.address),
        ("登録記号番号", lambda a: a.registration_code),
        ("メールアドレス", lambda a: a.email),
        ("事由", lambda a: a.get_reason_display()),
        ("照合した施術所", lambda a: f"{a.facility.name}（{a.facility.code}）"
         if a.facility else ""),
        ("入力日時", lambda a: _local(a.entered_at)),
    ]

    def get_fields(self, request, obj=None):
        fields = [*SurveyAnswerForm.Meta.fields]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="照合の結果")
    def matched(self, answer) -> str:
        if answer.facility_id is None:
            return "登録記号番号に一致する施術所がありません（番号を確かめるか、施術所を選んでください）。"
        return f"照合済み: {answer.facility.name}（{answer.facility.code}）"

    def save_model(self, request, obj, form, change):
        if change and "registration_code" in form.changed_data \
                and "facility" not in form.changed_data:
            obj.facility = None  # matched again by the corrected number
        services.save_survey_answer(answer=obj, actor=request.user)
        if obj.facility_id is None:
            self.message_user(request, f"登録記号番号「{obj.registration_code}」に一致する施術所が"
                              "見つかりませんでした。番号を確かめるか、施術所を選んでください。",
                              messages.WARNING)
        else:
            self.message_user(request, f"施術所「{obj.facility.name}（{obj.facility.code}）」と"
                              "照合しました。", messages.INFO)


# ---------------------------------------------------------------- explanation sessions


class ScheduleForm(NormalizedForm):
    keep_width = ("meeting_info",)

    date = ISODateField(label="開催日", earliest=timezone.localdate,
                        help_text="今日以降の日付。例: 2025-06-10 または 令和7年6月10日")
    start = forms.TimeField(label="開始時刻", input_formats=["%H:%M"],
                            widget=forms.TimeInput(format="%H:%M", attrs={"size": 6}),
                            help_text="例: 14:00",
                            error_messages={"invalid": "時刻は 14:00 の形で入力してください。",
                                            "required": "開始時刻を入力してください。"})
    end = forms.TimeField(label="終了時刻", input_formats=["%H:%M"],
                          widget=forms.TimeInput(format="%H:%M", attrs={"size": 6}),
                          help_text="例: 15:30",
                          error_messages={"invalid": "時刻は 15:30 の形で入力してください。",
                                          "required": "終了時刻を入力してください。"})
    meeting_info = forms.CharField(
        label="参加方法（URL・ID等）", required=False, max_length=TEXT_LIMIT,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
        help_text="申込者へのメールに書きます。未定なら空欄（「追ってお知らせします」と書きます）。",
        error_messages={"max_length": f"参加方法は{TEXT_LIMIT}文字以内で入力してください。"})

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["end"] <= data["start"]:
            self.add_error("end", "終了時刻は開始時刻より後にしてください。")
        return data

    def datetimes(self) -> tuple[datetime, datetime]:
        day = self.cleaned_data["date"]
        return (timezone.make_aware(datetime.combine(day, self.cleaned_data["start"])),
                timezone.make_aware(datetime.combine(day, self.cleaned_data["end"])))


@admin.register(SessionRequest)
class SessionRequestAdmin(WorkflowAdmin, CsvExportAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """説明会の申込: scheduled on its own page (date, times, how to join: the applicant is
    e-mailed), then marked held, or cancelled with a reason."""

    list_display = ["receipt_number", "organisation", "preferred_date", "preferred_time",
                    "attendees", "state", "scheduled_start", "requested_at"]
    list_filter = ["state"]
    search_fields = ["receipt_number", "organisation", "contact_name", "email"]
    ordering = ["requested_at"]
    move_services = {
        "mark_held": lambda request, obj, reason: services.mark_session_held(
            session=obj, actor=request.user),
        "cancel": lambda request, obj, reason: services.cancel_session(
            session=obj, actor=request.user, reason=reason),
    }
    moves_with_reason = frozenset({"cancel"})
    moves_elsewhere = {"schedule": "obligation_sessionrequest_schedule"}
    export_filename = "session-requests"
    export_columns = [
        ("受付番号", lambda s: s.receipt_number or ""),
        ("団体名", lambda s: s.organisation),
        ("担当者氏名", lambda s: s.contact_name),
        ("電話番号", lambda s: s.phone),
        ("メールアドレス", lambda s: s.email),
        ("希望日", lambda s: s.preferred_date.isoformat()),
        ("希望時刻", lambda s: f"{s.preferred_start:%H:%M}〜{s.preferred_end:%H:%M}"),
        ("参加予定人数", lambda s: s.attendees),
        ("状態", lambda s: s.get_state_display()),
        ("開催日時（開始）", lambda s: _local(s.scheduled_start)),
        ("開催日時（終了）", lambda s: _local(s.scheduled_end)),
        ("申込日時", lambda s: _local(s.requested_at)),
    ]
    fields = ["receipt_number", "state", "organisation", "address", "contact_furigana",
              "contact_name", "phone", "email", "preferred_date", "preferred_start",
              "preferred_end", "attendees", "occupation", "topics", "notes", "scheduled_start",
              "scheduled_end", "meeting_info", "cancel_reason", "requested_at", "handled_by"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False  # the association's own application (public page)

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="希望時刻")
    def preferred_time(self, session) -> str:
        return f"{session.preferred_start:%H:%M}〜{session.preferred_end:%H:%M}"

    def get_urls(self):
        return [
            path("<int:pk>/schedule/", self.admin_site.admin_view(self.schedule_view),
                 name="obligation_sessionrequest_schedule"),
            *super().get_urls(),
        ]

    def schedule_view(self, request, pk: int):
        if not (self.has_view_permission(request) and request.user.has_perm(SESSION_PERMISSION)):
            raise PermissionDenied
        session = get_object_or_404(self.get_queryset(request), pk=pk)
        change_url = reverse("admin:obligation_sessionrequest_change", args=[session.pk])
        problem = refusal(session, "schedule", request.user)
        if problem is not None:
            if request.method == "POST" and not isinstance(problem, IllegalTransition):
                raise PermissionDenied
            self.message_user(request, problem.message, messages.WARNING)
            return redirect(change_url)
        initial = {"date": session.preferred_date, "start": session.preferred_start,
                   "end": session.preferred_end, "meeting_info": session.meeting_info}
        if session.scheduled_start:
            start = timezone.localtime(session.scheduled_start)
            end = timezone.localtime(session.scheduled_end)
            initial.update(date=start.date(), start=start.time(), end=end.time())
        form = ScheduleForm(request.POST if request.method == "POST" else None, initial=initial)
        if request.method == "POST" and form.is_valid():
            start, end = form.datetimes()
            try:
                services.schedule_session(session=session, actor=request.user, start=start,
                                          end=end, meeting_info=form.cleaned_data["meeting_info"])
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                self.message_user(request, "説明会の日程を決め、申込者にメールで知らせました。",
                                  messages.SUCCESS)
                return redirect(change_url)
        return TemplateResponse(request, "admin/obligation/sessionrequest/schedule.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": session,
            "title": f"{session}: 日程を決める", "form": form, "change_url": change_url})


# ---------------------------------------------------------------- compliance


class LetterForm(NormalizedForm):
    """The intermediate page of the letter actions (集団指導: its date and place)."""

    keep_width = ("guidance_place",)

    guidance_date = ISODateField(label="集団指導の開催日", required=False,
                                 earliest=timezone.localdate)
    guidance_place = forms.CharField(
        label="集団指導の会場", max_length=200, required=False,
        error_messages={"max_length": "会場は200文字以内で入力してください。"})

    def __init__(self, *args, guidance: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.guidance = guidance
        if guidance:
            self.fields["guidance_date"].required = True
            self.fields["guidance_date"].error_messages["required"] = "開催日を入力してください。"
            self.fields["guidance_place"].required = True
            self.fields["guidance_place"].error_messages["required"] = "会場を入力してください。"
        else:
            del self.fields["guidance_date"], self.fields["guidance_place"]


LETTER_ACTIONS = {
    "request_letters": (LetterBatch.Kind.REQUEST, "依頼文書を作成"),
    "guidance_letters": (LetterBatch.Kind.GUIDANCE, "集団指導の案内を作成"),
}


@admin.register(ComplianceStatus)
class ComplianceStatusAdmin(CsvExportAdmin, EvidenceAdmin, admin.ModelAdmin):
    """Where each 施術所 stands (computed), the counts by prefecture, and the follow-up of
    those not introduced: letters (a background batch) and the steps of the ladder."""

    list_display = ["facility_code", "facility_name", "prefecture", "state",
                    "exemption_reason", "valid_until", "last_step", "last_step_at"]
    list_filter = ["prefecture", "state", "last_step", "facility__kind"]
    search_fields = ["facility__code", "facility__name"]
    list_select_related = ["facility"]
    show_full_result_count = False  # up to 400,000 rows: one count is enough
    change_list_template = "admin/obligation/compliancestatus/change_list.html"
    actions = ["request_letters", "guidance_letters", "record_attended", "record_absent",
               "mark_suspension_candidate"]
    fields = ["facility", "prefecture", "state", "exemption_reason", "valid_until", "basis",
              "last_step", "last_step_at", "computed_at"]
    readonly_fields = fields
    export_filename = "compliance"
    export_columns = [
        ("登録記号番号", lambda c: c.facility.code),
        ("施術所名", lambda c: c.facility.name),
        ("種別", lambda c: c.facility.get_kind_display()),
        ("都道府県", lambda c: c.get_prefecture_display()),
        ("状況", lambda c: c.get_state_display()),
        ("事由", lambda c: c.exemption_reason),
        ("事由の期限", lambda c: c.valid_until.isoformat() if c.valid_until else ""),
        ("直近の対応", lambda c: c.get_last_step_display()),
        ("直近の対応日時", lambda c: _local(c.last_step_at)),
        ("算定日時", lambda c: _local(c.computed_at)),
    ]
    has_follow_up_permission = permission_check(FOLLOW_UP_PERMISSION.split(".")[1])

    def has_letters_permission(self, request, obj=None) -> bool:
        return (request.user.has_perm(FOLLOW_UP_PERMISSION)
                and request.user.has_perm("obligation.add_letterbatch"))

    def has_add_permission(self, request):
        return False  # computed

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="登録記号番号", ordering="facility__code")
    def facility_code(self, status) -> str:
        return status.facility.code

    @admin.display(description="施術所名", ordering="facility__name")
    def facility_name(self, status) -> str:
        return status.facility.name

    # ---- the counts by prefecture and state

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("counts/", wrap(self.counts_view), name="obligation_compliancestatus_counts"),
            path("counts/csv/", wrap(self.counts_csv_view),
                 name="obligation_compliancestatus_counts_csv"),
            path("recompute/", wrap(self.recompute_view),
                 name="obligation_compliancestatus_recompute"),
            *super().get_urls(),
        ]

    @staticmethod
    def counts() -> dict:
        """Prefecture × state in one aggregate query: 47 rows, a total row and column."""
        with replica_reads():  # the read replica, when there is one (portal/db_routers.py)
            found = {(row["prefecture"], row["state"]): row["n"] for row in (
                ComplianceStatus.objects.order_by().values("prefecture", "state")
                .annotate(n=Count("pk")))}
        states = list(ComplianceState)
        rows = []
        for code, name in PREFECTURES:
            cells = [found.get((code, state.value), 0) for state in states]
            rows.append({"code": code, "name": name, "cells": cells, "total": sum(cells)})
        totals = [sum(row["cells"][i] for row in rows) for i in range(len(states))]
        return {"states": states, "rows": rows, "totals": totals, "total": sum(totals)}

    def counts_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        table = self.counts()
        changelist = reverse("admin:obligation_compliancestatus_changelist")
        for row in table["rows"]:
            row["links"] = [
                (count, f"{changelist}?prefecture__exact={row['code']}&state__exact={state.value}")
                for count, state in zip(row["cells"], table["states"], strict=True)]
        return TemplateResponse(request, "admin/obligation/compliancestatus/counts.html", {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": "導入状況の件数（都道府県別）", "table": table,
            "computed_at": ComplianceStatus.objects.order_by("-computed_at")
            .values_list("computed_at", flat=True).first()})

    def counts_csv_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        table = self.counts()
        header = ["都道府県コード", "都道府県", *[state.label for state in table["states"]], "合計"]
        rows = [[row["code"], row["name"], *row["cells"], row["total"]] for row in table["rows"]]
        rows.append(["", "合計", *table["totals"], table["total"]])
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return csv_response(header, rows, f"compliance-counts-{stamp}.csv")

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "recompute_url": (reverse("admin:obligation_compliancestatus_recompute")
                              if self.has_follow_up_permission(request) else None),
        }
        return super().changelist_view(request, extra_context)

    def recompute_view(self, request):
        """状況を再計算: every 施術所's status again, in the background (the nightly job's
        task, started now); a confirmation page first."""
        if not (self.has_view_permission(request) and self.has_follow_up_permission(request)):
            raise PermissionDenied
        if request.method == "POST":
            from .tasks import compute_compliance

            compute_compliance.delay()
            self.message_user(request, "導入状況の再計算を始めました（バックグラウンドで行います。"
                              "しばらくしてから一覧を開き直してください）。", messages.SUCCESS)
            return redirect("admin:obligation_compliancestatus_changelist")
        return TemplateResponse(request, "admin/obligation/compliancestatus/recompute.html", {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": "導入状況を再計算", "computed_at": ComplianceStatus.objects.order_by(
                "-computed_at").values_list("computed_at", flat=True).first()})

    # ---- the follow-up actions

    def _filters_in_words(self, request, queryset) -> str:
        """The list's filters and search as the batch records them ("都道府県: 東京都、…")."""
        changelist = self.get_changelist_instance(request)
        parts = []
        for spec in changelist.filter_specs:
            if getattr(spec, "used_parameters", None):
                chosen = [str(choice["display"]) for choice in spec.choices(changelist)
                          if choice["selected"]]
                parts.append(f"{spec.title}: {'・'.join(chosen)}")
        if changelist.query:
            parts.append(f"検索: {changelist.query}")
        across = request.POST.get("select_across") == "1"
        scope = "絞り込み結果のすべて" if across else "一覧で選択した施術所"
        return f"{scope}（{'、'.join(parts) if parts else '絞り込みなし'}）"

    def _letters(self, request, queryset, action: str):
        kind, label = LETTER_ACTIONS[action]
        guidance = kind == LetterBatch.Kind.GUIDANCE
        confirmed = "confirm" in request.POST
        form = LetterForm(request.POST if confirmed else None, guidance=guidance)
        if confirmed and form.is_valid():
            from .letters import start_letter_batch

            ids = list(queryset.values_list("pk", flat=True))
            try:
                batch = start_letter_batch(
                    actor=request.user, kind=kind, facility_ids=ids,
                    filter_description=self._filters_in_words(request, queryset),
                    guidance_date=form.cleaned_data.get("guidance_date"),
                    guidance_place=form.cleaned_data.get("guidance_place", ""))
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                self.message_user(request, f"{batch}の作成を始めました（バックグラウンドで"
                                  "作成します）。", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:obligation_letterbatch_change", args=[batch.pk]))
        by_state = {row["state"]: row["n"] for row in
                    queryset.order_by().values("state").annotate(n=Count("pk"))}
        return TemplateResponse(request, "admin/obligation/compliancestatus/letters.html", {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": label, "form": form, "action": action,
            "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "count": sum(by_state.values()),
            "by_state": [(ComplianceState(state).label, n) for state, n in sorted(by_state.items())],
            "description": self._filters_in_words(request, queryset)})

    @admin.action(description="依頼文書を作成", permissions=["letters"])
    def request_letters(self, request, queryset):
        return self._letters(request, queryset, "request_letters")

    @admin.action(description="集団指導の案内を作成", permissions=["letters"])
    def guidance_letters(self, request, queryset):
        return self._letters(request, queryset, "guidance_letters")

    def _record(self, request, queryset, kind: str):
        from .compliance import record_step

        ids = list(queryset.values_list("pk", flat=True))
        result = record_step(actor=request.user, facility_ids=ids, kind=kind)
        label = FollowUpKind(kind).label
        level = messages.SUCCESS if result.recorded else messages.WARNING
        self.message_user(request, f"「{label}」を{result.recorded}件記録しました。", level)
        if result.skipped:
            self.message_user(request, f"記録しなかった施術所が{len(result.skipped)}件あります。"
                              f"{skipped_in_words(result.skipped)}", messages.WARNING)

    @admin.action(description="集団指導に出席を記録", permissions=["follow_up"])
    def record_attended(self, request, queryset):
        self._record(request, queryset, FollowUpKind.GUIDANCE_ATTENDED)

    @admin.action(description="集団指導に欠席を記録", permissions=["follow_up"])
    def record_absent(self, request, queryset):
        self._record(request, queryset, FollowUpKind.GUIDANCE_ABSENT)

    @admin.action(description="受領委任停止の候補にする", permissions=["follow_up"])
    def mark_suspension_candidate(self, request, queryset):
        self._record(request, queryset, FollowUpKind.SUSPENSION_CANDIDATE)


# ---------------------------------------------------------------- follow-up steps


@admin.register(FollowUpStep)
class FollowUpStepAdmin(CsvExportAdmin, EvidenceAdmin, admin.ModelAdmin):
    list_display = ["facility", "kind", "letter_link", "done_by", "done_at"]
    list_filter = ["kind"]
    search_fields = ["facility__code", "facility__name"]
    list_select_related = ["facility", "done_by"]  # not the letter: it carries every id
    fields = ["facility", "kind", "letter_link", "note", "done_by", "done_at"]
    readonly_fields = fields
    export_filename = "follow-up-steps"
    export_columns = [
        ("登録記号番号", lambda s: s.facility.code),
        ("施術所名", lambda s: s.facility.name),
        ("対応", lambda s: s.get_kind_display()),
        ("文書の番号", lambda s: s.letter_id or ""),
        ("対応者", lambda s: s.done_by.email if s.done_by else ""),
        ("対応日時", lambda s: _local(s.done_at)),
        ("メモ", lambda s: s.note),
    ]

    def has_add_permission(self, request):
        return False  # recorded by the actions on 導入状況 and by the letter batches

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="文書")
    def letter_link(self, step):
        if step.letter_id is None:
            return "—"
        return format_html('<a href="{}">文書の一括作成 #{}</a>',
                           reverse("admin:obligation_letterbatch_change", args=[step.letter_id]),
                           step.letter_id)


# ---------------------------------------------------------------- letter batches


@admin.register(LetterBatch)
class LetterBatchAdmin(EvidenceAdmin, admin.ModelAdmin):
    """文書の一括作成: its page shows the progress (refreshed while it runs) and, once done,
    the ZIP's download link, the PDF to print's and the pages of each facility in it."""

    list_display = ["number", "kind", "state", "total", "done", "percent_text", "created_by",
                    "created_at", "finished_at"]
    list_display_links = ["number", "kind"]
    list_filter = ["kind", "state"]
    list_select_related = ["created_by"]
    fields = ["kind", "state", "filter_description", "guidance_date", "guidance_place",
              "total", "done", "failure", "created_by", "created_at", "started_at",
              "finished_at"]
    readonly_fields = fields
    change_form_template = "admin/obligation/letterbatch/change_form.html"

    def get_queryset(self, request):
        # Up to 50,000 ids and page ranges: read only by the page that shows them.
        return super().get_queryset(request).defer("facility_ids", "page_ranges")

    def has_add_permission(self, request):
        return False  # started by the actions on 導入状況

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="番号", ordering="pk")
    def number(self, batch) -> str:
        return str(batch.pk)

    @admin.display(description="進み具合")
    def percent_text(self, batch) -> str:
        return f"{batch.percent}%"

    def get_urls(self):
        return [
            path("<int:pk>/download/", self.admin_site.admin_view(self.download_view),
                 name="obligation_letterbatch_download"),
            path("<int:pk>/print/", self.admin_site.admin_view(self.print_view),
                 name="obligation_letterbatch_print_download"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        extra = {}
        if batch is not None:
            done = batch.state == LetterBatchState.DONE
            extra = {
                "running": batch.in_progress,
                "download_url": (reverse("admin:obligation_letterbatch_download",
                                         args=[batch.pk]) if done else None),
                "print_url": (reverse("admin:obligation_letterbatch_print_download",
                                      args=[batch.pk]) if done and batch.print_name else None),
                "page_ranges": batch.page_ranges[:SHOWN_PAGE_RANGES] if done else [],
                "more_page_ranges": max(0, len(batch.page_ranges) - SHOWN_PAGE_RANGES)
                if done else 0,
            }
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), **extra})

    def download_view(self, request, pk: int):
        from .letters import batch_path

        return self._batch_file(request, pk, batch_path, "application/zip", "zip")

    def print_view(self, request, pk: int):
        """The letters as one PDF to print (a batch made before it existed has none: 404)."""
        from .letters import print_path

        return self._batch_file(request, pk, print_path, "application/pdf", "pdf",
                                batches=self.get_queryset(request).exclude(print_name=""))

    def _batch_file(self, request, pk: int, path_of, content_type: str, suffix: str, *,
                    batches=None):
        """A done batch's file (`path_of(batch)`), never kept by a cache."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        batches = self.get_queryset(request) if batches is None else batches
        batch = get_object_or_404(batches, pk=pk, state=LetterBatchState.DONE)
        try:
            handle = open(path_of(batch), "rb")  # noqa: SIM115 - closed by the response
        except FileNotFoundError:
            raise Http404("文書のファイルが見つかりません。") from None
        response = FileResponse(handle, as_attachment=True, content_type=content_type,
                                filename=f"{batch.kind}-{batch.pk}.{suffix}")
        response["Cache-Control"] = "no-store"  # names and addresses of facilities
        return response
