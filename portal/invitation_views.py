"""The pages of two-factor enrolment by invitation (portal/invitations.py): the invitation
link (its password step), the page a staff account without an authenticator is sent to, and
allauth's authenticator set-up, which a staff account reaches only through an invitation."""

from allauth.account.internal.flows.reauthentication import reauthenticate_by_password
from allauth.mfa.totp.views import activate_totp as allauth_activate_totp
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from . import invitations
from .account_forms import LoginForm

WRONG_PASSWORD = "パスワードが正しくありません。"  # noqa: S105 - a message
TOO_MANY = ("パスワードを続けて間違えたため、しばらく受け付けません。時間をおいて、"
            "もう一度お試しください。")


class InvitationPasswordForm(forms.Form):
    password = forms.CharField(
        label="パスワード", strip=False, max_length=200,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        help_text="このアカウントでログインするときのパスワード。")

    def __init__(self, *args, invitation, request, **kwargs):
        super().__init__(*args, **kwargs)
        self.invitation, self.request = invitation, request
        self.login_form = None

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        # allauth's own log-in form checks it: its rate limits and its log-in flow apply.
        login_form = LoginForm(data={"login": self.invitation.user.email, "password": password},
                               request=self.request)
        if not login_form.is_valid() or login_form.user.pk != self.invitation.user_id:
            codes = {error.code for errors in login_form.errors.as_data().values()
                     for error in errors}
            raise forms.ValidationError(
                TOO_MANY if "too_many_login_attempts" in codes else WRONG_PASSWORD)
        self.login_form = login_form
        return password


def _home_of(user) -> str:
    return reverse("admin:index") if user.is_staff else reverse("dashboard")


def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """The link of the e-mail. An open invitation's token is kept in the session (hashed) and
    the browser sent on to a page without it in its address, as Django's password reset
    does: the token travels in no Referer and no refusal's log line."""
    if invitations.open_invitation(token) is None:
        return render(request, "account/two_factor_invitation_invalid.html", status=404)
    request.session[invitations.LINK_SESSION_KEY] = invitations.token_hash(token)
    return redirect("two_factor_invitation_open")


def invitation_open(request: HttpRequest) -> HttpResponse:
    """The link's page: with the account's password, the session may set up the
    authenticator (allauth's page, next)."""
    hashed = request.session.get(invitations.LINK_SESSION_KEY)
    found = invitations.invitation_by_hash(hashed)
    if found is None:
        return render(request, "account/two_factor_invitation_invalid.html", status=404)
    if request.user.is_authenticated and request.user.pk != found.user_id:
        return render(request, "account/two_factor_invitation_other_account.html", status=403)
    form = InvitationPasswordForm(request.POST or None, invitation=found, request=request)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            # Still open once its row is locked (not spent or revoked meanwhile).
            found = invitations.invitation_by_hash(hashed, lock=True)
            if found is None:
                return render(request, "account/two_factor_invitation_invalid.html",
                              status=404)
            invitations.accept_invitation(request=request, invitation=found)
            response = form.login_form.login(request,
                                             redirect_url=reverse("mfa_activate_totp"))
            # The log-in keeps the session's data (a new key, the same contents); said again
            # in case it started a fresh session.
            request.session[invitations.SESSION_KEY] = found.pk
            request.session.pop(invitations.LINK_SESSION_KEY, None)
            # The password was typed on this page for this very step: allauth's set-up page
            # need not ask for it a second time.
            reauthenticate_by_password(request)
        return response
    return render(request, "account/two_factor_invitation.html",
                  {"form": form, "invitation": found})


@login_required
def invitation_required(request: HttpRequest) -> HttpResponse:
    """Where a staff account without an authenticator is sent: no form, only what to do."""
    if not invitations.needs_invitation(request.user):
        return redirect(_home_of(request.user))
    return render(request, "account/two_factor_invitation_required.html")


def activate_totp(request: HttpRequest, *args, **kwargs) -> HttpResponse:
    """allauth's set-up page; for a staff account, only with the invitation this session
    proved, which the set-up spends (under its row lock: two set-ups at once, one wins)."""
    if not invitations.needs_invitation(request.user):
        return allauth_activate_totp(request, *args, **kwargs)
    if request.method != "POST":
        if invitations.invitation_in_session(request) is None:
            return redirect("two_factor_invitation_required")
        return allauth_activate_totp(request, *args, **kwargs)
    with transaction.atomic():
        found = invitations.invitation_in_session(request, lock=True)
        if found is None:
            messages.error(request, "招待の有効期限が切れたか、すでに使われています。")
            return redirect("two_factor_invitation_required")
        response = allauth_activate_totp(request, *args, **kwargs)
        if invitations.has_authenticator(request.user):
            invitations.spend_invitation(request=request, invitation=found)
    return response
