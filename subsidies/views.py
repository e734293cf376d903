from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from eligibility.models import Program
from facilities.selectors import facility_for
from facilities.services import ServiceError
from portal.normalize import NotAnInteger, integer
from portal.pdf import render_pdf

from . import selectors, services
from .documents import open_stored
from .forms import ItemEditForm, ItemWithReceiptForm, ReadersForm
from .models import ClaimState, Document

ITEM_FIELDS = ("description", "quantity", "unit_price", "tax", "vendor", "purchase_date")


def _claim(request, facility_id, pk):
    facility = facility_for(user=request.user, pk=facility_id)
    return facility, selectors.claim_for(facility=facility, pk=pk)


@login_required
def claims(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    claims = list(selectors.claims_for(facility=facility))  # read once: the offers and the list
    return render(request, "subsidies/claims.html", {
        "facility": facility, "offers": selectors.offers_for(facility, claims=claims),
        "claims": claims,
    })


@login_required
@require_POST
def start(request: HttpRequest, facility_id: int, code: str) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    program = Program.objects.filter(code=code).first()
    if program is None:
        raise Http404
    try:
        claim = services.start_claim(user=request.user, facility=facility, program=program)
    except ServiceError as error:
        messages.error(request, error.message)
        return redirect("subsidies:claims", facility_id=facility.pk)
    return redirect("subsidies:claim", facility_id=facility.pk, pk=claim.pk)


def _save_item(request, claim, form, item=None) -> bool:
    """Save the item and its files through the service; a refusal goes on its field."""
    try:
        services.save_item_with_documents(
            claim=claim, item=item, user=request.user,
            data=services.ItemInput(**{k: form.cleaned_data[k] for k in ITEM_FIELDS}),
            uploads={Document.Kind.RECEIPT: form.cleaned_data.get("receipt"),
                     Document.Kind.INVOICE: form.cleaned_data.get("invoice")},
        )
    except ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return False
    return True


@login_required
@require_http_methods(["GET", "POST"])
def claim(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    facility, claim = _claim(request, facility_id, pk)
    item_form = ItemWithReceiptForm()
    result = selectors.compute(claim)
    allowed = result.details.get("readers_allowed", 0)
    readers_form = ReadersForm(initial={"readers": claim.readers})
    # Only the reader counts this facility may claim are offered.
    readers_form.fields["readers"].max_value = max(allowed, 1)
    readers_form.fields["readers"].widget.attrs["max"] = max(allowed, 1)
    readers_form.fields["readers"].help_text = f"この施設が申請できるのは{allowed}台までです。"
    if request.method == "POST" and claim.is_editable:
        if "readers" in request.POST:
            readers_form = ReadersForm(request.POST)
            if readers_form.is_valid():
                try:
                    services.set_readers(claim=claim, readers=readers_form.cleaned_data["readers"])
                except ServiceError as error:
                    readers_form.add_error("readers", error.message)
                else:
                    return redirect("subsidies:claim", facility_id=facility.pk, pk=claim.pk)
        else:
            item_form = ItemWithReceiptForm(request.POST, request.FILES)
            if item_form.is_valid() and _save_item(request, claim, item_form):
                messages.success(request, "明細を追加しました。")
                return redirect("subsidies:claim", facility_id=facility.pk, pk=claim.pk)
    return render(request, "subsidies/claim.html", {
        "facility": facility, "claim": claim, "items": claim.items.prefetch_related("documents"),
        "item_form": item_form, "readers_form": readers_form,
        "result": result,
        "is_reader": selectors.takes_readers(claim.program),
    })


@login_required
@require_http_methods(["GET", "POST"])
def item(request: HttpRequest, facility_id: int, pk: int, item_pk: int) -> HttpResponse:
    facility, claim = _claim(request, facility_id, pk)
    item = claim.items.filter(pk=item_pk).first()
    if item is None:
        raise Http404
    if request.method == "POST" and claim.is_editable:
        form = ItemEditForm(request.POST, request.FILES)
        if form.is_valid() and _save_item(request, claim, form, item):
            messages.success(request, "明細を更新しました。")
            return redirect("subsidies:claim", facility_id=facility.pk, pk=claim.pk)
    else:
        form = ItemEditForm(initial={k: getattr(item, k) for k in ITEM_FIELDS})
    return render(request, "subsidies/item.html",
                  {"facility": facility, "claim": claim, "item": item, "form": form})


@login_required
@require_POST
def delete_item(request: HttpRequest, facility_id: int, pk: int, item_pk: int) -> HttpResponse:
    facility, claim = _claim(request, facility_id, pk)
    item = claim.items.filter(pk=item_pk).first()
    if item is None:
        raise Http404
    try:
        services.delete_item(claim=claim, item=item)
    except ServiceError as error:
        messages.error(request, error.message)
    return redirect("subsidies:claim", facility_id=facility.pk, pk=claim.pk)


@login_required
@require_GET
def estimate(request: HttpRequest, facility_id: int, pk: int) -> JsonResponse:
    """The amount as the rule computes it, with an item being typed (extra_cost) included."""
    _facility, claim = _claim(request, facility_id, pk)
    try:
        extra = max(0, min(integer(request.GET.get("extra_cost", "0")), 100_000_000))
    except NotAnInteger:
        extra = 0
    result = selectors.compute(claim, extra_cost=extra)
    return JsonResponse({"eligible": result.eligible, "amount": result.amount,
                         "calculation": result.details.get("calculation", ""),
                         "reasons": result.reason_texts})


@login_required
@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    facility, claim = _claim(request, facility_id, pk)
    if request.method == "POST" and claim.is_editable:
        try:
            claim = services.submit_claim(claim=claim, user=request.user)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, f"申請を提出しました。受付番号 {claim.receipt_number}")
            return redirect("subsidies:claim", facility_id=facility.pk, pk=claim.pk)
    return render(request, "subsidies/confirm.html", {
        "facility": facility, "claim": claim, "items": claim.items.prefetch_related("documents"),
        "result": selectors.compute(claim),
    })


@login_required
@require_GET
def document(request: HttpRequest, facility_id: int, pk: int, doc_pk: int) -> FileResponse:
    _facility, claim = _claim(request, facility_id, pk)
    return serve_document(claim.documents.filter(pk=doc_pk).first())


def serve_document(doc: Document | None) -> FileResponse:
    """Always as a download of the type detected at upload: never rendered inline."""
    if doc is None:
        raise Http404
    try:
        handle = open_stored(doc.stored_name)
    except FileNotFoundError as error:
        raise Http404 from error
    extension = doc.stored_name.rsplit(".", 1)[-1]
    response = FileResponse(handle, as_attachment=True, content_type=doc.content_type,
                            filename=f"{doc.kind}-{doc.pk}.{extension}")
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def notice(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    facility, claim = _claim(request, facility_id, pk)
    if claim.state not in (ClaimState.APPROVED, ClaimState.PAYING, ClaimState.PAID):
        raise Http404("交付決定前です")
    pdf = render_pdf("pdf/grant_decision.html", {"facility": facility, "claim": claim,
                                                 "items": claim.items.all(),
                                                 "today": timezone.localdate()})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="notice-{claim.receipt_number}.pdf"'
    return response
