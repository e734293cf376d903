"""Thin views of the obligation (docs/domain.md §7): the facility's exemption declaration and 併設
pages (resolved through `facility_for`, 404 for another facility's objects) and the public
explanation-session request. Each irreversible step has its confirmation page; whatever was
typed comes back with the refusal next to its field."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from facilities.codes import CodeError
from facilities.models import Facility
from facilities.selectors import facility_for
from facilities.services import normalize_facility_code
from portal import ratelimit
from portal.errors import ServiceError, add_error_to_form
from portal.workflow import available_moves, refusal

from . import services
from .forms import (
    MAX_PRACTITIONERS,
    PRACTITIONER_ROWS,
    AnnexProposalForm,
    DeclarationForm,
    DissolveForm,
    SessionRequestForm,
    practitioner_formset,
)
from .models import (
    LIVE_DECLARATION_STATES,
    AnnexPairing,
    ComplianceStatus,
    ExemptionDeclaration,
)
from .rules import ExemptionReason, Practitioner

NOT_SEJUTSU_PAGE = "やむを得ない事由の申告と併設申告は、施術所のみが行えます。"


def _compliance(facility: Facility) -> ComplianceStatus | None:
    return ComplianceStatus.objects.filter(facility=facility).first()


def _rate_limited(scope: str, key) -> bool:
    """One hit of the portal's limiter (portal/ratelimit.py): RATE_LIMITS[scope]."""
    return not ratelimit.limit(scope, key, ratelimit.rates_for(scope))


@login_required
def overview(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    return render(request, "obligation/overview.html", {
        "facility": facility, "compliance": _compliance(facility),
        "not_sejutsu": None if facility.is_sejutsu else NOT_SEJUTSU_PAGE,
    })


# ---------------------------------------------------------------- exemption declaration


def _declarations(facility: Facility):
    return (ExemptionDeclaration.objects.filter(facility=facility)
            .prefetch_related("practitioners"))


def _declaration_input(form, formset) -> services.DeclarationInput:
    data = form.cleaned_data
    practitioners = tuple(
        Practitioner(birth_date=row.cleaned_data["birth_date"],
                     full_time=row.cleaned_data["full_time"],
                     visually_impaired=row.cleaned_data["visually_impaired"],
                     name=row.cleaned_data["name"])
        for row in formset.forms if row.cleaned_data and not row.is_blank)
    return services.DeclarationInput(
        reason=data["reason"], contact_name=data["contact_name"], phone=data["phone"],
        planned_date=data.get("planned_date"), practitioners=practitioners)


def _with_more_rows(post):
    """The same data with more blank practitioner rows (the 「行を増やす」 button)."""
    data = post.copy()
    try:
        total = int(data.get("practitioners-TOTAL_FORMS", PRACTITIONER_ROWS))
    except ValueError:
        total = PRACTITIONER_ROWS
    data["practitioners-TOTAL_FORMS"] = str(min(max(total, 0) + PRACTITIONER_ROWS,
                                                MAX_PRACTITIONERS))
    return data


@login_required
@require_http_methods(["GET", "POST"])
def exemption(request: HttpRequest, facility_id: int) -> HttpResponse:
    """Form → confirmation page (the rule's explanation) → submit. Nothing is saved before
    the final button; a refusal shows the form again with everything typed."""
    facility = facility_for(user=request.user, pk=facility_id)
    declarations = _declarations(facility)
    context = {
        "facility": facility, "declarations": declarations,
        "live": any(d.state in LIVE_DECLARATION_STATES for d in declarations),
        "compliance": _compliance(facility), "max_rows": MAX_PRACTITIONERS,
        "not_sejutsu": None if facility.is_sejutsu else NOT_SEJUTSU_PAGE,
    }
    if not facility.is_sejutsu:
        return render(request, "obligation/exemption.html", context)
    if request.method != "POST":
        form = DeclarationForm(kind=facility.kind, initial={
            "contact_name": request.user.full_name, "phone": facility.phone})
        return render(request, "obligation/exemption.html",
                      {**context, "form": form, "formset": practitioner_formset()})
    data = _with_more_rows(request.POST) if "more_rows" in request.POST else request.POST
    form = DeclarationForm(data, kind=facility.kind)
    formset = practitioner_formset(data)
    page = {**context, "form": form, "formset": formset}
    valid = form.is_valid() & formset.is_valid()
    if not valid or "edit" in request.POST or "more_rows" in request.POST:
        return render(request, "obligation/exemption.html", page)
    declaration_input = _declaration_input(form, formset)
    if "submit" not in request.POST:
        try:
            services.check_can_declare(facility)
        except ServiceError as error:
            add_error_to_form(form, error)
            return render(request, "obligation/exemption.html", page)
        result = services.judge(facility, declaration_input)
        if not result.accepted:
            return render(request, "obligation/exemption.html",
                          {**page, "refusals": result.refusals})
        return render(request, "obligation/exemption_confirm.html", {
            **page, "result": result, "reason_label": ExemptionReason.LABELS[form.cleaned_data[
                "reason"]], "input": declaration_input,
            "with_practitioners": declaration_input.reason in ExemptionReason.WITH_PRACTITIONERS,
        })
    try:
        declaration = services.declare_exemption(
            user=request.user, facility=facility, data=declaration_input,
            token=form.cleaned_data["token"])
    except services.DeclarationRefused as refused:
        return render(request, "obligation/exemption.html",
                      {**page, "refusals": refused.result.refusals})
    except ServiceError as error:
        add_error_to_form(form, error)
        return render(request, "obligation/exemption.html", page)
    messages.success(request, "やむを得ない事由の申告を受け付けました。"
                              f"受付番号 {declaration.receipt_number}")
    return redirect("obligation:exemption", facility_id=facility.pk)


@login_required
@require_http_methods(["GET", "POST"])
def withdraw_exemption(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    declaration = _declarations(facility).filter(pk=pk).first()
    if declaration is None:
        raise Http404("申告が見つかりません")
    if request.method == "POST":
        try:
            services.withdraw_declaration(declaration=declaration, actor=request.user)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "やむを得ない事由の申告を取り下げました。")
        return redirect("obligation:exemption", facility_id=facility.pk)
    problem = refusal(declaration, "withdraw", request.user)
    return render(request, "obligation/exemption_withdraw.html", {
        "facility": facility, "declaration": declaration,
        "problem": problem.message if problem else "",
        "reason_label": ExemptionReason.LABELS.get(declaration.reason, declaration.reason)})


# ---------------------------------------------------------------- 併設 (annex)


def _pairings(facility: Facility):
    return (AnnexPairing.objects.filter(Q(main=facility) | Q(subordinate=facility))
            .select_related("main", "subordinate", "proposed_by_facility"))


def _partner(form: AnnexProposalForm, facility: Facility) -> Facility | None:
    """The partner by its 登録記号番号: only a 施術所, and only its name is shown (as on the
    public list); any other code reads as not found."""
    try:
        code = normalize_facility_code(form.cleaned_data["partner_code"])
    except CodeError as error:
        form.add_error("partner_code", error.message)
        return None
    partner = Facility.objects.filter(code=code).first()
    if partner is None or not partner.is_sejutsu:
        form.add_error("partner_code", "この登録記号番号の施術所は見つかりません。"
                                       "番号をお確かめください。")
        return None
    if partner.pk == facility.pk:
        form.add_error("partner_code", "この施術所自身の登録記号番号です。相手の施術所の"
                                       "番号を入力してください。")
        return None
    return partner


@login_required
@require_http_methods(["GET", "POST"])
def annex(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    pairings = list(_pairings(facility))
    context = {
        "facility": facility,
        "pairings": [(p, available_moves(p, request.user)) for p in pairings],
        "not_sejutsu": None if facility.is_sejutsu else NOT_SEJUTSU_PAGE,
    }
    if not facility.is_sejutsu:
        return render(request, "obligation/annex.html", context)
    if request.method != "POST":
        return render(request, "obligation/annex.html", {**context, "form": AnnexProposalForm()})
    form = AnnexProposalForm(request.POST)
    page = {**context, "form": form}
    if not form.is_valid() or "edit" in request.POST:
        return render(request, "obligation/annex.html", page)
    if _rate_limited("annex_lookup", request.user.pk):
        form.add_error(None, "短時間に多くの照会がありました。しばらくしてから、もう一度"
                             "お試しください。")
        return render(request, "obligation/annex.html", page, status=429)
    partner = _partner(form, facility)
    if partner is None:
        return render(request, "obligation/annex.html", page)
    facility_is_main = form.cleaned_data["role"] == "main"
    if "submit" not in request.POST:
        main, subordinate = (facility, partner) if facility_is_main else (partner, facility)
        return render(request, "obligation/annex_confirm.html", {
            **page, "main_name": main.name, "subordinate_name": subordinate.name,
            "partner_name": partner.name})
    try:
        services.propose_annex(user=request.user, facility=facility, partner=partner,
                               facility_is_main=facility_is_main)
    except ServiceError as error:
        add_error_to_form(form, error)
        return render(request, "obligation/annex.html", page)
    messages.success(request, f"併設申告をしました。{partner.name}の確認をお待ちください。")
    return redirect("obligation:annex", facility_id=facility.pk)


ANNEX_MOVES = {
    "confirm": lambda pairing, user, reason: services.confirm_annex(pairing=pairing,
                                                                    actor=user),
    "decline": lambda pairing, user, reason: services.decline_annex(pairing=pairing,
                                                                    actor=user),
    "withdraw": lambda pairing, user, reason: services.withdraw_annex(pairing=pairing,
                                                                      actor=user),
    "dissolve": lambda pairing, user, reason: services.dissolve_annex(
        pairing=pairing, actor=user, reason=reason),
}


@login_required
@require_http_methods(["GET", "POST"])
def annex_move(request: HttpRequest, facility_id: int, pk: int, move: str) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    pairing = _pairings(facility).filter(pk=pk).first()
    if pairing is None or move not in ANNEX_MOVES:
        raise Http404("併設申告が見つかりません")
    form = DissolveForm(request.POST or None) if move == "dissolve" else None
    if request.method == "POST" and (form is None or form.is_valid()):
        reason = form.cleaned_data["reason"] if form is not None else ""
        try:
            ANNEX_MOVES[move](pairing, request.user, reason)
        except ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "併設申告を更新しました。")
        return redirect("obligation:annex", facility_id=facility.pk)
    problem = refusal(pairing, move, request.user)
    label = next((info.label for info in available_moves(pairing, request.user)
                  if info.name == move), "")
    return render(request, "obligation/annex_move.html", {
        "facility": facility, "pairing": pairing, "move": move, "label": label,
        "problem": problem.message if problem else "", "form": form})


# ---------------------------------------------------------------- explanation session (public)

DONE_SESSION_KEY = "obligation_session_receipt"


@require_http_methods(["GET", "POST"])
def session_apply(request: HttpRequest) -> HttpResponse:
    """説明会（Web）参加申込書 (seed 004, 別紙4): no account needed."""
    if request.method != "POST":
        return render(request, "obligation/session_apply.html", {"form": SessionRequestForm()})
    form = SessionRequestForm(request.POST)
    if not form.is_valid() or "edit" in request.POST:
        return render(request, "obligation/session_apply.html", {"form": form})
    if "submit" not in request.POST:
        return render(request, "obligation/session_confirm.html", {"form": form})
    if _rate_limited("session_request", ratelimit.client_ip(request) or "-"):
        form.add_error(None, "短時間に多くの申込がありました。しばらくしてから、もう一度"
                             "お申し込みください。")
        return render(request, "obligation/session_apply.html", {"form": form}, status=429)
    try:
        session = services.request_session(data=form.session_data(),
                                           token=form.cleaned_data["token"])
    except ServiceError as error:
        add_error_to_form(form, error)
        return render(request, "obligation/session_apply.html", {"form": form})
    request.session[DONE_SESSION_KEY] = session.receipt_number
    return redirect("obligation:session_done")


def session_done(request: HttpRequest) -> HttpResponse:
    return render(request, "obligation/session_done.html",
                  {"receipt_number": request.session.get(DONE_SESSION_KEY, "")})
