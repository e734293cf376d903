from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from simple_history.admin import SimpleHistoryAdmin

from portal.admin_permissions import EvidenceAdmin, permission_check
from portal.admin_queues import WaitingFilter
from portal.admin_widgets import WellFormedChoices
from portal.admin_workflow import AssignedFilter, CsvExportAdmin, WorkflowAdmin
from portal.errors import ServiceError, add_error_to_form
from portal.templatetags.yen import yen_filter
from portal.workflow import refusal

from . import services
from .forms import ReviewForm
from .models import Claim, ClaimItem, ClaimState, Document, FreeReaderGrant
from .views import serve_document


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


# The review page's decisions and the moves they make.
REVIEW_MOVES = {"approve": "approve", "return": "send_back", "reject": "reject"}


class ClaimItemInline(admin.TabularInline):
    model = ClaimItem
    extra = 0
    can_delete = False
    fields = ["description", "quantity", "unit_price_yen", "tax_yen", "vendor", "purchase_date",
              "receipts", "return_note"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("documents")

    @admin.display(description="単価（税抜）")
    def unit_price_yen(self, item) -> str:
        return yen_filter(item.unit_price)

    @admin.display(description="消費税")
    def tax_yen(self, item) -> str:
        return yen_filter(item.tax)

    @admin.display(description="添付")
    def receipts(self, item):
        return format_html_join(
            " ", '<a href="{}">{}</a>',
            ((reverse("admin:subsidies_document_file", args=[d.pk]), d.get_kind_display())
             for d in item.documents.all()),
        )


@admin.register(Claim)
class ClaimAdmin(WorkflowAdmin, CsvExportAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """The claims queue (waiting longest first; assigned to me). A claim is taken into
    review from its own page and decided on the review page, beside its receipts; it is
    paid by a payout run (支払バッチ), never from here."""

    # Fits 1280 px with the filters beside it: the amount decided, the dates and the e-mail
    # addresses are on the claim's page and in the CSV.
    list_display = ["receipt_number", "facility", "program_short", "state", "computed_amount",
                    "waiting_days", "reviewer"]
    list_filter = [WaitingFilter, AssignedFilter, "program", "state"]
    search_fields = ["receipt_number", "facility__code", "facility__name"]
    list_select_related = ["facility", "program", "assigned_to"]
    ordering = ["submitted_at"]
    inlines = [ClaimItemInline]
    actions = ["start_review_selected", "assign_to_me"]
    move_services = {
        "start_review": lambda request, obj, reason: services.start_review(
            claim=obj, actor=request.user),
    }
    moves_without_confirmation = frozenset({"start_review"})  # reversible: 差し戻す
    moves_elsewhere = {"approve": "subsidies_claim_review", "reject": "subsidies_claim_review",
                       "send_back": "subsidies_claim_review"}
    export_filename = "claims"
    export_columns = [
        ("受付番号", lambda c: c.receipt_number or ""),
        ("医療機関等コード・登録記号番号", lambda c: c.facility.code),
        ("施設名", lambda c: c.facility.name),
        ("補助", lambda c: c.program.name),
        ("状態", lambda c: c.get_state_display()),
        ("算定額（円）", lambda c: c.computed_amount),
        ("交付決定額（円）", lambda c: c.approved_amount),
        ("提出日時", lambda c: _local(c.submitted_at)),
        ("決定日時", lambda c: _local(c.decided_at)),
        ("審査の担当者", lambda c: c.assigned_to.email if c.assigned_to else ""),
    ]
    readonly_fields = ["facility", "program", "state", "receipt_number", "readers",
                       "computed_yen", "calculation", "approved_yen", "decision_reason",
                       "return_reason", "submitted_at", "decided_at", "decided_by", "paid_at",
                       "assigned_to", "review_link"]
    fields = readonly_fields
    has_review_permission = permission_check("review_claim")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # a claim changes only by its moves

    @admin.display(description="補助", ordering="program__name")
    def program_short(self, claim) -> str:
        """「施術所のモバイル端末等」 for 「補助金: 施術所のモバイル端末等（最大4.1万円）」."""
        name = claim.program.name.removeprefix("補助金: ").removeprefix("補助金:")
        return name.split("（")[0].strip() or claim.program.name

    @admin.display(description="担当者", ordering="assigned_to__email")
    def reviewer(self, claim) -> str:
        user = claim.assigned_to
        if user is None:
            return "—"
        return getattr(user, "full_name", "") or user.email.split("@")[0]

    @admin.display(description="算定額")
    def computed_yen(self, claim) -> str:
        return yen_filter(claim.computed_amount) or "—"

    @admin.display(description="交付決定額")
    def approved_yen(self, claim) -> str:
        return yen_filter(claim.approved_amount) or "—"

    @admin.display(description="審査")
    def review_link(self, claim):
        if claim.state != ClaimState.UNDER_REVIEW:
            return "—"
        return format_html('<a class="button" href="{}">領収書を見ながら審査する</a>',
                           reverse("admin:subsidies_claim_review", args=[claim.pk]))

    def _bulk(self, request, queryset, move, label):
        done = 0
        for claim in queryset:
            try:
                move(claim)
                done += 1
            except ServiceError as error:
                self.message_user(request, f"{claim}: {error.message}", messages.ERROR)
        if done:
            self.message_user(request, f"{done}件を{label}しました。", messages.SUCCESS)

    @admin.action(description="選択した申請の審査を開始する", permissions=["review"])
    def start_review_selected(self, request, queryset):
        self._bulk(request, queryset,
                   lambda c: services.start_review(claim=c, actor=request.user), "審査開始に")

    def get_urls(self):
        return [
            path("<int:pk>/review/", self.admin_site.admin_view(self.review_view),
                 name="subsidies_claim_review"),
            *super().get_urls(),
        ]

    def review_view(self, request, pk: int):
        """Receipts beside the items, and the decisions this user may make on this claim
        now (the services refuse the others as well)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        claim = get_object_or_404(Claim.objects.select_related("facility", "program"), pk=pk)
        items = list(claim.items.prefetch_related("documents"))
        form = ReviewForm(request.POST or None, initial={"amount": claim.computed_amount})
        allowed = [(value, label) for value, label in ReviewForm.DECISIONS
                   if refusal(claim, REVIEW_MOVES[value], request.user) is None]
        form.fields["decision"].choices = allowed
        refusals = sorted({problem.message for move in REVIEW_MOVES.values()
                           if (problem := refusal(claim, move, request.user)) is not None}
                          ) if not allowed else []
        if request.method == "POST" and not allowed:
            raise PermissionDenied
        if request.method == "POST" and form.is_valid():
            decision = form.cleaned_data["decision"]
            reason = form.cleaned_data["reason"] or ""
            try:
                if decision == "approve":
                    services.approve_claim(claim=claim, actor=request.user,
                                           amount=form.cleaned_data["amount"], reason=reason)
                elif decision == "return":
                    notes = {item.pk: request.POST.get(f"note_{item.pk}", "") for item in items}
                    services.return_claim(claim=claim, actor=request.user, reason=reason,
                                          item_notes=notes)
                else:
                    services.reject_claim(claim=claim, actor=request.user, reason=reason)
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                self.message_user(request, "審査結果を登録しました。", messages.SUCCESS)
                return redirect("admin:subsidies_claim_change", claim.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"審査: {claim}", "claim": claim, "items": items, "form": form,
            "can_decide": bool(allowed), "refusals": refusals,
            # A reviewer may send back; who decides is said beside it (docs/decisions.md D1.9).
            "decided_by_others": (claim.state == ClaimState.UNDER_REVIEW
                                  and "approve" not in dict(allowed)),
            "opts": self.model._meta,
        }
        return TemplateResponse(request, "admin/subsidies/review.html", context)


@admin.register(Document)
class DocumentAdmin(EvidenceAdmin, admin.ModelAdmin):
    list_display = ["claim", "kind", "original_name", "content_type", "size", "uploaded_at"]
    readonly_fields = ["claim", "item", "kind", "original_name", "content_type", "size",
                       "sha256", "uploaded_by", "uploaded_at"]
    exclude = ["stored_name"]

    def has_add_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("<int:pk>/file/", self.admin_site.admin_view(self.file_view),
                 name="subsidies_document_file"),
            *super().get_urls(),
        ]

    def file_view(self, request, pk: int):
        if not self.has_view_permission(request):
            raise PermissionDenied
        return serve_document(Document.objects.filter(pk=pk).first())


@admin.register(FreeReaderGrant)
class FreeReaderGrantAdmin(WellFormedChoices, SimpleHistoryAdmin):
    list_display = ["facility", "free_readers"]
    search_fields = ["facility__code", "facility__name"]
    autocomplete_fields = ["facility"]
