"""Admin actions and pages ask for the permission of what they do, never just the view
permission: `allowed_permissions = ("review",)` on an action is answered by
`has_review_permission`, which these helpers build from a permission code."""


def permission_check(codename: str):
    """A `has_<name>_permission(self, request, obj=None)` method for a ModelAdmin, true when
    the user holds `<app_label>.<codename>` of the admin's model."""

    def check(self, request, obj=None) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    return check


class EvidenceAdmin:
    """Records that are evidence (applications, claims, results, reports, history) are never
    deleted from the admin; a withdrawal is a state."""

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class OneRowAdmin:
    """A setting kept in one row (the 振込依頼人, the 問い合わせ先): added once, then changed,
    never deleted (the documents name it), read-only to whoever may only view it; saved as
    row 1 (the database refuses any other) with who changed it."""

    def has_add_permission(self, request):
        return super().has_add_permission(request) and not self.model.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and not self.has_change_permission(request, obj):
            return self.get_fields(request, obj)
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        obj.pk = 1
        obj.updated_by = request.user
        super().save_model(request, obj, form, change)
