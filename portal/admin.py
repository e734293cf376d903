from allauth.account import admin as account_admin
from allauth.account.models import EmailAddress
from allauth.mfa import admin as mfa_admin
from allauth.mfa.models import Authenticator
from celery import schedules
from django import forms
from django.contrib import admin, messages
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from django_celery_beat import admin as celery_beat_admin
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from simple_history.admin import SimpleHistoryAdmin

from . import invitations
from .admin_permissions import OneRowAdmin
from .admin_widgets import WellFormedChoices
from .import_jobs import import_jobs_for, may_import
from .models import ContactPoint, ImportJob, User
from .templatetags.wareki import wareki_datetime_filter as wareki_datetime


@admin.register(User)
class UserAdmin(WellFormedChoices, BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "full_name", "is_staff", "is_active", "last_login"]
    search_fields = ["email", "full_name"]
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("個人情報", {"fields": ("full_name",)}),
        ("権限", {"fields": ("is_active", "is_staff", "is_superuser", "groups",
                            "user_permissions")}),
        ("日時", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1",
                                                               "password2")}),)
    readonly_fields = ["two_factor"]
    change_form_template = "admin/portal/user/change_form.html"

    @admin.display(description="二段階認証")
    def two_factor(self, user) -> str:
        if user.pk is None:
            return "—"
        if invitations.has_authenticator(user):
            return "設定済み"
        invitation = invitations.latest_open_invitation(user)
        if invitation is not None:
            return f"未設定（招待を送信済み。有効期限 {wareki_datetime(invitation.expires_at)}）"
        return "未設定" + ("（招待が必要です）" if user.is_staff else "")

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return (*fieldsets, ("二段階認証", {"fields": ("two_factor",)}))

    def get_urls(self):
        return [path("<path:object_id>/two-factor-invitation/",
                     self.admin_site.admin_view(self.invite_view),
                     name="portal_user_invite"),
                *super().get_urls()]

    def _invite(self, request, user) -> None:
        try:
            invitation, _link = invitations.issue_invitation(user=user, actor=request.user,
                                                             request=request)
        except invitations.InvitationRefused as refusal:
            self.message_user(request, refusal.message, messages.WARNING)
            return
        self.message_user(request, f"二段階認証の招待メールを {user.email} に送りました（有効期限 "
                                   f"{wareki_datetime(invitation.expires_at)}）。",
                          messages.SUCCESS)

    def invite_view(self, request, object_id):
        """「二段階認証の招待を送る」: a new one-time link to the account's address (the
        open one, if any, is revoked)."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        user = self.get_object(request, object_id)  # None for an unknown or malformed id
        if user is None:
            raise Http404
        self._invite(request, user)
        return HttpResponseRedirect(reverse("admin:portal_user_change", args=[user.pk]))

    def save_model(self, request, obj, form, change):
        became_staff = obj.is_staff and (not change or "is_staff" in form.changed_data)
        super().save_model(request, obj, form, change)
        # A new staff account (or one made staff) is invited at once: it can do nothing
        # before it sets up two-factor, and only the invitation lets it.
        if became_staff and not invitations.has_authenticator(obj):
            self._invite(request, obj)


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    """Read-only: jobs are made by the import pages of the facility master and statistics;
    shown to those who may import their kind."""

    list_display = ["pk", "kind", "original_name", "state", "created_by", "created_at",
                    "new_count", "updated_count", "error_count"]
    list_filter = ["kind", "state"]
    search_fields = ["original_name", "created_by__email"]
    exclude = ["stored_name"]

    def get_queryset(self, request):
        return import_jobs_for(user=request.user)

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None) -> bool:
        kinds = [obj.kind] if obj is not None else ImportJob.Kind.values
        return any(may_import(request.user, kind) for kind in kinds)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PeriodicTaskForm(celery_beat_admin.PeriodicTaskForm):
    """django-celery-beat's form reads `cleaned_data["task"]` even when that field was
    refused (say, longer than 200 characters), which failed the page; here the field's own
    error is shown instead."""

    def clean(self):
        if "task" not in self.cleaned_data and not self.cleaned_data.get("regtask"):
            return self.cleaned_data  # the task field already carries its error
        return super().clean()


class PeriodicTaskAdmin(WellFormedChoices, celery_beat_admin.PeriodicTaskAdmin):
    form = PeriodicTaskForm


admin.site.unregister(PeriodicTask)
admin.site.register(PeriodicTask, PeriodicTaskAdmin)

# Each field of a crontab schedule, with what celery's parser reads in it.
CRONTAB_FIELDS = {
    "minute": "分（0〜59）",
    "hour": "時（0〜23）",
    "day_of_month": "日（1〜31）",
    "month_of_year": "月（1〜12）",
    "day_of_week": "曜日（0〜6、日曜日が0。sun、mon なども可）",
}


class CrontabScheduleForm(forms.ModelForm):
    """Each field is read by celery's own crontab parser, as beat and the schedule's page
    read it: a value it cannot read (say, minute -1) is an error in Japanese next to its
    field, instead of a 500 (ParseException) when the page showed the refused schedule's
    description; a day no month has (2月30日) is refused too."""

    def clean(self):
        data = super().clean()
        for name, label in CRONTAB_FIELDS.items():
            if name in self.errors or data.get(name) is None:
                continue
            try:
                schedules.crontab(**{name: data[name]})
            except (schedules.ParseException, ValueError, TypeError):
                self.add_error(name, f"{label}として読み取れない値です。* 、数字、範囲（1-5）、"
                                     "間隔（*/15）、コンマ区切り（0,30）で入力してください。")
        if not self.errors:
            try:
                schedules.crontab(**{name: data[name] for name in CRONTAB_FIELDS})
            except (schedules.ParseException, ValueError, TypeError):
                self.add_error("day_of_month", "この日と月の組み合わせは実在しません（例: 2月30日）。")
        return data


class CrontabScheduleAdmin(WellFormedChoices, celery_beat_admin.CrontabScheduleAdmin):
    form = CrontabScheduleForm


admin.site.unregister(CrontabSchedule)
admin.site.register(CrontabSchedule, CrontabScheduleAdmin)


# Other packages' admins, with choice fields that refuse malformed keys with an error.
class GroupAdmin(WellFormedChoices, auth_admin.GroupAdmin):
    pass


class EmailAddressAdmin(WellFormedChoices, account_admin.EmailAddressAdmin):
    pass


class AuthenticatorAdmin(WellFormedChoices, mfa_admin.AuthenticatorAdmin):
    pass


for model, model_admin in ((Group, GroupAdmin), (EmailAddress, EmailAddressAdmin),
                           (Authenticator, AuthenticatorAdmin)):
    admin.site.unregister(model)
    admin.site.register(model, model_admin)


@admin.register(ContactPoint)
class ContactPointAdmin(OneRowAdmin, SimpleHistoryAdmin):  # every letter and e-mail names it
    """問い合わせ先: one row, printed on every letter, notice and e-mail (portal/contact.py);
    changed by the system administrators, read by every administrator. Every change is kept
    in its history."""

    readonly_fields = ["updated_by", "updated_at"]
    list_display = ["name", "phone", "hours", "postal_address", "url", "updated_at"]
    fields = ["name", "phone", "hours", "postcode", "address", "url", *readonly_fields]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "url":  # 「portal.example.jp/contact」 is read as https://…
            kwargs["assume_scheme"] = "https"
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description="住所")
    def postal_address(self, contact) -> str:
        return contact.postal_address

