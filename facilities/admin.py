from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.admin.widgets import AutocompleteSelect
from django.forms.models import BaseInlineFormSet
from django.utils import timezone
from simple_history.admin import SimpleHistoryAdmin

from portal.admin_imports import CsvImportExportAdmin
from portal.admin_masking import masked_fields_of, shows_whole
from portal.admin_permissions import EvidenceAdmin, permission_check
from portal.admin_widgets import WellFormedChoices
from portal.admin_workflow import AssignedFilter, CsvExportAdmin, WorkflowAdmin
from portal.errors import ServiceError, add_error_to_form

from . import services
from .fact_changes import facts_changed
from .models import (
    Activity,
    ApplicationKind,
    DeviceAccount,
    Facility,
    GoLive,
    LinkAttempt,
    Membership,
    PublicListBuild,
    UsageApplication,
)


class RowAutocompleteSelect(AutocompleteSelect):
    """An autocomplete that shows its row's own object, loaded with the rows, instead of
    asking the database for it once per row (`known`, set by MembershipFormSet)."""

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


@admin.register(Facility)
class FacilityAdmin(WellFormedChoices, CsvImportExportAdmin, SimpleHistoryAdmin):
    import_kind_name = "facility_master"
    list_display = ["code", "name", "kind", "prefecture", "main_facility"]
    list_filter = ["kind", "prefecture"]
    search_fields = ["code", "name", "address"]
    autocomplete_fields = ["main_facility"]
    inlines = [MembershipInline]

    def has_export_permission(self, request) -> bool:
        # The export writes 請求口座番号下4桁 (the link secret): for those who see it whole.
        return super().has_export_permission(request) and shows_whole(
            request.user, masked_fields_of(Facility)["account_last4"])

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and {"kind", "main_facility"} & set(form.changed_data):
            # Kind and 併設 are facts of the results: this facility and its former and new
            # main facility are determined again after the save commits.
            facts_changed([obj.pk, form.initial.get("main_facility"), obj.main_facility_id])


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
    list_filter = [AssignedFilter, "state", "kind", "channel", "facility__kind"]
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


@admin.register(LinkAttempt)
class LinkAttemptAdmin(EvidenceAdmin, admin.ModelAdmin):
    list_display = ["created_at", "user", "code_entered", "succeeded", "reason", "ip_address"]
    list_filter = ["succeeded", "reason"]
    search_fields = ["user__email", "code_entered"]

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False


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
