from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe
from simple_history.admin import SimpleHistoryAdmin

from portal.admin_imports import CsvImportExportAdmin
from portal.admin_permissions import EvidenceAdmin, permission_check
from portal.admin_queues import WaitingFilter
from portal.admin_widgets import WellFormedChoices
from portal.admin_workflow import CsvExportAdmin, WorkflowAdmin
from portal.errors import ServiceError
from portal.wareki import to_wareki

from . import adjustments, services
from .engine import RULES
from .models import (
    ActivityReport,
    Adjustment,
    Attestation,
    Determination,
    EligibilityRun,
    MonthlyStatistic,
    ParameterVersion,
    PreviewState,
    Program,
)


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "rule", "is_open", "report_deadline"]
    actions = ["run_selected"]
    has_run_permission = permission_check("run_program")

    def has_add_permission(self, request):
        return False  # programs come with the code that judges them

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="選択したプログラムの支給判定を今すぐ実行する", permissions=["run"])
    def run_selected(self, request, queryset: QuerySet[Program]):
        # Queued as a task (never run inside the admin's request).
        for program in queryset:
            try:
                services.version_in_force(program)
            except ServiceError as error:
                self.message_user(request, error.message, messages.ERROR)
                continue
            services.queue_program_batch(program)
            self.message_user(
                request, f"{program.name}: 支給判定の実行を受け付けました（バックグラウンドで実行します。"
                "結果は「判定バッチの実行」に表示されます）。", messages.SUCCESS)


class ParameterVersionForm(forms.ModelForm):
    """The JSON is checked by the program's own parser before it is saved: a malformed
    version is an error next to the field, never a failed page."""

    class Meta:
        model = ParameterVersion
        fields = ["program", "version", "effective_from", "notice", "params"]

    def clean(self):
        data = super().clean()
        program = data.get("program") or getattr(self.instance, "program", None)
        if program is not None and "params" in data:
            try:
                services.validate_params(program, data["params"])
            except ServiceError as error:
                self.add_error("params", error.message)
        return data


@admin.register(ParameterVersion)
class ParameterVersionAdmin(WellFormedChoices, SimpleHistoryAdmin):
    list_display = ["program", "version", "status", "effective_from", "notice", "applied_at"]
    list_filter = ["program", "status"]
    readonly_fields = ["status", "applied_at", "created_by", "created_at"]
    actions = ["copy_as_draft"]
    change_form_template = "admin/eligibility/parameterversion/change_form.html"
    form = ParameterVersionForm
    has_apply_permission = permission_check("apply_parameterversion")

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.status != ParameterVersion.Status.DRAFT:
            return False  # a version in force or past is evidence of what was paid
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.status != ParameterVersion.Status.DRAFT:
            return False
        return super().has_delete_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.status != ParameterVersion.Status.DRAFT:
            return ["program", "version", "effective_from", "notice", "params",
                    *self.readonly_fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    @admin.action(description="選択した版をもとに新しい下書きを作る", permissions=["add"])
    def copy_as_draft(self, request, queryset):
        for version in queryset:
            draft = services.create_draft_version(
                program=version.program, params=version.params,
                effective_from=version.effective_from, notice=version.notice,
                actor=request.user,
            )
            self.message_user(request, f"{draft} を作りました。", messages.SUCCESS)

    def get_urls(self):
        return [
            path("<int:pk>/preview/", self.admin_site.admin_view(self.preview_view),
                 name="eligibility_parameterversion_preview"),
            path("<int:pk>/preview/start/", self.admin_site.admin_view(self.preview_start_view),
                 name="eligibility_parameterversion_preview_start"),
            path("<int:pk>/apply/", self.admin_site.admin_view(self.apply_view),
                 name="eligibility_parameterversion_apply"),
            *super().get_urls(),
        ]

    def preview_view(self, request, pk: int):
        """The kept 「適用前の確認」 of this version: its progress while the task runs (the
        page refreshes itself), then the facilities whose results change, and the apply
        form resting on it. A preview computed before the parameters were edited is not
        shown as theirs."""
        version = get_object_or_404(ParameterVersion, pk=pk)
        if not self.has_apply_permission(request):
            raise PermissionDenied
        preview = services.current_preview(version)
        stale = preview is None and version.previews.exists()
        context = {
            **self.admin_site.each_context(request),
            "title": f"{version} の適用前の確認",
            "version": version,
            "preview": preview,
            "stale": stale,
            "batch": version.program.rule in RULES,
            "opts": self.model._meta,
            "is_draft": version.status == ParameterVersion.Status.DRAFT,
            # Four-eyes: the drafter (or whoever changed the parameters) is told at once.
            "apply_refusal": services.apply_refusal(version, request.user),
        }
        return TemplateResponse(request, "admin/eligibility/preview.html", context)

    def preview_start_view(self, request, pk: int):
        version = get_object_or_404(ParameterVersion, pk=pk)
        if not self.has_apply_permission(request) or request.method != "POST":
            raise PermissionDenied
        try:
            services.start_preview(version=version, actor=request.user)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
        return redirect("admin:eligibility_parameterversion_preview", pk)

    def apply_view(self, request, pk: int):
        version = get_object_or_404(ParameterVersion, pk=pk)
        if not self.has_apply_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return redirect("admin:eligibility_parameterversion_preview", pk)
        try:
            # The preview the page showed (refused if the parameters changed since), else
            # the finished one kept for the parameters as they are: named in the history.
            # Without one the service refuses a batch program's apply, and its message is
            # shown on the preview page, where the check is started.
            preview = services.current_preview(version)
            if request.POST.get("preview"):
                preview = services.preview_for_apply(version=version,
                                                     preview_id=request.POST["preview"])
            elif preview is not None and preview.state != PreviewState.DONE:
                preview = None
            applied = services.apply_version(version=version, actor=request.user,
                                             preview=preview)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect("admin:eligibility_parameterversion_preview", pk)
        if applied.waiting:
            self.message_user(
                request, f"{version} を適用待ちにしました。適用開始日（{to_wareki(version.effective_from)}）"
                "になると夜間の判定で適用され、それまで判定結果は変わりません。", messages.SUCCESS)
        elif applied.queued:
            self.message_user(
                request, f"{version} を適用しました。全施設の再判定をバックグラウンドで実行します"
                "（結果は「判定バッチの実行」に表示されます）。", messages.SUCCESS)
        else:
            self.message_user(request, f"{version} を適用しました。", messages.SUCCESS)
        return redirect(reverse("admin:eligibility_parameterversion_change", args=[pk]))


@admin.register(MonthlyStatistic)
class MonthlyStatisticAdmin(WellFormedChoices, CsvImportExportAdmin, admin.ModelAdmin):
    """The official (imported) figures and the counter's (provisional) side by side
    (docs/domain.md §8): the counter's are written only by the counter; a month entered or changed here by
    hand is an official figure, as an import is."""

    import_kind_name = "monthly_statistics"
    list_display = ["facility", "month", "receipts", "card_users", "usage_count",
                    "counter_card_users", "counter_usage_count", "figure_source", "imported_at"]
    list_filter = ["month", ("imported_at", admin.EmptyFieldListFilter)]
    search_fields = ["facility__code", "facility__name"]
    autocomplete_fields = ["facility"]
    list_select_related = ["facility"]
    readonly_fields = ["counter_card_users", "counter_usage_count", "imported_at",
                       "figure_source"]

    @admin.display(description="判定に用いる数値")
    def figure_source(self, statistic: MonthlyStatistic) -> str:
        if statistic.pk is None:
            return ""
        return (f"{statistic.source_label}: 利用人数 {statistic.users:,}人・"
                f"利用件数 {statistic.uses:,}件")

    def save_model(self, request, obj, form, change):
        if not change or form.has_changed():
            obj.imported_at = timezone.now()  # entered by hand: the official figure
        super().save_model(request, obj, form, change)


@admin.register(ActivityReport)
class ActivityReportAdmin(WellFormedChoices, EvidenceAdmin, SimpleHistoryAdmin):
    """The facility's own statement: read here, made and changed only by its staff."""

    list_display = ["facility", "program", "voice", "flyer", "poster", "activity_from",
                    "activity_to", "receipt_number", "updated_at"]
    list_filter = ["program", "voice", "flyer", "poster"]
    search_fields = ["facility__code", "facility__name", "receipt_number"]
    autocomplete_fields = ["facility"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Attestation)
class AttestationAdmin(WellFormedChoices, EvidenceAdmin, SimpleHistoryAdmin):
    """The facility's own statement: read here, made and changed only by its staff."""

    list_display = ["facility", "program", "poster", "informed", "receipt_number", "updated_at"]
    list_filter = ["program", "poster", "informed"]
    search_fields = ["facility__code", "facility__name", "receipt_number"]
    autocomplete_fields = ["facility"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Determination)
class DeterminationAdmin(CsvExportAdmin, EvidenceAdmin, admin.ModelAdmin):
    list_display = ["facility", "program", "eligible", "amount", "payout_locked",
                    "determined_at"]
    export_filename = "results"
    export_columns = [
        ("医療機関等コード・登録記号番号", lambda d: d.facility.code),
        ("施設名", lambda d: d.facility.name),
        ("種別", lambda d: d.facility.get_kind_display()),
        ("都道府県", lambda d: d.facility.prefecture_name),
        ("プログラム", lambda d: d.program.name),
        ("支給対象", lambda d: "対象" if d.eligible else "対象外"),
        ("金額（円）", lambda d: d.amount),
        ("判定日時", lambda d: timezone.localtime(d.determined_at).strftime("%Y-%m-%d %H:%M")),
        ("支払処理済み", lambda d: "済" if d.payout_locked else ""),
    ]
    list_filter = ["program", "eligible", "payout_locked", "facility__kind"]
    search_fields = ["facility__code", "facility__name"]
    list_select_related = ["facility", "program"]
    readonly_fields = ["facility", "program", "parameter_version", "eligible", "amount",
                       "reason_lines", "details", "facts", "stored_reasons", "determined_at",
                       "payout_locked"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="判定理由")
    def reason_lines(self, determination: Determination):
        # Written by the rule from the facts kept with the result (or the texts kept).
        return format_html_join(mark_safe("<br>"), "{}",
                                ((text,) for text in determination.reasons))


@admin.register(EligibilityRun)
class EligibilityRunAdmin(EvidenceAdmin, admin.ModelAdmin):
    list_display = ["program", "started_at", "finished_at", "facilities", "eligible",
                    "total_amount", "skipped_locked", "written", "facts_seconds",
                    "rule_seconds", "write_seconds"]
    list_filter = ["program"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class DirectionFilter(admin.SimpleListFilter):
    title = "向き"
    parameter_name = "direction"

    def lookups(self, request, model_admin):
        return [("pay", "追加のお支払い（プラス）"), ("recover", "返還（マイナス）")]

    def queryset(self, request, queryset):
        if self.value() == "pay":
            return queryset.filter(difference__gt=0)
        if self.value() == "recover":
            return queryset.filter(difference__lt=0)
        return queryset


# The admin's actions on adjustments: (service, the move's name, what the message says).
ADJUSTMENT_ACTIONS = {
    "review_selected": (adjustments.review, "review", "審査しました"),
    "approve_selected": (adjustments.approve, "approve", "決定しました"),
    "reject_selected": (adjustments.reject, "reject", "不採用にしました"),
}


@admin.register(Adjustment)
class AdjustmentAdmin(WorkflowAdmin, CsvExportAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """調整 (docs/domain.md §5.4): proposed by the batch for paid results whose amount changed,
    reviewed by 審査担当 and decided by 決定権者 — never the reviewer (four-eyes). The page
    is read-only: the reasons as the result was paid, beside the reasons of the
    re-determination (frozen when it was proposed). Paying, netting and claiming back are
    the payout runs' (their moves are not offered here)."""

    list_display = ["facility", "program", "paid_yen", "new_yen", "difference_text",
                    "direction_text", "state", "cause", "proposed_at", "reviewed_by",
                    "decided_by"]
    list_filter = [WaitingFilter, "program", "state", DirectionFilter]
    search_fields = ["facility__code", "facility__name"]
    list_select_related = ["facility", "program", "reviewed_by", "decided_by"]
    actions = list(ADJUSTMENT_ACTIONS)
    move_services = {
        "review": lambda request, obj, reason: adjustments.review(adjustment=obj,
                                                                  actor=request.user),
        "approve": lambda request, obj, reason: adjustments.approve(adjustment=obj,
                                                                    actor=request.user),
        "reject": lambda request, obj, reason: adjustments.reject(adjustment=obj,
                                                                  actor=request.user),
    }
    export_filename = "adjustments"
    export_columns = [
        ("医療機関等コード・登録記号番号", lambda a: a.facility.code),
        ("施設名", lambda a: a.facility.name),
        ("プログラム", lambda a: a.program.name),
        ("これまでの支給額（円）", lambda a: a.paid_amount),
        ("再判定の金額（円）", lambda a: a.new_amount),
        ("差額（円）", lambda a: a.difference),
        ("向き", lambda a: a.direction_label),
        ("状態", lambda a: a.get_state_display()),
    ]
    fields = ["facility", "program", "state", "cause", "paid_yen", "new_yen",
              "difference_text", "direction_text", "eligible", "parameter_version",
              "determination", "reasons_before", "reasons_after", "details", "facts",
              "proposed_at", "reviewed_by", "reviewed_at", "decided_by", "decided_at",
              "settled_at"]
    readonly_fields = fields
    has_review_permission = permission_check("review_adjustment")
    has_decide_permission = permission_check("decide_adjustment")

    def has_add_permission(self, request):
        return False  # proposed by the batch only

    def response_action(self, request, queryset):
        """Django filters the selection by the posted keys as they are: a key that is no
        number is a message on the list, not a failed page."""
        try:
            return super().response_action(request, queryset)
        except (ValueError, ValidationError):
            self.message_user(request, "選択が正しくありません。一覧から選び直してください。",
                              messages.ERROR)
            return redirect(request.get_full_path())

    def has_change_permission(self, request, obj=None):
        return False  # changes only by its moves

    @admin.display(description="これまでの支給額", ordering="paid_amount")
    def paid_yen(self, adjustment: Adjustment) -> str:
        return f"{adjustment.paid_amount:,}円"

    @admin.display(description="再判定の金額", ordering="new_amount")
    def new_yen(self, adjustment: Adjustment) -> str:
        return f"{adjustment.new_amount:,}円"

    @admin.display(description="差額", ordering="difference")
    def difference_text(self, adjustment: Adjustment) -> str:
        return adjustment.difference_yen

    @admin.display(description="向き")
    def direction_text(self, adjustment: Adjustment) -> str:
        return adjustment.direction_label

    @admin.display(description="支払済みの判定の理由（支払時）")
    def reasons_before(self, adjustment: Adjustment):
        return format_html_join(mark_safe("<br>"), "{}",
                                ((text,) for text in adjustment.determination.reasons))

    @admin.display(description="再判定の理由（提案時の文面）")
    def reasons_after(self, adjustment: Adjustment):
        return format_html_join(mark_safe("<br>"), "{}",
                                ((text,) for text in adjustment.reasons))

    @admin.action(description="審査する", permissions=["review"])
    def review_selected(self, request, queryset):
        return self._confirm(request, queryset, "review_selected")

    @admin.action(description="決定する", permissions=["decide"])
    def approve_selected(self, request, queryset):
        return self._confirm(request, queryset, "approve_selected")

    @admin.action(description="不採用とする", permissions=["decide"])
    def reject_selected(self, request, queryset):
        return self._confirm(request, queryset, "reject_selected")

    def _confirm(self, request, queryset, action: str):
        """A confirmation page naming the adjustments and their differences first; then each
        is moved through the workflow in its own transaction (a refused one — the reviewer
        deciding, a state that moved meanwhile — is named and the others are done)."""
        service, move, done_words = ADJUSTMENT_ACTIONS[action]
        label = dict(self.get_action_choices(request)).get(action, action)
        chosen = list(queryset.select_related("facility", "program").order_by(
            "facility__code", "pk"))
        if request.POST.get("confirm") != "1":
            return TemplateResponse(request, "admin/eligibility/adjustment/confirm.html", {
                **self.admin_site.each_context(request), "opts": self.opts,
                "title": f"調整を{label}", "label": label, "action": action,
                "adjustments": chosen,
                "refusals": [(adjustment, problem.message) for adjustment in chosen
                             if (problem := adjustments.refusal_of(adjustment, move,
                                                                   request.user))],
                "selected": request.POST.getlist(helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
            })
        done = 0
        for adjustment in chosen:
            try:
                service(adjustment=adjustment, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{adjustment.facility.code}: {error.message}",
                                  messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done}件を{done_words}。", messages.SUCCESS)
        return None
