from allauth.account import admin as account_admin
from allauth.account.models import EmailAddress
from allauth.mfa import admin as mfa_admin
from allauth.mfa.models import Authenticator
from django.contrib import admin
from django.contrib.auth import admin as auth_admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group
from django_celery_beat import admin as celery_beat_admin
from django_celery_beat.models import PeriodicTask

from .admin_widgets import WellFormedChoices
from .import_jobs import import_jobs_for, may_import
from .models import ImportJob, User


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
