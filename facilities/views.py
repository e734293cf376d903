"""Thin views: parse, call one service or selector, render. Every facility-scoped view
resolves the facility through `facility_for(user=…)` (404 for another facility's objects)."""


from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from portal import confirmation, ratelimit
from portal.csv_export import csv_response
from portal.errors import add_error_to_form
from portal.pdf import render_pdf
from portal.workflow import moves, refusal

from . import money_effects, selectors, services
from .forms import (
    FacilityLinkForm,
    GoLiveForm,
    LinkCodeForm,
    PublicListFilterForm,
    UsageChangeForm,
    UsageStartForm,
)
from .home_sections import sections_for
from .models import ApplicationKind, FacilityKind, LinkRequest, LinkRoute
from .prefectures import PREFECTURE_NAMES


def _requested_message(link_request) -> str:
    name = link_request.facility.name
    if link_request.route == LinkRoute.STAFF:
        return (f"{name} の担当者の方に、担当者の登録の承認をお願いしました。"
                "承認されるとメールでお知らせします。")
    return (f"{name} の所在地に、確認コードを記載した通知書を郵送します。"
            "届いたら、この画面で確認コードを入力してください。")


@login_required
@require_http_methods(["GET", "POST"])
def link_facility(request: HttpRequest) -> HttpResponse:
    """The facility's code and 口座番号下4桁: right, they make a request to confirm, never
    staff at once."""
    form = FacilityLinkForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            link_request = services.request_facility_link(
                user=request.user,
                code=form.cleaned_data["code"],
                account_last4=form.cleaned_data["account_last4"],
                ip_address=ratelimit.client_ip(request),
            )
        except services.ServiceError as error:
            add_error_to_form(form, error)
        else:
            messages.success(request, _requested_message(link_request))
            return redirect("facilities:link_request", pk=link_request.pk)
    return render(request, "facilities/link.html", {
        "form": form, "link_requests": selectors.link_requests_of(user=request.user)[:20]})


@login_required
@require_http_methods(["GET", "POST"])
def link_request(request: HttpRequest, pk: int) -> HttpResponse:
    """The requester's own request: its state; for a facility without staff, the code of
    the letter sent to the facility is typed here; the request may be withdrawn."""
    link_request = selectors.link_request_of(user=request.user, pk=pk)
    form = LinkCodeForm()
    if request.method == "POST" and "withdraw" in request.POST:
        try:
            services.withdraw_link_request(link_request=link_request, user=request.user)
        except services.ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, "担当者の登録の申請を取り下げました。")
        return redirect("facilities:link_request", pk=link_request.pk)
    if request.method == "POST":
        form = LinkCodeForm(request.POST)
        if form.is_valid():
            try:
                services.confirm_link_code(link_request=link_request, user=request.user,
                                           code=form.cleaned_data["code"])
            except services.ServiceError as error:
                add_error_to_form(form, error)
                link_request = selectors.link_request_of(user=request.user, pk=pk)
            else:
                messages.success(request,
                                 f"{link_request.facility.name} の担当者として登録しました。")
                return redirect("facilities:home", facility_id=link_request.facility_id)
    return render(request, "facilities/link_request.html", {
        "link_request": link_request, "form": form,
        "code_tries_left": max(0, settings.FACILITY_LINK_CODE_MAX_FAILURES
                               - link_request.code_failures)})


@login_required
def staff(request: HttpRequest, facility_id: int) -> HttpResponse:
    """The facility's staff and the requests to join them, which any of them decides."""
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    requests = list(selectors.link_requests_for(facility=facility)[:50])
    return render(request, "facilities/staff.html", {
        "facility": facility,
        "members": selectors.staff_of(facility=facility),
        "open_requests": [r for r in requests if r.is_open],
        "past_requests": [r for r in requests if not r.is_open],
    })


LINK_REQUEST_MOVES = {
    "approve": (services.approve_link_request, "{email} を担当者として承認しました。"),
    "refuse": (services.refuse_link_request, "{email} の担当者の登録を承認しませんでした。"),
}


@login_required
@require_http_methods(["GET", "POST"])
def link_request_decide(request: HttpRequest, facility_id: int, pk: int,
                        move: str) -> HttpResponse:
    """A confirmation page, then the move: one of the facility's staff approves or refuses
    a request to join them."""
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    link_request = selectors.link_request_for(facility=facility, pk=pk)
    if move not in LINK_REQUEST_MOVES:
        raise Http404("操作が見つかりません")
    service, done = LINK_REQUEST_MOVES[move]
    if request.method == "POST":
        try:
            service(link_request=link_request, actor=request.user)
        except services.ServiceError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done.format(email=link_request.user.email))
        return redirect("facilities:staff", facility_id=facility.pk)
    problem = refusal(link_request, move, request.user)
    return render(request, "facilities/link_request_decide.html", {
        "facility": facility, "link_request": link_request, "move": move,
        "label": moves(LinkRequest)[move].label, "problem": problem.message if problem else ""})


@login_required
def facility_home(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    # Applications, device accounts and the go-live, read once for every part of the page.
    facts = selectors.facility_facts(facilities=[facility])
    usage = selectors.usage_summary(facility, facts=facts)
    return render(
        request,
        "facilities/home.html",
        {
            "facility": facility,
            **sections_for(request, facility, facts=facts),  # the to-do list and news (todos/)
            "status": usage.status,
            "golive": facts.golive(facility),
            "planned_end_date": usage.planned_end_date,
            "history": selectors.history_for(facility=facility)[:10],
            "open_link_requests": selectors.open_link_requests_for(facility=facility).count(),
        },
    )


@login_required
def applications(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    usage = selectors.usage_summary(facility)
    return render(
        request,
        "facilities/applications.html",
        {
            "facility": facility,
            "applications": selectors.applications_for(facility=facility),
            "accepted": usage.start_accepted,
            "status": usage.status,
        },
    )


_APPLICATION_FORMS = {ApplicationKind.START: UsageStartForm, ApplicationKind.CHANGE: UsageChangeForm}


def _application_flow(request: HttpRequest, facility_id: int, kind: str) -> HttpResponse:
    """Form → confirmation page → submit. Nothing is saved before the final button, and a
    repeated final submit (same token) returns the application already made."""
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    form_class = _APPLICATION_FORMS[kind]
    context = {"facility": facility, "kind": ApplicationKind(kind)}
    # An application that cannot be made whatever is typed is refused before the form
    # (docs/decisions.md D1.5); the final submit still goes to the service, so a repeated
    # click returns the application it made.
    refused = services.apply_refusal(facility, kind)
    if refused is not None and "submit" not in request.POST:
        return render(request, "facilities/application_refused.html",
                      {**context, "refusal": refused})
    if request.method != "POST":
        initial = {"email": request.user.email, "founder_name": facility.founder_name,
                   "phone": facility.phone, "contact_name": request.user.full_name}
        return render(request, "facilities/application_form.html",
                      {**context, "form": form_class(initial=initial)})
    form = form_class(request.POST)
    if not form.is_valid() or "edit" in request.POST:
        return render(request, "facilities/application_form.html", {**context, "form": form})
    if "submit" not in request.POST:
        return render(request, "facilities/application_confirm.html", {**context, "form": form})
    data = {k: v for k, v in form.cleaned_data.items() if k != "token"}
    data["end_action"] = data.get("end_action") or ""
    try:
        application = services.submit_usage_application(
            user=request.user,
            facility=facility,
            kind=kind,
            data=services.ApplicationInput(**data),
            token=form.cleaned_data["token"],
        )
    except services.ServiceError as error:
        form.add_error(error.field if error.field in form.fields else None, error.message)
        return render(request, "facilities/application_form.html", {**context, "form": form})
    return redirect(
        reverse("facilities:application_detail", args=[facility.pk, application.pk]) + "?done=1"
    )


@login_required
@require_http_methods(["GET", "POST"])
def application_start(request: HttpRequest, facility_id: int) -> HttpResponse:
    return _application_flow(request, facility_id, ApplicationKind.START)


@login_required
@require_http_methods(["GET", "POST"])
def application_change(request: HttpRequest, facility_id: int) -> HttpResponse:
    return _application_flow(request, facility_id, ApplicationKind.CHANGE)


@login_required
def application_detail(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    application = selectors.application_for(facility=facility, pk=pk)
    return render(
        request,
        "facilities/application_detail.html",
        {
            "facility": facility,
            "application": application,
            "history": selectors.history_for(facility=facility, target=application),
            "just_submitted": request.GET.get("done") == "1",
        },
    )


@login_required
def accounts(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    return render(
        request,
        "facilities/accounts.html",
        {"facility": facility, "accounts": selectors.device_accounts_for(facility=facility)},
    )


@login_required
def account_detail(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    account = selectors.device_account_for(facility=facility, pk=pk)
    return render(
        request,
        "facilities/account_detail.html",
        {
            "facility": facility,
            "account": account,
            "history": selectors.history_for(facility=facility, target=account),
        },
    )


@login_required
@require_POST
def account_settings_pdf(request: HttpRequest, facility_id: int, pk: int) -> HttpResponse:
    """Issue this device's credentials and return them as 「マイナ資格確認アプリ ユーザ設定情報」."""
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    account = selectors.device_account_for(facility=facility, pk=pk)
    # The count shown with the button: a second post of the same form issues nothing.
    seen = request.POST.get("issue_count")
    seen = int(seen) if seen and seen.isdigit() else (None if seen is None else -1)
    try:
        credentials = services.issue_device_credentials(
            account=account, actor=request.user, seen_issue_count=seen
        )
    except services.ServiceError as error:
        messages.error(request, error.message)
        return redirect("facilities:account_detail", facility_id=facility.pk, pk=account.pk)
    pdf = render_pdf(
        "pdf/device_settings.html",
        {
            "facility": facility,
            "account": account,
            "credentials": credentials,
            "issued_at": timezone.now(),
        },
    )
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="user-settings-{account.login_id}.pdf"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def golive(request: HttpRequest, facility_id: int) -> HttpResponse:
    """Form → confirmation naming the effect on the money (協力金 / 一時金) → registration;
    the confirm step carries the values signed and re-checks the effect (portal/confirmation)."""
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    current = selectors.golive_for(facility)
    step = confirmation.read_step(request, form_class=GoLiveForm, purpose="golive",
                                  facility=facility)
    if step.refused:
        messages.error(request, step.refused)
    form = step.form or GoLiveForm(initial={"date": current.date if current else None})
    if step.kind in ("check", "confirm") and form.is_valid():
        golive_date = form.cleaned_data["date"]

        def change():
            return services.set_golive_date(user=request.user, facility=facility,
                                            golive_date=golive_date)

        def facts():
            entered = selectors.golive_for(facility)
            return entered.date.isoformat() if entered else None

        estimator = money_effects.estimator()
        try:
            if step.kind == "confirm":
                outcome = estimator.apply_if_unchanged(
                    facility=facility, change=change, expected=step.shown, facts=facts)
                if outcome.applied:
                    messages.success(request, "運用開始日を登録しました。")
                    return redirect("facilities:golive", facility_id=facility.pk)
                effects, shown = outcome.effects, outcome.shown
            else:
                effects = estimator.effects_of_change(facility=facility, change=change)
                shown = estimator.shown_key(effects, facts())
        except services.ServiceError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            return render(request, "facilities/golive_confirm.html", {
                "facility": facility, "current": selectors.golive_for(facility),
                "golive_date": golive_date, "effects": effects,
                "changed": confirmation.CHANGED if step.kind == "confirm" else None,
                "confirmation": confirmation.sign(
                    purpose="golive", user=request.user, facility=facility,
                    values=confirmation.form_values(form), shown=shown),
            })
    usage = selectors.usage_summary(facility)
    return render(
        request,
        "facilities/golive.html",
        {
            "facility": facility,
            "form": form,
            "current": current,
            "status": usage.status,
            "can_enter": usage.start_accepted,
        },
    )


@login_required
def history(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = selectors.facility_for(user=request.user, pk=facility_id)
    page = Paginator(selectors.history_for(facility=facility), 50).get_page(request.GET.get("page"))
    return render(request, "facilities/history.html", {"facility": facility, "page": page})


# ---------------------------------------------------------------- public list (no log-in)


def _public_filter(request: HttpRequest) -> PublicListFilterForm:
    form = PublicListFilterForm(request.GET or None)
    form.is_valid()
    return form


def _public_criteria(form: PublicListFilterForm) -> dict[str, str]:
    data = form.cleaned_data if form.is_bound else {}
    return {field: data.get(field, "") for field in ("prefecture", "kind", "name", "code")}


def public_list(request: HttpRequest) -> HttpResponse:
    form = _public_filter(request)
    # A refused search (too long, an unknown prefecture) lists nothing under its error.
    page = (selectors.public_list_page(**_public_criteria(form),
                                       after=request.GET.get("after", ""),
                                       before=request.GET.get("before", ""))
            if not form.is_bound or form.is_valid() else None)
    query = request.GET.copy()
    for key in ("after", "before", "page"):
        query.pop(key, None)
    return render(
        request,
        "facilities/public_list.html",
        {
            "form": form,
            "page": page,
            "query": query.urlencode(),
            "build": selectors.latest_public_list_build(),
        },
    )


@ratelimit.rate_limited("public_list_csv", key="ip")
def public_list_csv(request: HttpRequest) -> StreamingHttpResponse | HttpResponse:
    """Streamed row by row (a server-side cursor on PostgreSQL), never held whole. A refused
    search answers with the list page and its error, instead of exporting everything. Public:
    limited per client address (RATE_LIMITS["public_list_csv"])."""
    form = _public_filter(request)
    if form.is_bound and not form.is_valid():
        return public_list(request)
    entries = selectors.facilities_listed_publicly(**_public_criteria(form)).values_list(
        "code", "name", "kind", "prefecture", "address", "golive_date")
    kinds = dict(FacilityKind.choices)
    rows = (
        (code, name, kinds.get(kind, kind), PREFECTURE_NAMES.get(prefecture, ""), address,
         golive_date.isoformat())
        for code, name, kind, prefecture, address, golive_date in entries.iterator(
            chunk_size=2000)
    )
    return csv_response(
        ["医療機関等コード・登録記号番号", "名称", "種別", "都道府県", "所在地", "運用開始日"],
        rows, "myna-facilities.csv")
