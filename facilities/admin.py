from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.forms.models import BaseInlineFormSet
from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from simple_history.admin import SimpleHistoryAdmin

from portal.admin_imports import CsvImportExportAdmin
from portal.admin_masking import masked_fields_of, shows_whole
from portal.admin_permissions import EvidenceAdmin, permission_check
from portal.admin_queues import WaitingFilter
from portal.admin_widgets import WellFormedAutocompleteSelect, WellFormedChoices
from portal.admin_workflow import AssignedFilter, CsvExportAdmin, WorkflowAdmin
from portal.errors import ServiceError, add_error_to_form
from portal.pdf import render_pdf

from . import services
from .fact_changes import facts_changed
from .models import (
    LINK_ATTEMPT_RESULTS,
    Activity,
    ApplicationKind,
    DeviceAccount,
    Facility,
    GoLive,
    LinkAttempt,
    LinkRequest,
    LinkRequestState,
    LinkRoute,
    Membership,
    PublicListBuild,
    UsageApplication,
)


class RowAutocompleteSelect(WellFormedAutocompleteSelect):
    """An autocomplete that shows its row's own object, loaded with the rows, instead of
    asking the database for it once per row (`known`, set by MembershipFormSet). A refused
    row shows its error: a malformed key (not a number) is not looked up."""

    known = None

    def optgroups(self, name, value, attr=None):
        known = self.known
        chosen = [str(v) for v in value if str(v) not in self.choices.field.empty_values]
        if known is None or chosen != [str(known.pk)]:
            return super().optgroups(name, value, attr)
        options = [] if self.is_required else [self.create_option(name, "", "", False, 0)]
        options.append(self.create_option(name, known.pk,
                                          self.choices.field.label_from_instance(known), True,
                                          len(options)))
        return [(None, options, 0)]


class MembershipFormSet(BaseInlineFormSet):
    def _construct_form(self, i, **kwargs):
        form = super()._construct_form(i, **kwargs)
        widget = form.fields["user"].widget
        widget = getattr(widget, "widget", widget)  # inside the admin's add/change links
        if form.instance.pk and isinstance(widget, RowAutocompleteSelect):
            widget.known = form.instance.user
        return form


class MembershipInline(WellFormedChoices, admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]
    formset = MembershipFormSet

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("user", "facility")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            kwargs["widget"] = RowAutocompleteSelect(db_field, self.admin_site,
                                                     using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class FacilityAdminForm(forms.ModelForm):
    """A facility in a 併設 stays a 施術所: its kind changes only after the 併設 ends."""

    def clean_postcode(self):
        from portal.contact import normalise_postcode

        typed = self.cleaned_data.get("postcode", "")
        if not typed:
            return ""
        postcode = normalise_postcode(typed)
        if postcode is None:
            raise forms.ValidationError("郵便番号は数字7桁で入力してください（例: 100-8916）。")
        return postcode

    def clean_kind(self):
        kind = self.cleaned_data.get("kind")
        if self.instance.pk and kind:
            side = services.annex_side(self.instance)
            refusal = services.kind_change_refusal(services.AnnexSide(
                name=side.name, kind=kind, has_main=side.has_main,
                has_subordinates=side.has_subordinates))
            if refusal:
                raise forms.ValidationError(refusal)
        return kind


@admin.register(Facility)
class FacilityAdmin(WellFormedChoices, CsvImportExportAdmin, SimpleHistoryAdmin):
    import_kind_name = "facility_master"
    list_display = ["code", "name", "kind", "prefecture", "main_facility"]
    list_filter = ["kind", "prefecture"]
    search_fields = ["code", "name", "address"]
    # 併設 changes only through its pairing (obligation) or the master import, both through
    # services.set_main_facility; here it is shown, with a link to the facility's pairings.
    form = FacilityAdminForm
    readonly_fields = ["main_facility", "annex_pairings"]
    inlines = [MembershipInline]

    @admin.display(description="併設申告")
    def annex_pairings(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        url = reverse("admin:obligation_annexpairing_changelist")
        return format_html('<a href="{}?{}">この施設の併設申告を見る</a>', url,
                           urlencode({"q": obj.code}))

    def has_export_permission(self, request) -> bool:
        # The export writes 請求口座番号下4桁 (the link secret): for those who see it whole.
        return super().has_export_permission(request) and shows_whole(
            request.user, masked_fields_of(Facility)["account_last4"])

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and "kind" in form.changed_data:
            # The kind is a fact of the results: this facility and its main facility are
            # determined again after the save commits.
            facts_changed([obj.pk, obj.main_facility_id])


@admin.register(Membership)
class MembershipAdmin(WellFormedChoices, SimpleHistoryAdmin):
    list_display = ["user", "facility", "created_at"]
    search_fields = ["user__email", "facility__code", "facility__name"]
    autocomplete_fields = ["user", "facility"]


class ReviewActionForm(ActionForm):
    reason = forms.CharField(
        label="差戻し理由（差戻しのとき必須）", required=False,
        widget=forms.TextInput(attrs={"size": 60}),
    )


class PostalApplicationForm(forms.ModelForm):
    """A paper (郵送) 利用開始申請: checked by the same rules as an online one before it is
    saved, so that a refusal appears next to the field instead of failing the page."""

    class Meta:
        model = UsageApplication
        fields = ["facility", "contact_name", "founder_name", "phone", "email", "staff_count",
                  "device_count"]

    def clean(self):
        data = super().clean()
        facility = data.get("facility")
        if facility is not None and not self.errors:
            try:
                services.check_can_apply(facility, ApplicationKind.START, self.application_input())
            except ServiceError as error:
                add_error_to_form(self, error)
        return data

    def application_input(self) -> services.ApplicationInput:
        data = self.cleaned_data
        return services.ApplicationInput(
            contact_name=data["contact_name"], founder_name=data["founder_name"],
            phone=data["phone"], email=data["email"], staff_count=data.get("staff_count"),
            device_count=data.get("device_count"),
        )


def _local(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


@admin.register(UsageApplication)
class UsageApplicationAdmin(WorkflowAdmin, CsvExportAdmin, WellFormedChoices, EvidenceAdmin,
                            SimpleHistoryAdmin):
    """The review queue (waiting longest first; assigned to me), each application decided
    from its own page or in bulk."""

    list_display = [
        "receipt_number", "facility", "kind", "channel", "state", "device_count", "submitted_at",
        "waiting_days", "assigned_to",
    ]
    list_filter = [WaitingFilter, AssignedFilter, "state", "kind", "channel", "facility__kind"]
    list_select_related = ["facility", "assigned_to"]
    ordering = ["submitted_at"]
    search_fields = ["receipt_number", "facility__code", "facility__name", "email"]
    date_hierarchy = "submitted_at"
    autocomplete_fields = ["facility"]
    action_form = ReviewActionForm
    actions = ["accept_selected", "return_selected", "second_check_selected", "assign_to_me"]
    move_services = {
        "accept": lambda request, obj, reason: services.accept_application(
            application=obj, actor=request.user),
        "send_back": lambda request, obj, reason: services.return_application(
            application=obj, actor=request.user, reason=reason),
        "start_second_check": lambda request, obj, reason: services.start_second_check(
            application=obj, actor=request.user),
    }
    moves_with_reason = frozenset({"send_back"})
    export_filename = "applications"
    export_columns = [
        ("受付番号", lambda a: a.receipt_number),
        ("医療機関等コード・登録記号番号", lambda a: a.facility.code),
        ("施設名", lambda a: a.facility.name),
        ("申請区分", lambda a: a.get_kind_display()),
        ("受付方法", lambda a: a.get_channel_display()),
        ("状態", lambda a: a.get_state_display()),
        ("申請台数", lambda a: a.device_count),
        ("申請日時", lambda a: _local(a.submitted_at)),
        ("審査日時", lambda a: _local(a.decided_at)),
        ("審査の担当者", lambda a: a.assigned_to.email if a.assigned_to else ""),
    ]
    readonly_fields = [
        "receipt_number", "state", "submitted_by", "submitted_at", "decided_by", "decided_at",
        "return_reason",
    ]
    fields = [
        "facility", "kind", "channel", "receipt_number", "state", "contact_name", "founder_name",
        "phone", "email", "staff_count", "device_count", "end_action", "planned_end_date",
        "return_reason", "submitted_by", "submitted_at", "decided_by", "decided_at",
    ]

    has_review_permission = permission_check("review_usageapplication")

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = PostalApplicationForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return PostalApplicationForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [f for f in self.fields]  # decisions go through the actions, never edits

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        """Adding here registers a paper (郵送) 利用開始申請 through the service."""
        if change:
            return
        try:
            created = services.register_postal_application(
                actor=request.user, facility=obj.facility, data=form.application_input()
            )
        except ServiceError as error:  # decided meanwhile by someone else
            self.message_user(request, error.message, messages.ERROR)
            return
        obj.pk = created.pk
        obj.receipt_number = created.receipt_number

    def _review(self, request, queryset, action, label):
        done, refused = 0, []
        for application in queryset.select_related("facility"):
            try:
                action(application)
            except ServiceError as error:
                refused.append(error.message)
            else:
                done += 1
        if done:
            self.message_user(request, f"{done}件を{label}しました。", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.ERROR)

    @admin.action(description="選択した申請を承認する", permissions=["review"])
    def accept_selected(self, request, queryset):
        self._review(
            request, queryset,
            lambda a: services.accept_application(application=a, actor=request.user), "承認",
        )

    @admin.action(description="選択した申請を差し戻す（理由を入力）", permissions=["review"])
    def return_selected(self, request, queryset):
        reason = request.POST.get("reason", "").strip()
        if not reason:
            self.message_user(request, "差戻し理由を入力してください。", messages.ERROR)
            return
        self._review(
            request, queryset,
            lambda a: services.return_application(application=a, actor=request.user,
                                                  reason=reason),
            "差戻し",
        )

    @admin.action(description="選択した申請を二次確認に回す", permissions=["review"])
    def second_check_selected(self, request, queryset):
        self._review(
            request, queryset,
            lambda a: services.start_second_check(application=a, actor=request.user),
            "二次確認に",
        )


@admin.register(DeviceAccount)
class DeviceAccountAdmin(EvidenceAdmin, SimpleHistoryAdmin):
    list_display = ["login_id", "facility", "number", "is_active", "credentials_issued_at"]
    list_filter = ["is_active"]
    search_fields = ["login_id", "facility__code", "facility__name"]
    exclude = ["password_hash", "activation_code_hash"]
    readonly_fields = [
        "facility", "application", "number", "login_id", "credentials_issued_at", "issue_count",
        "is_active", "ended_at",
    ]

    def has_add_permission(self, request):
        return False


@admin.register(GoLive)
class GoLiveAdmin(WellFormedChoices, EvidenceAdmin, SimpleHistoryAdmin):
    list_display = ["facility", "date", "source", "updated_at"]
    list_filter = ["source"]
    search_fields = ["facility__code", "facility__name"]
    autocomplete_fields = ["facility"]
    date_hierarchy = "date"


LINK_ATTEMPT_RESULT_LABELS = dict(LINK_ATTEMPT_RESULTS)


class LinkAttemptResultFilter(admin.SimpleListFilter):
    title = "結果"
    parameter_name = "result"

    def lookups(self, request, model_admin):
        return [(value or "accepted", label) for value, label in LINK_ATTEMPT_RESULTS]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(reason="" if value == "accepted" else value)


@admin.register(LinkAttempt)
class LinkAttemptAdmin(EvidenceAdmin, admin.ModelAdmin):
    list_display = ["created_at", "user", "code_entered", "succeeded", "result", "ip_address"]
    list_filter = ["succeeded", LinkAttemptResultFilter]
    search_fields = ["user__email", "code_entered"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    @admin.display(description="結果", ordering="reason")
    def result(self, attempt) -> str:
        return LINK_ATTEMPT_RESULT_LABELS.get(attempt.reason, attempt.reason)


@admin.register(Activity)
class ActivityAdmin(EvidenceAdmin, admin.ModelAdmin):
    list_display = ["created_at", "facility", "verb", "summary", "receipt_number", "actor",
                    "visible_to_facility"]
    list_filter = ["verb", "visible_to_facility"]
    search_fields = ["facility__code", "receipt_number", "summary"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


@admin.register(PublicListBuild)
class PublicListBuildAdmin(EvidenceAdmin, admin.ModelAdmin):
    list_display = ["built_at", "entry_count"]

    def has_add_permission(self, request):
        return False  # built by the weekly job or `build_public_list`

    def has_change_permission(self, request, obj=None):
        return False


class LetterFilter(admin.SimpleListFilter):
    """The letters of first-staff requests still open: to print, to post, posted."""

    title = "確認コードの通知書"
    parameter_name = "letter"

    def lookups(self, request, model_admin):
        return [("to_print", "作成待ち"), ("to_post", "発送待ち"), ("posted", "発送済み")]

    def queryset(self, request, queryset):
        if self.value() not in ("to_print", "to_post", "posted"):
            return queryset
        waiting = queryset.filter(route=LinkRoute.LETTER, state=LinkRequestState.PENDING,
                                  expires_at__gt=timezone.now())
        if self.value() == "to_print":
            return waiting.filter(letter_issued_at__isnull=True)
        if self.value() == "to_post":
            return waiting.filter(letter_issued_at__isnull=False, letter_sent_at__isnull=True)
        return waiting.filter(letter_sent_at__isnull=False)


@admin.register(LinkRequest)
class LinkRequestAdmin(WorkflowAdmin, EvidenceAdmin, SimpleHistoryAdmin):
    """Requests to become a facility's staff. Those of a facility with staff are decided by
    its staff on the portal; those of a facility without staff wait here for their letter:
    「作成待ち」 → print (a new code each time, in the PDF only) → post → 「発送済みにする」."""

    list_display = ["created_at", "facility", "facility_address", "user", "route", "state",
                    "expires_at", "letter_issued_at", "letter_sent_at", "code_failures"]
    list_filter = [WaitingFilter, LetterFilter, "state", "route"]
    list_select_related = ["facility", "user"]
    search_fields = ["facility__code", "facility__name", "user__email"]
    ordering = ["created_at"]
    actions = ["print_letters", "mark_letters_sent"]
    move_services = {
        "cancel": lambda request, obj, reason: services.cancel_link_request(
            link_request=obj, actor=request.user),
    }
    fields = readonly_fields = [
        "facility", "facility_address", "user", "route", "state", "created_at", "expires_at",
        "decided_by", "decided_at", "letter_count", "letter_issued_at", "letter_sent_at",
        "letter_sent_by", "code_failures", "ip_address",
    ]

    has_handle_permission = permission_check("handle_linkrequest")

    @admin.display(description="所在地（通知書の送付先）")
    def facility_address(self, obj) -> str:
        if not obj.facility.address.strip():
            return "（施設マスタに所在地がありません）"
        return f"{obj.facility.prefecture_name}{obj.facility.address}"

    def has_add_permission(self, request):
        return False  # made on the portal by the requester

    def has_change_permission(self, request, obj=None):
        return False if obj is not None else super().has_change_permission(request, obj)

    @admin.action(description="選択した申請の確認コードの通知書を作成する（PDF。以前の通知書の"
                  "コードは使えなくなります）", permissions=["handle"])
    def print_letters(self, request, queryset):
        letters, refused = services.issue_link_letters(link_requests=list(queryset),
                                                       actor=request.user)
        for message in refused:
            self.message_user(request, message, messages.WARNING)
        if not letters:
            return None
        pdf = render_pdf("pdf/link_code_letter.html", {
            "letters": letters, "today": timezone.localdate(), "issuer": services.LINK_LETTER_ISSUER,
            "tries": settings.FACILITY_LINK_CODE_MAX_FAILURES})
        self.message_user(request, f"{len(letters)}通の通知書を作成しました。郵送したら"
                          "「発送済みにする」を行ってください。", messages.SUCCESS)
        response = HttpResponse(pdf, content_type="application/pdf")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = f'attachment; filename="link-code-letters-{stamp}.pdf"'
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description="選択した申請の通知書を発送済みにする", permissions=["handle"])
    def mark_letters_sent(self, request, queryset):
        marked, refused = services.mark_link_letters_sent(link_requests=list(queryset),
                                                          actor=request.user)
        if marked:
            self.message_user(request, f"{marked}件を発送済みにしました。", messages.SUCCESS)
        for message in refused:
            self.message_user(request, message, messages.WARNING)
