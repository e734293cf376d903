"""CSV import and export pages for a ModelAdmin (facility master, monthly statistics).

`CsvImportExportAdmin` adds to a changelist an 「取り込み」 button (upload page → job page with
progress → dry-run result → 「取り込みを確定する」 → done) and a 「書き出し」 link (streamed CSV).
Each page asks for its own permission (the kind's import or export permission), never only
the view permission; the work itself is in portal/import_jobs.py."""

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone

from . import import_jobs
from .errors import ServiceError, add_error_to_form
from .imports import export_csv, import_kind
from .models import ImportJob


class ImportUploadForm(forms.Form):
    file = forms.FileField(label="CSVファイル",
                           help_text="UTF-8 または Shift_JIS（Excelの「CSV（コンマ区切り）」）で保存したファイル")


class CsvImportExportAdmin:
    """Mixin for a ModelAdmin; `import_kind_name` names the kind (portal/imports.py KINDS)."""

    import_kind_name: str = ""
    change_list_template = "admin/portal/import_export_change_list.html"

    @property
    def csv_kind(self):
        return import_kind(self.import_kind_name)

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm(self.csv_kind.import_permission)

    def has_export_permission(self, request) -> bool:
        return request.user.has_perm(self.csv_kind.export_permission)

    def _url_name(self, page: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{page}"

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name=self._url_name("import")),
            path("import/<int:job_id>/", wrap(self.import_job_view),
                 name=self._url_name("import_job")),
            path("import/<int:job_id>/confirm/", wrap(self.import_confirm_view),
                 name=self._url_name("import_confirm")),
            path("export/", wrap(self.export_view), name=self._url_name("export")),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "import_url": (reverse(f"admin:{self._url_name('import')}")
                           if self.has_import_permission(request) else None),
            "export_url": (reverse(f"admin:{self._url_name('export')}")
                           if self.has_export_permission(request) else None),
        }
        return super().changelist_view(request, extra_context)

    def _context(self, request, title: str, **values):
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title,
                "kind": self.csv_kind, "recent": None, **values}

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        form = ImportUploadForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            try:
                job = import_jobs.start_import(actor=request.user, kind=self.import_kind_name,
                                               upload=form.cleaned_data["file"])
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                return redirect(reverse(f"admin:{self._url_name('import_job')}", args=[job.pk]))
        recent = (import_jobs.import_jobs_for(user=request.user)
                  .filter(kind=self.import_kind_name)[:10])
        return TemplateResponse(request, "admin/portal/import_upload.html", self._context(
            request, f"{self.csv_kind.label}の取り込み", form=form, jobs=recent))

    def _job(self, request, job_id: int) -> ImportJob:
        if not self.has_import_permission(request):
            raise PermissionDenied
        return get_object_or_404(import_jobs.import_jobs_for(user=request.user),
                                 pk=job_id, kind=self.import_kind_name)

    def import_job_view(self, request, job_id: int):
        job = self._job(request, job_id)
        return TemplateResponse(request, "admin/portal/import_job.html", self._context(
            request, f"{self.csv_kind.label}の取り込み #{job.pk}", job=job,
            confirm_url=reverse(f"admin:{self._url_name('import_confirm')}", args=[job.pk]),
            upload_url=reverse(f"admin:{self._url_name('import')}"),
            changelist_url=reverse(f"admin:{self._url_name('changelist')}")))

    def import_confirm_view(self, request, job_id: int):
        job = self._job(request, job_id)
        if request.method != "POST":
            return redirect(reverse(f"admin:{self._url_name('import_job')}", args=[job.pk]))
        try:
            import_jobs.confirm_import(actor=request.user, job=job)
        except ServiceError as error:
            self.message_user(request, error.message, messages.ERROR)
        return redirect(reverse(f"admin:{self._url_name('import_job')}", args=[job.pk]))

    def export_view(self, request):
        if not self.has_export_permission(request):
            raise PermissionDenied
        # The rows the changelist shows (its search and filters), without its paging.
        queryset = self.get_changelist_instance(request).get_queryset(request)
        response = StreamingHttpResponse(export_csv(self.csv_kind, queryset),
                                         content_type="text/csv; charset=utf-8")
        stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
        response["Content-Disposition"] = (
            f'attachment; filename="{self.import_kind_name}-{stamp}.csv"')
        return response
