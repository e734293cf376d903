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
