"""The counter in the admin: the issuing CAs trusted (their subject read from the PEM; an
expired or non-CA certificate refused), their revocation lists (CRLs uploaded by システム管理,
verified with the CA's key; one past its nextUpdate flagged), the insured-person registry
(imported from CSV, a row marked lost with its date; shown to システム管理 only: it holds
names and birth dates) and the read-only log of counter calls."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from simple_history.admin import SimpleHistoryAdmin

from portal.admin_permissions import EvidenceAdmin
from portal.admin_widgets import WellFormedChoices
from portal.errors import ServiceError, add_error_to_form
from portal.forms import ISODateField

from . import certificates, imports, services
from .models import Confirmation, InsuredPerson, RevocationList, TrustedIssuer
from .selectors import counter_settings, qualification_status

SHOWN_ERRORS = 100

def _latest_crl(field: str) -> Subquery:
    return Subquery(RevocationList.objects.filter(issuer=OuterRef("pk"))
                    .order_by("-this_update", "-pk").values(field)[:1])


def _crl_state(next_update, *, current: bool = True) -> str:
    """How the counter treats a CA's CRL (certificates.check_revocation), in words."""
    if next_update is None:
        return "失効リスト未登録（このCAのカードは確認できません）"
    if not current:
        return "新しい失効リストに置き換え済み"
    now = timezone.now()
    if now <= next_update:
        return "使用中"
    grace_end = timezone.localtime(next_update + counter_settings().crl_grace)
    if now <= grace_end:
        return (f"期限切れ（次回更新予定日を過ぎています。{grace_end:%Y-%m-%d %H:%M}まで使用し、"
                "その後このCAのカードは確認できなくなります。最新の失効リストを登録してください）")
    return "期限切れ（このCAのカードは確認できません。最新の失効リストを登録してください）"


@admin.register(TrustedIssuer)
class TrustedIssuerAdmin(WellFormedChoices, SimpleHistoryAdmin):
    list_display = ["name", "subject", "not_after", "validity", "crl", "is_active",
                    "updated_at"]
    list_filter = ["is_active"]
    search_fields = ["name", "subject"]
    fields = ["name", "certificate_pem", "is_active", "subject", "fingerprint", "not_before",
              "not_after", "validity", "crl", "created_at", "updated_at"]
    readonly_fields = ["subject", "fingerprint", "not_before", "not_after", "validity", "crl",
                       "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(crl_next_update=_latest_crl("next_update"))

    @admin.display(description="CA証明書の状態")
    def validity(self, obj: TrustedIssuer) -> str:
        if obj.pk is None or obj.not_after is None:
            return "-"
        now = timezone.now()
        if obj.not_before is not None and now < obj.not_before:
            return "有効期間前（このCAのカードは確認できません）"
        if now > obj.not_after:
            return "期限切れ（このCAのカードは確認できません）"
        return "有効期間内"

    @admin.display(description="失効リスト（CRL）")
    def crl(self, obj: TrustedIssuer) -> str:
        if obj.pk is None:
            return "-"
        return _crl_state(getattr(obj, "crl_next_update", None))


class RevocationListUploadForm(forms.Form):
    file = forms.FileField(
        label="失効リスト（CRL）のファイル",
        help_text="CAが公開している完全なCRL（DER または PEM）。発行元CAはファイルの署名から判断します。")


@admin.register(RevocationList)
class RevocationListAdmin(WellFormedChoices, admin.ModelAdmin):
    """Uploaded on the add page (a file, verified with its CA's key), then read-only."""

    list_display = ["issuer", "this_update", "next_update", "state", "revoked_count",
                    "uploaded_by", "uploaded_at"]
    list_filter = ["issuer"]
    list_select_related = ["issuer", "uploaded_by"]
    date_hierarchy = "this_update"
    fields = ["issuer", "this_update", "next_update", "state", "revoked_count", "fingerprint",
              "uploaded_by", "uploaded_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return (super().get_queryset(request).defer("compressed")
                .annotate(latest_this_update=Subquery(
                    RevocationList.objects.filter(issuer=OuterRef("issuer"))
                    .order_by("-this_update", "-pk").values("this_update")[:1])))

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="状態")
    def state(self, obj: RevocationList) -> str:
        latest = getattr(obj, "latest_this_update", None)
        return _crl_state(obj.next_update, current=latest is None or latest == obj.this_update)

    def add_view(self, request, form_url="", extra_context=None):
        if not self.has_add_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = RevocationListUploadForm(request.POST if posted else None,
                                        request.FILES if posted else None)
        if posted and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > certificates.MAX_CRL_BYTES:
                    raise ServiceError(
                        "失効リストのファイルが大きすぎます"
                        f"（{certificates.MAX_CRL_BYTES // (1024 * 1024)}MBまで）。", "file")
                row = services.load_revocation_list(data=upload.read(), actor=request.user)
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                self.message_user(
                    request, f"{row.issuer.name} の失効リスト（失効 {row.revoked_count}件、"
                    f"次回更新予定 {timezone.localtime(row.next_update):%Y-%m-%d %H:%M}）を登録しました。",
                    messages.SUCCESS)
                return redirect("admin:cardreader_revocationlist_change", row.pk)
        return TemplateResponse(request, "admin/cardreader/revocationlist/upload.html", {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": "失効リスト（CRL）の登録", "form": form,
            "grace_hours": int(counter_settings().crl_grace.total_seconds() // 3600)})


class InsuredPersonForm(forms.ModelForm):
    """Each cell checked as the CSV import checks it (cardreader/imports.py)."""

    birth_date = ISODateField(label="生年月日", latest=timezone.localdate,
                              earliest=imports.EARLIEST)
    valid_from = ISODateField(label="資格の有効開始日", earliest=imports.EARLIEST)
    valid_to = ISODateField(label="資格の有効終了日", required=False, earliest=imports.EARLIEST,
                            help_text="空欄は終了日なし")
    lost_on = ISODateField(label="資格喪失日", required=False, earliest=imports.EARLIEST,
                           help_text="この日から資格がありません（空欄は喪失していない）")

    class Meta:
        model = InsuredPerson
        fields = ["issuer", "serial", "insurer_number", "symbol", "number", "branch", "name",
                  "name_kana", "birth_date", "copay_ratio", "valid_from", "valid_to", "lost_on"]
        widgets = {"issuer": forms.TextInput(attrs={"size": 80})}

    CLEANERS = {
        "issuer": imports.clean_issuer, "serial": imports.clean_serial,
        "insurer_number": imports.clean_insurer_number, "symbol": imports.clean_symbol,
        "number": imports.clean_number, "branch": imports.clean_branch,
        "name": imports.clean_name, "name_kana": imports.clean_name_kana,
    }

    def clean(self):
        data = super().clean()
        for name, cleaner in self.CLEANERS.items():
            if name in data:
                try:
                    data[name] = cleaner(data[name] or "")
                except ValueError as error:
                    self.add_error(name, str(error))
        try:
            imports.check_dates(birth_date=data.get("birth_date"),
                                valid_from=data.get("valid_from"),
                                valid_to=data.get("valid_to"), lost_on=data.get("lost_on"))
        except ValueError as error:
            self.add_error(None, str(error))
        return data


class RegistryUploadForm(forms.Form):
    file = forms.FileField(label="CSVファイル", help_text="UTF-8 または Shift_JIS（Excelの「CSV（コンマ区切り）」）")


class LostForm(forms.Form):
    lost_on = ISODateField(label="資格喪失日", earliest=imports.EARLIEST,
                           help_text="資格がなくなった最初の日（例: 2025-04-01 または 令和7年4月1日）")


@admin.register(InsuredPerson)
class InsuredPersonAdmin(WellFormedChoices, SimpleHistoryAdmin):
    form = InsuredPersonForm
    list_display = ["insurer_number", "symbol", "number", "branch", "name", "status",
                    "valid_to", "lost_on"]
    list_filter = ["copay_ratio"]
    search_fields = ["insurer_number", "number", "name", "name_kana", "=serial"]
    readonly_fields = ["lose_link", "created_at", "updated_at"]
    change_list_template = "admin/portal/import_export_change_list.html"

    @admin.display(description="状態")
    def status(self, obj: InsuredPerson) -> str:
        return qualification_status(obj, today=timezone.localdate())

    @admin.display(description="資格喪失の登録")
    def lose_link(self, obj: InsuredPerson) -> str:
        if obj.pk is None:
            return "-"
        return format_html('<a href="{}">資格喪失日を登録する</a>',
                           reverse("admin:cardreader_insuredperson_lose", args=[obj.pk]))

    def has_import_permission(self, request) -> bool:
        return request.user.has_perm(imports.IMPORT_PERMISSION)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("import/", wrap(self.import_view), name="cardreader_insuredperson_import"),
            path("<int:pk>/lose/", wrap(self.lose_view), name="cardreader_insuredperson_lose"),
            *super().get_urls(),
        ]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "import_url": (reverse("admin:cardreader_insuredperson_import")
                           if self.has_import_permission(request) else None),
            "export_url": None,
        }
        return super().changelist_view(request, extra_context)

    def _context(self, request, title: str, **values) -> dict:
        return {**self.admin_site.each_context(request), "opts": self.opts, "title": title,
                **values}

    def import_view(self, request):
        if not self.has_import_permission(request):
            raise PermissionDenied
        posted = request.method == "POST"
        form = RegistryUploadForm(request.POST if posted else None,
                                  request.FILES if posted else None)
        outcome = None
        if posted and form.is_valid():
            try:
                outcome = imports.import_registry(actor=request.user,
                                                  upload=form.cleaned_data["file"],
                                                  dry_run="_import" not in request.POST)
            except ServiceError as error:
                add_error_to_form(form, error)
        return TemplateResponse(request, "admin/cardreader/insuredperson/import.html",
                                self._context(request, "被保険者台帳の取り込み", form=form,
                                              outcome=outcome, columns=imports.COLUMNS,
                                              shown_errors=SHOWN_ERRORS))

    def lose_view(self, request, pk: int):
        person = get_object_or_404(self.get_queryset(request), pk=pk)
        if not self.has_change_permission(request, person):
            raise PermissionDenied
        posted = request.method == "POST"
        form = LostForm(request.POST if posted else None,
                        initial={"lost_on": person.lost_on or timezone.localdate()})
        if posted and form.is_valid():
            try:
                services.mark_lost(person=person, lost_on=form.cleaned_data["lost_on"],
                                   actor=request.user)
            except ServiceError as error:
                add_error_to_form(form, error)
            else:
                self.message_user(request, f"{person} の資格喪失日を登録しました。", messages.SUCCESS)
                return redirect("admin:cardreader_insuredperson_change", person.pk)
        return TemplateResponse(request, "admin/cardreader/insuredperson/lose.html",
                                self._context(request, f"{person}: 資格喪失日の登録",
                                              form=form, original=person))


@admin.register(Confirmation)
class ConfirmationAdmin(WellFormedChoices, EvidenceAdmin, admin.ModelAdmin):
    """Read-only: one row per call of the counter API, written by the API only."""

    list_display = ["at", "endpoint", "outcome", "http_status", "facility", "device_account",
                    "mode", "counted"]
    list_filter = ["endpoint", "outcome", "mode", "counted", "day"]
    search_fields = ["facility__code", "facility__name", "device_account__login_id",
                     "=serial_hash"]
    list_select_related = ["facility", "device_account"]
    date_hierarchy = "day"

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
