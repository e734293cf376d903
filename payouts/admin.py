"""The payout officers' pages: payout runs (created from their own page, checked by their
totals, released or cancelled by a second officer, written as the 全銀 file, settled by the
bank's results), their payment lines, the consignor's settings and the facilities' bank
accounts. Every page asks for the permission of what it does; the work is in services."""

from datetime import timedelta

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from eligibility.models import Program
from facilities.prefectures import PREFECTURE_NAMES
from portal.admin_permissions import EvidenceAdmin, OneRowAdmin, permission_check
from portal.admin_queues import WaitingFilter
from portal.admin_widgets import WellFormedChoices, WellFormedModelChoiceField
from portal.admin_workflow import CsvExportAdmin, WorkflowAdmin
from portal.errors import IllegalTransition, ServiceError, add_error_to_form
from portal.forms import ISODateField
from portal.templatetags.yen import yen_filter
from portal.workflow import refusal

from . import services
from .banking import mask_account_number
from .calendar import next_business_day
from .models import (
    CREATE_PERMISSION,
    FILE_PERMISSION,
    RELEASE_PERMISSION,
    RESULTS_PERMISSION,
    BankAccount,
    Consignor,
    PaymentLine,
    PayoutRun,
    Recovery,
)
from .sources import source_for
from .zengin import ZENGIN_CHARACTERS, ZenginError, zengin_text

# A results file of MAX_RESULT_ROWS short lines is far below this; anything larger is not one.
MAX_RESULTS_BYTES = 50 * 1024 * 1024
SHOWN_ERRORS = 100
# Lines shown a page on the release confirmation.
LINES_PER_PAGE = 50


@admin.register(BankAccount)
class BankAccountAdmin(WellFormedChoices, EvidenceAdmin, admin.ModelAdmin):
    """振込先口座, read-only here (the facility registers and changes it; every version is
    in its history, not shown here). The full account number is shown to payout officers
    only (`payouts.view_account_number`); everyone else sees the last 3 digits, and may
    neither look it up nor sort by it (portal/admin_masking.py)."""

    list_select_related = ["facility"]
    search_fields = ["facility__code", "facility__name", "holder_name"]
    list_filter = ["account_type"]
    list_display = ["facility", "bank_name", "branch_name", "account_type", "account_number",
                    "holder_name", "updated_at"]
    fields = ["facility", "bank_code", "bank_name", "branch_code", "branch_name",
              "account_type", "account_number", "holder_name", "japan_post_kigo", "updated_by",
              "updated_at"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# ------------------------------------------------------------------------------ consignor


class ConsignorForm(forms.ModelForm):
    class Meta:
        model = Consignor
        fields = ["code", "name", "bank_code", "bank_name", "branch_code", "branch_name",
                  "account_type", "account_number", "recovery_due_days", "recovery_contact"]
        help_texts = {
            "code": "金融機関と契約した振込依頼人コード（数字10桁）。",
            "name": "全角カナ・ひらがなでも入力できます（半角カナに直して保存します）。",
            "bank_name": "振込データのヘッダーに書く名称（半角カナ15文字まで）。",
            "branch_name": "振込データのヘッダーに書く名称（半角カナ15文字まで）。",
            "account_number": "数字7桁。",
        }

    # The model's clean() writes the names as the file does (half-width kana); a character
    # the file cannot carry at all (kanji, ＆, emoji) is refused here, not at payout time.
    def _zengin_name(self, field: str) -> str:
        value = self.cleaned_data.get(field, "")
        refused = list(dict.fromkeys(ch for ch in zengin_text(value)
                                     if ch not in ZENGIN_CHARACTERS))
        if refused:
            named = "".join(f"「{ch}」" if ch.isprintable() else f"「U+{ord(ch):04X}」"
                            for ch in refused[:10])
            raise forms.ValidationError(
                f"振込データに書けない文字があります: {named}。カナ（全角・半角・ひらがな）、"
                "英字、数字、スペースと ( ) . - / , で入力してください。")
        return value

    def clean_name(self):
        return self._zengin_name("name")

    def clean_bank_name(self):
        return self._zengin_name("bank_name")

    def clean_branch_name(self):
        return self._zengin_name("branch_name")


@admin.register(Consignor)
class ConsignorAdmin(OneRowAdmin, SimpleHistoryAdmin):  # every transfer file's header comes from it
    """振込依頼人（仕向口座）: one row (the header of every transfer file), kept by the system
    administrators; the model's clean() normalises the kana and checks the digits. Every
    change is kept in its history. The account number is masked for anyone who neither
    keeps it nor pays from it (portal/admin_masking.py)."""

    form = ConsignorForm
    readonly_fields = ["updated_by", "updated_at"]
    list_display = ["name", "code", "bank_code", "branch_code", "account_type",
                    "account_number", "updated_by", "updated_at"]
    fields = [*ConsignorForm.Meta.fields, *readonly_fields]



# ---------------------------------------------------------------------------- payout runs


def payable_programs():
    """The programs a run may pay (those a payable source pays)."""
    ids = []
    for program in Program.objects.order_by("code"):
        try:
            source_for(program)
        except ServiceError:
            continue
        ids.append(program.pk)
    return Program.objects.filter(pk__in=ids).order_by("code")


class CreateRunForm(forms.Form):
    program = WellFormedModelChoiceField(label="プログラム", queryset=Program.objects.none(),
                                         empty_label="選んでください")
    transfer_date = ISODateField(
        label="振込指定日",
        help_text="銀行の営業日を指定してください（土曜・日曜・祝日・12月31日〜1月3日は"
        "指定できません）。")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = payable_programs()


class ResultsForm(forms.Form):
    file = forms.FileField(
        label="振込結果ファイル（CSV）",
        help_text="1行目は見出し「顧客コード1,結果コード」。2行目からは、支払明細の番号（顧客"
        "コード1）と結果コード（0 振込済、1 口座なし、2 解約済、3 名義相違、9 その他）。"
        "UTF-8 または Shift_JIS。",
        error_messages={"empty": "ファイルが空です。", "required": "ファイルを選んでください。"})

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_RESULTS_BYTES:
            raise forms.ValidationError(
                f"ファイルが大きすぎます（{MAX_RESULTS_BYTES // (1024 * 1024)}MBまで）。")
        return upload


class PayoutRunAdmin(WorkflowAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """支払バッチ. Never added or changed through the standard forms: created on the
    「支払バッチを作成」 page (or by the schedule, or `manage.py payout create`), checked (a
    scheduled run), released or cancelled by its moves (a confirmation page first; whoever
    created or checked it may not release), written and settled from its own page."""

    list_display = ["number", "program", "transfer_date", "state", "line_count", "total_yen",
                    "created_by", "checked_by", "released_by", "created_at"]
    list_display_links = ["number", "program"]
    list_filter = [WaitingFilter, "state", "program"]
    list_select_related = ["program", "created_by", "checked_by", "released_by"]
    date_hierarchy = "transfer_date"
    fields = ["number", "program", "transfer_date", "state", "line_count", "total_yen",
              "created_by", "created_at", "checked_by", "checked_at", "released_by",
              "released_at", "file_sha256", "file_written_at", "settled_at", "lines_link"]
    readonly_fields = fields
    change_form_template = "admin/payouts/payoutrun/change_form.html"
    change_list_template = "admin/payouts/payoutrun/change_list.html"
    move_services = {
        "verify": lambda request, obj, reason: services.check_run(run=obj, actor=request.user),
        "release": lambda request, obj, reason: services.release_run(run=obj,
                                                                     actor=request.user),
        "cancel": lambda request, obj, reason: services.cancel_run(run=obj, actor=request.user),
    }

    def has_add_permission(self, request):
        return False  # made by services.create_run only (the 「支払バッチを作成」 page)

    def has_change_permission(self, request, obj=None):
        return False  # a run changes only by its moves

    @admin.display(description="番号", ordering="pk")
    def number(self, run) -> str:
        return str(run.pk)

    @admin.display(description="合計金額", ordering="total_amount")
    def total_yen(self, run) -> str:
        return yen_filter(run.total_amount)

    @admin.display(description="支払明細")
    def lines_link(self, run):
        url = reverse("admin:payouts_paymentline_changelist")
        return format_html('<a href="{}?run__id__exact={}">支払明細の一覧（{}件）</a>', url,
                           run.pk, f"{run.line_count:,}")

    def _url_name(self, page: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("create/", wrap(self.create_view), name=self._url_name("create")),
            path("<int:pk>/file/", wrap(self.file_view), name=self._url_name("file")),
            path("<int:pk>/results/", wrap(self.results_view), name=self._url_name("results")),
            *super().get_urls(),
        ]

    def _context(self, request, title: str, **values) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title,
                **values}

    def _change_url(self, run) -> str:
        return reverse(f"admin:{self._url_name('change')}", args=[run.pk])

    # ---- the list and the detail page

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "create_url": (reverse(f"admin:{self._url_name('create')}")
                           if request.user.has_perm(CREATE_PERMISSION) else None),
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        run = self.get_object(request, object_id)
        extra = {}
        if run is not None:
            settled_or_released = run.state in (PayoutRun.State.RELEASED,
                                                PayoutRun.State.SETTLED)
            extra = {
                "totals": self._totals(run),
                "move_refusals": self._refusals(request, run),
                "file_url": (reverse(f"admin:{self._url_name('file')}", args=[run.pk])
                             if settled_or_released and request.user.has_perm(FILE_PERMISSION)
                             else None),
                "results_url": (reverse(f"admin:{self._url_name('results')}", args=[run.pk])
                                if settled_or_released
                                and request.user.has_perm(RESULTS_PERMISSION) else None),
                "consignor_missing": (self._consignor_missing(request)
                                      if run.state in (PayoutRun.State.TO_CHECK,
                                                       PayoutRun.State.CREATED,
                                                       PayoutRun.State.RELEASED) else None),
            }
        return super().change_view(request, object_id, form_url,
                                   {**(extra_context or {}), **extra})

    @staticmethod
    def _totals(run: PayoutRun) -> dict:
        """What is checked before release: count and sum overall, by prefecture, by state."""
        totals = services.run_totals(run)
        return {
            "count": totals["count"], "total": totals["total"],
            "by_prefecture": [
                {"name": PREFECTURE_NAMES.get(row["facility__prefecture"],
                                              row["facility__prefecture"]),
                 "count": row["count"], "total": row["total"]}
                for row in totals["by_prefecture"]],
            "by_state": [
                {"name": PaymentLine.State(row["state"]).label, "count": row["count"],
                 "total": row["total"]}
                for row in totals["by_state"]],
        }

    def _refusals(self, request, run: PayoutRun) -> list[str]:
        """Why a payout officer may not make a move the run's state allows (the four-eyes
        rule: whoever created or checked it does not release), shown instead of the missing
        button; and, on a scheduled run waiting for its check, who does what."""
        if not request.user.has_perm(RELEASE_PERMISSION):
            return []
        found = []
        if run.state == PayoutRun.State.TO_CHECK:
            found.append("スケジュールで作成された支払バッチです。支払担当者の1人が件数・金額を"
                         "確かめて「確認する」を行い、確認した方とは別の支払担当者が承認します。")
        for name in self.move_services:
            problem = refusal(run, name, request.user)
            if problem is not None and not isinstance(problem, IllegalTransition):
                found.append(problem.message)
        return found

    def move_view(self, request, pk: int, name: str):
        """The confirmation page shows the run's totals next to the button."""
        response = super().move_view(request, pk, name)
        if isinstance(response, TemplateResponse) and not response.is_rendered:
            run = response.context_data["original"]
            response.template_name = "admin/payouts/payoutrun/move.html"
            response.context_data["totals"] = self._totals(run)
            response.context_data["lines"] = self._lines_page(request, run)
        return response

    @staticmethod
    def _lines_page(request, run: PayoutRun):
        """The lines the run pays, LINES_PER_PAGE a page, each account masked (the last 3
        digits, as on every page that is not the officer's own list of lines)."""
        lines = (run.lines.filter(state__in=PaymentLine.TRANSFER_STATES)
                 .select_related("facility").order_by("pk"))
        page = Paginator(lines, LINES_PER_PAGE).get_page(request.GET.get("page"))
        page.rows = [{"number": line.pk, "facility": line.facility,
                      "amount": line.amount, "bank": f"{line.bank_name} {line.branch_name}",
                      "account": f"{line.get_account_type_display()} "
                                 f"{mask_account_number(line.account_number)}",
                      "holder": line.holder_name} for line in page.object_list]
        return page

    # ---- 支払バッチを作成

    @staticmethod
    def _consignor_missing(request) -> dict | None:
        """Where the 振込依頼人 is set, when it is not set yet (a run's file cannot be written
        without it): the page that sets it for whoever may, its list for the others."""
        if Consignor.objects.exists():
            return None
        may_set = request.user.has_perm("payouts.add_consignor")
        return {"url": reverse("admin:payouts_consignor_add" if may_set
                               else "admin:payouts_consignor_changelist"),
                "may_set": may_set}

    def create_view(self, request):
        if not (self.has_view_permission(request) and request.user.has_perm(CREATE_PERMISSION)):
            raise PermissionDenied
        consignor_missing = self._consignor_missing(request)
        if consignor_missing is not None:
            # Said before anything: no form to fill in for a run that could not be paid.
            return TemplateResponse(request, "admin/payouts/payoutrun/create.html",
                                    self._context(request, "支払バッチを作成",
                                                  consignor_missing=consignor_missing),
                                    status=409 if request.method == "POST" else 200)
        initial = {"transfer_date": next_business_day(
            timezone.localdate() + timedelta(days=1))}
        form = CreateRunForm(request.POST if request.method == "POST" else None,
                             initial=initial)
        if request.method == "POST" and form.is_valid():
            try:
                run = services.create_run(program=form.cleaned_data["program"],
                                          transfer_date=form.cleaned_data["transfer_date"],
                                          actor=request.user)
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                if run.state == PayoutRun.State.EMPTY:
                    self.message_user(
                        request, f"{run.program.name}には支払の対象がありませんでした（支払バッチ"
                        f"{run.pk}は「{run.get_state_display()}」で終わりました）。",
                        messages.WARNING)
                else:
                    self.message_user(
                        request, f"支払バッチ{run.pk}を作成しました: {run.line_count:,}件、合計 "
                        f"{run.total_amount:,}円、振込指定日 {date_format(run.transfer_date)}。"
                        "内容を確かめ、作成者以外の支払担当者が承認してください。",
                        messages.SUCCESS)
                return redirect(self._change_url(run))
        return TemplateResponse(request, "admin/payouts/payoutrun/create.html",
                                self._context(request, "支払バッチを作成", form=form))

    # ---- 振込データをダウンロード

    def file_view(self, request, pk: int):
        if not (self.has_view_permission(request) and request.user.has_perm(FILE_PERMISSION)):
            raise PermissionDenied
        run = get_object_or_404(self.get_queryset(request), pk=pk)
        try:
            data = services.transfer_file(run=run, actor=request.user)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
            return redirect(self._change_url(run))
        except ZenginError as error:  # a name stored before its characters were checked
            self.message_user(request, f"振込データを作れませんでした: {error}", messages.ERROR)
            return redirect(self._change_url(run))
        response = HttpResponse(data, content_type="application/octet-stream")
        response["Content-Disposition"] = f'attachment; filename="sogofurikomi-{run.pk}.txt"'
        response["Cache-Control"] = "no-store"  # holds every payee's account number
        return response

    # ---- 振込結果を取り込む

    def results_view(self, request, pk: int):
        if not (self.has_view_permission(request)
                and request.user.has_perm(RESULTS_PERMISSION)):
            raise PermissionDenied
        run = get_object_or_404(self.get_queryset(request), pk=pk)
        refused = services.results_refusal(run)
        if run.state not in (PayoutRun.State.RELEASED, PayoutRun.State.SETTLED):
            self.message_user(request, refused, messages.WARNING)
            return redirect(self._change_url(run))
        # Before the file is written or the transfer date the page says why above its form;
        # a file sent then is refused by the services, next to the field.
        posted = request.method == "POST"
        form = ResultsForm(request.POST if posted else None, request.FILES if posted else None)
        errors: list[str] = []
        if posted and form.is_valid():
            try:
                summary = services.import_results(run=run, data=form.cleaned_data["file"].read(),
                                                  actor=request.user)
            except services.ResultErrors as error:
                errors = error.errors
                form.add_error("file", "振込結果を取り込めませんでした。何も変更していません。"
                               "下の一覧の行を直して、もう一度取り込んでください。")
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                text = (f"振込結果を取り込みました: 振込済 {summary.paid:,}件、振込不能 "
                        f"{summary.failed:,}件、取込済みで変更なし {summary.unchanged:,}件。")
                if summary.settled:
                    text += "すべての明細の結果がそろったため、支払バッチを「振込結果取込済み」にしました。"
                self.message_user(request, text, messages.SUCCESS)
                return redirect(self._change_url(run))
        return TemplateResponse(request, "admin/payouts/payoutrun/results.html", self._context(
            request, f"{run}: 振込結果を取り込む", form=form, original=run, refused=refused,
            errors=errors[:SHOWN_ERRORS], more_errors=max(0, len(errors) - SHOWN_ERRORS),
            change_url=self._change_url(run)))


admin.site.register(PayoutRun, PayoutRunAdmin)


# ---------------------------------------------------------------------------- payment lines


@admin.register(PaymentLine)
class PaymentLineAdmin(EvidenceAdmin, admin.ModelAdmin):
    """支払明細, read-only: made by a run, changed by its moves and the bank's results. The
    full account number is shown to payout officers only (portal/admin_masking.py)."""

    list_filter = ["run", "state", "failure_reason", "program"]
    search_fields = ["facility__code", "facility__name"]
    list_select_related = ["run", "run__program", "facility", "program"]
    list_display = ["number", "run", "facility", "program", "amount_yen", "state",
                    "failure_reason", "bank_name", "branch_name", "account_number",
                    "holder_name", "result_at"]
    fields = ["number", "run", "facility", "program", "source", "gross_amount", "deducted",
              "amount_yen", "state",
              "failure_reason", "result_at", "bank_code", "bank_name", "bank_kana",
              "branch_code", "branch_name", "branch_kana", "account_type", "account_number",
              "holder_name"]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.display(description="番号（顧客コード1）", ordering="pk")
    def number(self, line) -> str:
        return str(line.pk)

    @admin.display(description="金額", ordering="amount")
    def amount_yen(self, line) -> str:
        return yen_filter(line.amount)

    @admin.display(description="支払の元")
    def source(self, line) -> str:
        return services.describe_line(line)


# ------------------------------------------------------------------------------ recoveries


@admin.register(Recovery)
class RecoveryAdmin(WorkflowAdmin, CsvExportAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """返還請求 (docs/domain.md §5.4), made by a payout run for what an approved negative adjustment
    leaves after netting. Reminded (督促する) and settled (納付を確認する) by a payout officer,
    one by one from its page or for several from the list, after a confirmation page; the
    notice (PDF) as the facility reads it."""

    list_display = ["notice_number", "facility", "program", "amount_yen", "notice_date",
                    "due_date", "state", "paid_on"]
    list_filter = ["state", "program"]
    search_fields = ["notice_number", "facility__code", "facility__name"]
    list_select_related = ["facility", "program"]
    ordering = ["due_date", "pk"]
    actions = ["remind_selected", "confirm_selected"]
    fields = ["notice_number", "facility", "program", "adjustment", "run", "state",
              "amount_yen", "reason", "amount_before", "amount_after", "netted",
              "notice_date", "due_date", "reminded_at", "reminded_by", "paid_on",
              "confirmed_by", "notice_link"]
    readonly_fields = fields
    move_services = {
        "remind": lambda request, obj, reason: _netting().remind(obj, actor=request.user),
        "confirm_payment": lambda request, obj, reason: _netting().confirm_payment(
            obj, actor=request.user),
    }
    export_filename = "recoveries"
    export_columns = [
        ("通知番号", lambda r: r.notice_number),
        ("通知日", lambda r: r.notice_date.isoformat()),
        ("医療機関等コード・登録記号番号", lambda r: r.facility.code),
        ("施設名", lambda r: r.facility.name),
        ("プログラム", lambda r: r.program.name),
        ("調整の番号", lambda r: r.adjustment_id),
        ("これまでの支給額（円）", lambda r: r.amount_before),
        ("再判定の金額（円）", lambda r: r.amount_after),
        ("相殺した額（円）", lambda r: r.netted),
        ("返還額（円）", lambda r: r.amount),
        ("理由", lambda r: r.reason),
        ("納付期限", lambda r: r.due_date.isoformat()),
        ("状態", lambda r: r.get_state_display()),
        ("納付日", lambda r: r.paid_on.isoformat() if r.paid_on else ""),
    ]
    has_change_recovery_permission = permission_check("change_recovery")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        return [
            path("<int:pk>/notice.pdf", self.admin_site.admin_view(self.notice_view),
                 name="payouts_recovery_notice"),
            *super().get_urls(),
        ]

    @admin.display(description="返還額", ordering="amount")
    def amount_yen(self, recovery) -> str:
        return yen_filter(recovery.amount)

    @admin.display(description="通知書")
    def notice_link(self, recovery) -> str:
        return format_html('<a href="{}">返還請求書（PDF）</a>',
                           reverse("admin:payouts_recovery_notice", args=[recovery.pk]))

    def notice_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        recovery = get_object_or_404(self.get_queryset(request), pk=pk)
        response = HttpResponse(_netting().notice_pdf(recovery), content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="recovery-notice-{recovery.notice_number}.pdf"')
        response["Cache-Control"] = "private, no-store"
        return response

    def _bulk(self, request, queryset, name: str, label: str, make):
        """A confirmation page listing what the move will do, then the move on each
        recovery that may make it (the others are named with the reason)."""
        from django.core.exceptions import ValidationError

        try:
            chosen = list(queryset.select_related("facility", "program").order_by("pk"))
        except (ValueError, ValidationError):  # a selection that is no recovery's number
            self.message_user(request, "選択が正しくありません。一覧から選び直してください。",
                              messages.ERROR)
            return None
        if "confirmed" not in request.POST:
            return TemplateResponse(request, "admin/payouts/recovery_confirm.html", {
                **self.admin_site.each_context(request), "opts": self.opts,
                "title": f"{label}: 確認", "label": label, "recoveries": chosen,
                "action": request.POST.get("action", ""),
                "refusals": {r.pk: problem.message for r in chosen
                             if (problem := refusal(r, name, request.user)) is not None},
            })
        done = 0
        for recovery in chosen:
            try:
                make(recovery, actor=request.user)
            except ServiceError as error:
                self.message_user(request, f"{recovery.notice_number}: {error.message}",
                                  messages.WARNING)
            else:
                done += 1
        self.message_user(request, f"{done}件について「{label}」を行いました。", messages.SUCCESS)
        return None

    @admin.action(description="選択した返還請求を督促する", permissions=["change_recovery"])
    def remind_selected(self, request, queryset):
        return self._bulk(request, queryset, "remind", "督促する", _netting().remind)

    @admin.action(description="選択した返還請求の納付を確認する", permissions=["change_recovery"])
    def confirm_selected(self, request, queryset):
        return self._bulk(request, queryset, "confirm_payment", "納付を確認する",
                          _netting().confirm_payment)


def _netting():
    from . import netting

    return netting
