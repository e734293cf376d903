"""The counter page (カウンター): staff start a check that the facility's local agent does,
and see the answer large. Facility-scoped: another facility's staff get 404."""

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from facilities.selectors import facility_for
from portal.errors import ServiceError, add_error_to_form
from portal.forms import NormalizedForm

from . import counter


class CheckForm(NormalizedForm):
    device_account = forms.TypedChoiceField(
        label="カードリーダーをつないだ端末", coerce=int,
        # A device account ended after the page was shown (its number would mean nothing).
        error_messages={"invalid_choice": "選んだ端末は使えなくなりました。一覧から選び直してください。"})
    mode = forms.ChoiceField(label="本人確認の方法", choices=list(counter.MODES.items()),
                             widget=forms.RadioSelect, initial="pin")

    def __init__(self, *args, accounts, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["device_account"].choices = [
            (account.pk, f"端末{account.number}（{account.login_id}）") for account in accounts]


@login_required
@require_http_methods(["GET", "POST"])
def counter_page(request: HttpRequest, facility_id: int) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    accounts = list(counter.device_accounts_for(facility))
    form = CheckForm(request.POST or None, accounts=accounts,
                     initial={"mode": request.GET.get("mode", "pin")})
    if request.method == "POST" and form.is_valid():
        try:
            check = counter.start_check(facility=facility,
                                        device_account_id=form.cleaned_data["device_account"],
                                        mode=form.cleaned_data["mode"])
        except ServiceError as error:
            add_error_to_form(form, error)
        else:
            return redirect("cardreader:check", facility_id=facility.pk, check_id=check.id)
    return render(request, "cardreader/counter.html",
                  {"facility": facility, "form": form, "accounts": accounts})


@login_required
@require_GET
def check_page(request: HttpRequest, facility_id: int, check_id: str) -> HttpResponse:
    facility = facility_for(user=request.user, pk=facility_id)
    check = counter.check_for(facility=facility, check_id=check_id)
    response = render(request, "cardreader/check.html", {"facility": facility, "check": check})
    response["Cache-Control"] = "private, no-store"  # a patient's qualification
    return response
