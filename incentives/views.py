from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.module_loading import import_string
from django.views.decorators.http import require_http_methods

from eligibility.engine import binding_for, determine, simulator_programs, todo_of
from eligibility.selectors import simulation_params
from facilities.selectors import facility_for
from portal import confirmation
from portal.errors import ServiceError, add_error_to_form

from . import effects, selectors, services
from .forms import ActivityReportForm, AttestationForm


@login_required
def overview(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    return render(request, "incentives/overview.html", {
        "facility": facility,
        "programs": selectors.overview_for(facility),
    })


def _confirm_or_apply(request, step, *, purpose: str, facility, change, facts, form,
                      page: dict):
    """The check and confirm steps of a money-changing form: the confirmation page naming
    the effect (incentives/effects.py), or None once applied (the caller redirects). A
    ServiceError goes to the form."""
    if step.kind == "confirm":
        outcome = effects.apply_if_unchanged(facility=facility, change=change,
                                             expected=step.shown, facts=facts)
        if outcome.applied:
            return None
        found, shown = outcome.effects, outcome.shown
    else:
        found = effects.effects_of_change(facility=facility, change=change)
        shown = effects.shown_key(found, facts())
    return render(request, "incentives/confirm.html", {
        **page, "facility": facility, "effects": found,
        "changed": confirmation.CHANGED if step.kind == "confirm" else None,
        "confirmation": confirmation.sign(purpose=purpose, user=request.user,
                                          facility=facility,
                                          values=confirmation.form_values(form), shown=shown),
    })


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, facility_id: int, code: str) -> HttpResponse:
    facility, program = selectors.program_for(user=request.user, facility_id=facility_id,
                                              code=code)
    if todo_of(program) is None or todo_of(program).page != "report":
        return redirect("incentives:attest", facility_id=facility.pk, code=code)
    locked = services.report_is_locked(program)
    version = selectors.in_force(program)  # read once: the period and the current result
    period = selectors.reportable_period(facility, program, version=version)
    step = confirmation.read_step(request, form_class=ActivityReportForm,
                                  purpose=f"report.{program.code}", facility=facility,
                                  period=period)
    if step.refused:
        messages.error(request, step.refused)
    form = step.form
    if step.kind in ("check", "confirm") and not locked and form.is_valid():
        data = services.ReportInput(**form.cleaned_data)

        def change():
            return services.submit_activity_report(user=request.user, facility=facility,
                                                   program=program, data=data)

        def facts():
            report = selectors.report_for(facility, program)
            return report and [getattr(report, k) for k in REPORT_FIELDS]

        try:
            page = _confirm_or_apply(
                request, step, purpose=f"report.{program.code}", facility=facility,
                change=change, facts=facts, form=form, page={
                    "program": program, "title": "取組の実施報告",
                    "rows": _report_rows(data),
                    "existing": selectors.report_for(facility, program)})
        except ServiceError as error:
            add_error_to_form(form, error)
        else:
            if page is not None:
                return page
            # A report that does not qualify is saved, but never with a green success: the
            # warning names what is missing (docs/decisions.md D5.1.4).
            current = selectors.current_result(facility, program, version=version)
            if current is not None and not current["eligible"]:
                messages.warning(request, (
                    "取組の実施報告を登録しましたが、このままでは協力金の支給対象になりません。"
                    f"理由: {'、'.join(current['missing']) or '支給の条件を満たしていません'}。"
                    "内容を確認し、誤りがあれば修正してください。"))
                return redirect("incentives:report", facility_id=facility.pk, code=code)
            messages.success(request, "取組の実施報告を登録しました。")
            return redirect("incentives:overview", facility_id=facility.pk)
    # Read for the page only (a saved report goes straight back to the overview).
    existing = selectors.report_for(facility, program)
    if form is None:
        initial = {}
        if existing:
            initial = {k: getattr(existing, k) for k in REPORT_FIELDS}
        form = ActivityReportForm(initial=initial, period=period)
    return render(request, "incentives/report.html", {
        "facility": facility, "program": program, "form": form, "existing": existing,
        "period": period,
        "locked": locked, "current": selectors.current_result(facility, program,
                                                              version=version),
    })


REPORT_FIELDS = ("voice", "flyer", "poster", "activity_from", "activity_to")


def _done(value: bool) -> str:
    return "実施した" if value else "実施していない"


def _report_rows(data) -> list[tuple[str, str]]:
    from portal.wareki import to_wareki

    return [
        (ActivityReportForm.base_fields["voice"].label, _done(data.voice)),
        (ActivityReportForm.base_fields["flyer"].label, _done(data.flyer)),
        (ActivityReportForm.base_fields["poster"].label, _done(data.poster)),
        ("実施期間", f"{to_wareki(data.activity_from)}から{to_wareki(data.activity_to)}まで"),
    ]


@login_required
@require_http_methods(["GET", "POST"])
def attest(request: HttpRequest, facility_id: int, code: str) -> HttpResponse:
    facility, program = selectors.program_for(user=request.user, facility_id=facility_id,
                                              code=code)
    if todo_of(program) is None or todo_of(program).page != "attest":
        return redirect("incentives:report", facility_id=facility.pk, code=code)
    existing = selectors.attestation_for(facility, program)
    locked = services.report_is_locked(program)
    step = confirmation.read_step(request, form_class=AttestationForm,
                                  purpose=f"attest.{program.code}", facility=facility)
    if step.refused:
        messages.error(request, step.refused)
    form = step.form
    if step.kind in ("check", "confirm") and not locked and form.is_valid():
        values = dict(form.cleaned_data)

        def change():
            return services.submit_attestation(user=request.user, facility=facility,
                                               program=program, **values)

        def facts():
            attestation = selectors.attestation_for(facility, program)
            return attestation and [attestation.poster, attestation.informed]

        try:
            page = _confirm_or_apply(
                request, step, purpose=f"attest.{program.code}", facility=facility,
                change=change, facts=facts, form=form, page={
                    "program": program, "title": "実施状況の確認",
                    "existing": existing,
                    "rows": [(AttestationForm.base_fields[k].label, _done(values[k]))
                             for k in ("poster", "informed")]})
        except ServiceError as error:
            form.add_error(None, error.message)
        else:
            if page is not None:
                return page
            messages.success(request, "実施状況を登録しました。")
            return redirect("incentives:overview", facility_id=facility.pk)
    if form is None:
        form = AttestationForm(initial={"poster": existing.poster, "informed": existing.informed}
                               if existing else {})
    return render(request, "incentives/attest.html", {
        "facility": facility, "program": program, "form": form, "existing": existing,
        "locked": locked, "current": selectors.current_result(facility, program),
    })


def simulator(request: HttpRequest) -> HttpResponse:
    """Public: anyone enters the figures a program's rule reads and sees the amount (the
    programs whose registry entry names a simulator form; `?program=CODE`, else the first).
    Where no version of the program's parameters covers today the page says so and computes
    nothing: there is no default from code (docs/domain.md §5.4)."""
    programs = simulator_programs()
    if not programs:
        raise Http404("シミュレーターのあるプログラムはありません")
    code = request.GET.get("program")
    program = next((p for p in programs if p.code == code), None) if code else programs[0]
    unknown = program is None  # the first program's page, saying the one asked has none
    program = program or programs[0]
    binding = binding_for(program)
    adapter = binding.simulate
    status = 400 if unknown else 200
    params_dict = simulation_params(program.code)
    if params_dict is None:  # no version covers today: no amount, never a default
        return render(request, adapter.template,
                      {"no_version": True, "today": timezone.localdate(), "program": program,
                       "programs": programs, "unknown_program": unknown}, status=status)
    params = binding.params_from_dict(params_dict)
    typed = set(request.GET) - {"program"}  # choosing a program is not a submission
    form = import_string(adapter.form)(request.GET if typed and not unknown else None,
                                       params=params)
    result = None
    if form.is_bound and form.is_valid():
        result = determine(program.rule, params_dict, binding.facts_type(**form.cleaned_data))
    return render(request, adapter.template,
                  {"form": form, "result": result, "params": params, "program": program,
                   "programs": programs, "unknown_program": unknown}, status=status)
