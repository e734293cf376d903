from django.contrib import admin

from portal.admin_permissions import EvidenceAdmin
from portal.admin_widgets import WellFormedChoices

from .banking import mask_account_number
from .models import BankAccount


@admin.register(BankAccount)
class BankAccountAdmin(WellFormedChoices, EvidenceAdmin, admin.ModelAdmin):
    """振込先口座, read-only here (the facility registers and changes it; every version is
    in its history, not shown here). The full account number is shown to payout officers
    only (`payouts.view_account_number`); everyone else sees the last 3 digits."""

    list_select_related = ["facility"]
    search_fields = ["facility__code", "facility__name", "holder_name"]
    list_filter = ["account_type"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def _full(self, request) -> bool:
        return request.user.has_perm("payouts.view_account_number")

    def get_list_display(self, request):
        full = self._full(request)

        @admin.display(description="口座番号")
        def number(account) -> str:
            return account.account_number if full else mask_account_number(account.account_number)

        return ["facility", "bank_name", "branch_name", "account_type", number, "holder_name",
                "updated_at"]

    def get_fields(self, request, obj=None):
        fields = ["facility", "bank_code", "bank_name", "branch_code", "branch_name",
                  "account_type", "holder_name", "japan_post_kigo", "updated_by", "updated_at"]
        return [*fields[:6], "account_number" if self._full(request) else "masked_number",
                *fields[6:]]

    def get_readonly_fields(self, request, obj=None):
        return self.get_fields(request, obj)

    @admin.display(description="口座番号")
    def masked_number(self, account) -> str:
        return mask_account_number(account.account_number)
