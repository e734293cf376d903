"""The admin's 履歴 page of every object: its whole history from every audit trail in time
order (portal/history.py), in place of Django's and simple-history's own history lists.

`PortalAdminSite.register` puts `MergedHistoryAdmin` in front of every ModelAdmin of the site,
so the 履歴 link of every change page leads here. The page is shown to whoever may view the
object in its admin (the admin's own `has_view_permission`, its queryset's scope; two-factor
as on every admin page). Simple-history's version pages (one record as a form) stay, linked
from each change.
"""

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, reverse


class MergedHistoryAdmin:
    history_page_size = 200
    merged_history_template = "admin/portal/object_history.html"

    def history_view(self, request, object_id, extra_context=None):
        from .history import history_of  # reads models: not at the site's import

        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = history_of(obj, user=request.user)
        paginator = Paginator(entries, self.history_page_size)
        page = paginator.get_page(request.GET.get("p"))
        links = _Links(self, request, obj)
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": f"履歴: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": self.opts,
            "module_name": self.opts.verbose_name_plural,
            "rows": [(entry, links.version(entry), links.target(entry))
                     for entry in page.object_list],
            "page": page,
            "page_range": (paginator.get_elided_page_range(page.number)
                           if paginator.num_pages > 1 else []),
            "count": paginator.count,
            **(extra_context or {}),
        }
        return TemplateResponse(request, self.merged_history_template, context)


class _Links:
    """The links of the page's rows, with no query: a change's version page, and the page
    of what another object's entry is about (for those who may view it)."""

    def __init__(self, model_admin, request, obj):
        self.model_admin, self.request, self.obj = model_admin, request, obj
        self.site = model_admin.admin_site
        self._may_view: dict[type, bool] = {}

    def version(self, entry) -> str:
        if entry.version_id is None or not hasattr(self.model_admin, "history_form_view"):
            return ""
        opts = self.model_admin.opts
        try:
            return reverse(f"{self.site.name}:{opts.app_label}_{opts.model_name}_simple_history",
                           args=[self.obj.pk, entry.version_id])
        except NoReverseMatch:
            return ""

    def target(self, entry) -> str:
        target = entry.target
        if target is None:
            return ""
        model_admin = self.site._registry.get(target.model)
        if model_admin is None:
            return ""
        if target.model not in self._may_view:
            self._may_view[target.model] = model_admin.has_view_or_change_permission(
                self.request)
        if not self._may_view[target.model]:
            return ""
        opts = target.model._meta
        return reverse(f"{self.site.name}:{opts.app_label}_{opts.model_name}_history",
                       args=[target.pk])


def with_merged_history(admin_class):
    """The admin class with MergedHistoryAdmin in front (PortalAdminSite.register)."""
    if issubclass(admin_class, MergedHistoryAdmin):
        return admin_class
    return type(admin_class.__name__, (MergedHistoryAdmin, admin_class),
                {"__module__": admin_class.__module__,
                 "__qualname__": admin_class.__qualname__})
