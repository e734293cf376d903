from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from facilities.selectors import facility_for
from portal import confirmation
from portal.pdf import render_pdf

from . import selectors, services
from .bank import resolve_account
from .banking import BankInputErrors, search_banks, search_branches
from .forms import BankAccountForm


@login_required
@require_GET
def payments(request: HttpRequest, facility_id: int) -> HttpResponse:
    """振込先口座 and every payment with its state and what happens next."""
    facility = facility_for(user=request.user, pk=facility_id)
    return render(request, "payouts/payments.html", {
        "facility": facility, "bank_account": selectors.bank_account_for(facility),
        "payments": selectors.payments_for(facility),
        "recoveries": selectors.recoveries_for(facility),
    })


@login_required
@require_GET
def recovery_notice(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    """返還請求書 (PDF) of one of the facility's own recoveries (404 for any other)."""
    from .netting import notice_pdf

    facility = facility_for(user=request.user, pk=facility_id)
    recovery = selectors.recovery_for(facility=facility, pk=pk)
    response = HttpResponse(notice_pdf(recovery), content_type="application/pdf")
    response["Content-Disposition"] = (
        f'attachment; filename="recovery-notice-{recovery.notice_number}.pdf"')
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def notice(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    """支払通知書 (PDF) of a paid line."""
    facility = facility_for(user=request.user, pk=facility_id)
    line = selectors.paid_line_for(facility=facility, pk=pk)
    pdf = render_pdf("pdf/payment_notice.html", {
        "facility": facility, "line": line, "today": timezone.localdate(),
        "description": services.describe_line(line)})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="payment-notice-{line.pk}.pdf"'
    response["Cache-Control"] = "private, no-store"
    return response


def _picked(data) -> dict[str, str]:
    """The bank (4 digits) or branch (3 digits) code of a lookup result chosen by its button."""
    picked = {}
    for key, name, length in (("bank", "pick_bank", 4), ("branch", "pick_branch", 3)):
        code = data.get(name, "")
        if len(code) == length and code.isascii() and code.isdigit():
            picked[key] = code
    return picked


@login_required
@require_http_methods(["GET", "POST"])
def bank_account(request: HttpRequest, facility_id: int) -> HttpResponse:
    """Form → confirmation (the Japan Post number shown converted) → save."""
    facility = facility_for(user=request.user, pk=facility_id)
    current = selectors.bank_account_for(facility)
    context = {"facility": facility, "current": current}
    # The code lookup is a button of the account form itself, so what was typed in the form
    # comes back with the results (a GET with the same names still works, as a link).
    # A result chosen (a button of the results, docs/decisions.md D1.7) fills its field.
    picked = _picked(request.POST)
    looking = "lookup" in request.POST or bool(picked)
    lookup = request.POST if looking else request.GET
    context["lookup"] = {key: lookup.get(key, "") for key in ("bank_q", "bank_code", "branch_q")}
    if picked.get("bank"):
        context["lookup"]["bank_code"] = picked["bank"]
    search = lookup.get("bank_q", "").strip()
    if search:
        context["bank_results"] = search_banks(search)
    branch_search = lookup.get("branch_q", "").strip()
    if branch_search and context["lookup"]["bank_code"]:
        context["branch_results"] = search_branches(context["lookup"]["bank_code"],
                                                    branch_search)
    if request.method != "POST":
        context["form"] = BankAccountForm()
        return render(request, "payouts/bank_account.html", context)
    if looking:
        # Shown again as typed, not judged: a lookup is not a submit.
        fields = BankAccountForm.base_fields
        initial = {k: v for k, v in request.POST.items() if k in fields}
        initial.update(picked)
        context["form"] = BankAccountForm(initial=initial)
        context["picked"] = "".join(
            f"{label}の欄に {picked[key]} を入力しました。"
            for key, label in (("bank", "金融機関"), ("branch", "支店")) if key in picked)
        return render(request, "payouts/bank_account.html", context)
    form = BankAccountForm(request.POST)
    context["form"] = form
    if not form.is_valid() or "edit" in request.POST:
        return render(request, "payouts/bank_account.html", context)
    try:
        account, kigo, bango = resolve_account(form.cleaned_data)
    except BankInputErrors as errors:
        for field, message in errors.errors.items():
            form.add_error(field if field in form.fields else None, message)
        return render(request, "payouts/bank_account.html", context)
    # Money already in a run (docs/domain.md §5.3): the confirmation names what happens to it
    # (docs/decisions.md D5.4.5), and the registration needs that confirmation, signed with
    # what it showed.
    effects = selectors.account_change_effects(facility)
    shown = [effect.key() for effect in effects]
    # The account number is not put into the token, only a digest of what was typed (the
    # typed values travel as the page's hidden fields, as before).
    values = {"digest": confirmation.digest(confirmation.form_values(form))}
    confirm = {**context, "account": account, "kigo": kigo, "bango": bango,
               "effects": effects, "confirmation": confirmation.sign(
                   purpose="bank", user=request.user, facility=facility, values=values,
                   shown=shown)}
    if "submit" not in request.POST:
        return render(request, "payouts/bank_account_confirm.html", confirm)
    if effects:
        try:
            confirmed = confirmation.unsign(request.POST.get(confirmation.FIELD, ""),
                                            purpose="bank", user=request.user,
                                            facility=facility)
        except confirmation.ConfirmationRefused:
            confirmed = None
        if confirmed is None or confirmed.values != values or confirmed.shown != shown:
            return render(request, "payouts/bank_account_confirm.html", {
                **confirm, "changed": confirmation.CHANGED if confirmed else None})
    services.save_bank_account(user=request.user, facility=facility, account=account,
                               kigo=kigo, bango=bango)
    messages.success(request, "振込先口座を登録しました。")
    return redirect("payouts:payments", facility_id=facility.pk)
