"""The admin as a daily tool for objects with a workflow: each object is decided from its own
page, which offers only the moves this user may make from its state, as buttons (a
confirmation page first, a reason where the move needs one; a move that changes nothing
irreversible at once); the list is a queue (assigned to me, waiting
longest) and exports what it shows as CSV for Excel."""

from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from .csv_export import csv_response
from .errors import ServiceError
from .workflow import available_moves, moves, refusal


class MoveForm(forms.Form):
    reason = forms.CharField(label="理由（施設にも表示されます）", required=False,
                             widget=forms.Textarea(attrs={"rows": 4, "cols": 60}))


class AssignedFilter(admin.SimpleListFilter):
    title = "審査の担当者"
    parameter_name = "assigned"

    def lookups(self, request, model_admin):
        return [("me", "自分"), ("nobody", "未割当")]

    def queryset(self, request, queryset):
        if self.value() == "me":
            return queryset.filter(assigned_to=request.user)
        if self.value() == "nobody":
            return queryset.filter(assigned_to__isnull=True)
        return queryset


class WorkflowAdmin:
    """Mixin for the ModelAdmin of a model with a workflow (portal/workflow.py).

    `move_services` maps a move's name to `f(request, obj, reason) -> obj`, the service that
    makes it (the service checks the permission and the state again); `moves_with_reason`
    need a reason; `moves_elsewhere` maps a move to the URL name of the page where it is
    decided instead (e.g. a review page with the receipts)."""

    move_services: dict[str, Callable] = {}
    moves_with_reason: frozenset[str] = frozenset()
    moves_elsewhere: dict[str, str] = {}
    # Moves made at once from the object's page (a button that posts), without their own
    # confirmation page: those that change nothing irreversible (審査を開始する).
    moves_without_confirmation: frozenset[str] = frozenset()
    # Moves that turn an object back or away (shown as ordinary buttons; the others, which
    # move it on, in the primary colour).
    SECONDARY_MOVES = frozenset({"send_back", "reject", "cancel", "withdraw", "decline",
                                 "dissolve", "expire"})
    change_form_template = "admin/portal/workflow_change_form.html"

    def _name(self, page: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def get_urls(self):
        return [
            path("<int:pk>/move/<str:name>/", self.admin_site.admin_view(self.move_view),
                 name=self._name("move")),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        offered = []
        if obj is not None:
            for move in available_moves(obj, request.user):
                elsewhere = self.moves_elsewhere.get(move.name)
                if not elsewhere and move.name not in self.move_services:
                    continue  # made by another part of the portal (a payout run), not here
                url = (reverse(f"admin:{elsewhere}", args=[obj.pk]) if elsewhere else
                       reverse(f"admin:{self._name('move')}", args=[obj.pk, move.name]))
                offered.append({"label": move.label, "url": url,
                                "direct": (not elsewhere
                                           and move.name in self.moves_without_confirmation),
                                "primary": move.name not in self.SECONDARY_MOVES})
        extra_context = {**(extra_context or {}), "workflow_moves": offered}
        return super().change_view(request, object_id, form_url, extra_context)

    def move_view(self, request, pk: int, name: str):
        if not self.has_view_permission(request) or name not in self.move_services:
            raise PermissionDenied
        obj = get_object_or_404(self.get_queryset(request), pk=pk)
        problem = refusal(obj, name, request.user)
        change_url = reverse(f"admin:{self._name('change')}", args=[obj.pk])
        if problem is not None:
            if request.method == "POST":
                raise PermissionDenied
            self.message_user(request, problem.message, messages.WARNING)
            return redirect(change_url)
        form = MoveForm(request.POST if request.method == "POST" else None)
        needs_reason = name in self.moves_with_reason
        if needs_reason:
            form.fields["reason"].required = True
        if request.method == "POST" and form.is_valid():
            try:
                self.move_services[name](request, obj, form.cleaned_data["reason"])
            except ServiceError as error:
                form.add_error("reason" if needs_reason else None, error.message)
            else:
                self.message_user(request, f"「{moves(type(obj))[name].label}」を行いました。",
                                  messages.SUCCESS)
                return redirect(change_url)
        return TemplateResponse(request, "admin/portal/workflow_move.html", {
            **self.admin_site.each_context(request), "opts": self.opts, "original": obj,
            "title": f"{obj}: {moves(type(obj))[name].label}", "move": moves(type(obj))[name],
            "form": form, "needs_reason": needs_reason, "change_url": change_url,
        })

    @admin.action(description="選択したものを自分の担当にする", permissions=["review"])
    def assign_to_me(self, request, queryset):
        count = queryset.update(assigned_to=request.user)
        self.message_user(request, f"{count}件を担当にしました。", messages.SUCCESS)

    @admin.display(description="待ち日数", ordering="submitted_at")
    def waiting_days(self, obj) -> str:
        if getattr(obj, "submitted_at", None) is None:
            return "—"
        return f"{(timezone.now() - obj.submitted_at).days}日"


class CsvExportAdmin:
    """Mixin: a 「CSV出力」 link on the list that exports exactly the rows the list shows
    (its search and filters, without paging), for whoever may view the list.
    `export_columns` is a list of (heading, function of the object)."""

    export_columns: list[tuple[str, Callable]] = []
    export_filename = "export"
    change_list_template = "admin/portal/export_change_list.html"

    def get_urls(self):
        return [
            path("csv/", self.admin_site.admin_view(self.csv_view),
                 name=f"{self.opts.app_label}_{self.opts.model_name}_csv"),
            *super().get_urls(),
        ]

    def csv_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            queryset = self.get_changelist_instance(request).get_queryset(request)
        except (IncorrectLookupParameters, ValidationError, ValueError):
            # As the list answers a filter it cannot use (Django redirects it with ?e=1): the
            # export says so instead of failing.
            return HttpResponseBadRequest("絞り込みの条件が正しくありません。一覧に戻って条件を"
                                          "選び直してください。".encode(),
                                          content_type="text/plain; charset=utf-8")
        rows = ([column(obj) for _heading, column in self.export_columns]
                for obj in queryset.iterator(chunk_size=2000))
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        return csv_response([heading for heading, _column in self.export_columns], rows,
                            f"{self.export_filename}-{stamp}.csv")
