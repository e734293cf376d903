"""Two-factor enrolment of staff accounts by invitation (docs/decisions.md D1.1): a staff account
without an authenticator reaches nothing, and sets one up only through a one-time link e-mailed to
its address, with its password; never by its password alone."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import (
    SECRET_SESSION_KEY,
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)
from django.core import mail
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from portal import invitations
from portal.models import TwoFactorInvitation
from tests.concurrency import run_in_parallel
from tests.factories import (
    PASSWORD,
    AdminFactory,
    FacilityFactory,
    UserFactory,
    login_admin,
    make_staff,
    totp_code_to_type,
)

REQUIRED = "/accounts/2fa/invitation/"
ACTIVATE = "/accounts/2fa/totp/activate/"
OPEN = "/accounts/2fa/invitation/open/"
LINK = re.compile(r"https?://\S+/accounts/2fa/invitation/([A-Za-z0-9_-]+)/")


def _staff_without_two_factor(**kwargs):
    """What `load_demo` or a superuser makes: a staff account, its address verified, no
    authenticator."""
    return UserFactory(is_staff=True, **kwargs)


def _password_log_in(client, user) -> None:
    response = client.post(reverse("account_login"), {"login": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.status_code
    assert "_auth_user_id" in client.session


def _current_code(secret: str) -> str:
    from allauth.mfa.totp.internal.auth import yield_hotp_counters_from_time

    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def _invite(user, callbacks) -> str:
    """Invite `user` as the command does; the token read from the e-mail sent."""
    with callbacks(execute=True):
        invitations.issue_invitation(user=user)
    return LINK.search(mail.outbox[-1].body).group(1)


def _follow_link(client, token, password=PASSWORD):
    """Open the e-mail's link, type the password on the page it leads to."""
    client.get(reverse("two_factor_invitation", args=[token]))
    return client.post(OPEN, {"password": password})


def _enrol(client, callbacks) -> str:
    """On allauth's set-up page (opened by an invitation): scan, type the code. The secret."""
    page = client.get(ACTIVATE)
    assert page.status_code == 200 and 'name="code"' in page.content.decode()
    secret = client.session[SECRET_SESSION_KEY]
    with callbacks(execute=True):
        response = client.post(ACTIVATE, {"code": _current_code(secret)})
    assert response.status_code == 302, response.content.decode()[:2000]
    return secret


# ---------------------------------------------------------------- the defect


@pytest.mark.django_db
def test_a_staff_account_cannot_set_up_two_factor_with_its_password_alone(client):
    """The audit's attack: log in with the password, enrol one's own authenticator, reach the
    admin. Every step of it is refused now."""
    staff = _staff_without_two_factor(is_superuser=True)
    _password_log_in(client, staff)
    # allauth's set-up page, its password confirmation, and a code posted to it blindly.
    for url in (ACTIVATE, reverse("account_reauthenticate"), reverse("mfa_index")):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"] == REQUIRED, url
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    response = client.post(ACTIVATE, {"code": "123456"})
    assert response.status_code == 302 and response["Location"] == REQUIRED
    assert SECRET_SESSION_KEY not in client.session  # no secret was ever offered
    assert not Authenticator.objects.filter(user=staff).exists()
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"] == REQUIRED


@pytest.mark.django_db
@pytest.mark.parametrize("url", ["/admin/", "/admin/portal/user/", "/dashboard/", "/",
                                 "/facilities/link/", "/todos/reminders/", "/accounts/email/",
                                 "/accounts/password/change/", "/public/", "/simulator/",
                                 "/accounts/2fa/recovery-codes/"])
def test_until_enrolled_a_staff_account_reaches_nothing(client, url):
    _password_log_in(client, _staff_without_two_factor())
    for method in ("get", "post"):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and response["Location"] == REQUIRED, (method, url)


@pytest.mark.django_db
def test_the_page_it_reaches_says_an_invitation_is_needed_and_offers_no_enrolment(client):
    staff = _staff_without_two_factor()
    _password_log_in(client, staff)
    response = client.get(REQUIRED)
    body = response.content.decode()
    assert response.status_code == 200
    assert "招待メールが必要です" in body and staff.email in body
    assert 'name="code"' not in body and "data:image/svg" not in body
    assert ACTIVATE not in body
    assert client.get(reverse("account_logout")).status_code == 200  # it may log out


@pytest.mark.django_db
def test_facility_staff_keep_their_optional_two_factor(client):
    user = make_staff(FacilityFactory())
    _password_log_in(client, user)
    assert client.get("/dashboard/").status_code == 200
    client.post(reverse("account_reauthenticate"), {"password": PASSWORD})
    assert client.get(ACTIVATE).status_code == 200
    assert client.get(REQUIRED)["Location"] == reverse("dashboard")


# ---------------------------------------------------------------- the invitation


@pytest.mark.django_db
def test_the_link_and_the_password_set_up_two_factor_once(client, django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    EmailAddress.objects.filter(user=staff).update(verified=False)
    token = _invite(staff, django_capture_on_commit_callbacks)
    assert mail.outbox[-1].to == [staff.email]
    stored = TwoFactorInvitation.objects.get(user=staff)
    assert stored.token_hash == invitations.token_hash(token) and token not in stored.token_hash

    link = reverse("two_factor_invitation", args=[token])
    page = client.get(link)
    # The token leaves the address at once (no Referer, no log line carries it on).
    assert page.status_code == 302 and page["Location"] == OPEN
    assert token not in str(dict(client.session))
    page = client.get(OPEN)
    assert page.status_code == 200 and staff.email in page.content.decode()
    # The link alone does not sign in nor open the set-up page.
    assert "_auth_user_id" not in client.session
    assert client.get(ACTIVATE)["Location"].startswith(reverse("account_login"))

    response = _follow_link(client, token)
    assert response.status_code == 302 and response["Location"] == ACTIVATE
    assert EmailAddress.objects.get(user=staff).verified  # the link reached the address
    secret = _enrol(client, django_capture_on_commit_callbacks)
    assert TOTP(Authenticator.objects.get(user=staff, type="totp")).validate_code(
        _current_code(secret))
    stored.refresh_from_db()
    assert stored.used_at is not None
    assert mail.outbox[-1].subject.endswith("二段階認証を設定しました")
    # Recovery codes as allauth makes them; the admin asks for a code, no longer the invitation.
    assert client.get(reverse("mfa_view_recovery_codes")).status_code == 200
    assert client.get("/admin/")["Location"].startswith(reverse("mfa_reauthenticate"))
    # Spent: the link is refused, to anybody.
    assert Client().get(link).status_code == 404


@pytest.mark.django_db
def test_a_superuser_made_by_createsuperuser_enrols_through_the_command(
        django_capture_on_commit_callbacks):
    """The ops path: `createsuperuser` (no e-mail address record at all), `invite_staff`,
    the link: the address is recorded as verified and the set-up opens."""
    from django.contrib.auth import get_user_model

    superuser = get_user_model().objects.create_superuser("ops@example.jp", PASSWORD)
    assert not EmailAddress.objects.filter(user=superuser).exists()
    client = Client()
    # Its password alone: allauth asks for the address to be confirmed, nothing more.
    client.post(reverse("account_login"), {"login": superuser.email, "password": PASSWORD})
    assert client.get("/admin/").status_code == 302
    assert not Authenticator.objects.filter(user=superuser).exists()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("invite_staff", "ops@example.jp", stdout=StringIO())
    token = LINK.search(mail.outbox[-1].body).group(1)
    client = Client()
    assert _follow_link(client, token).status_code == 302
    address = EmailAddress.objects.get(user=superuser)
    assert (address.email, address.verified, address.primary) == ("ops@example.jp", True, True)
    _enrol(client, django_capture_on_commit_callbacks)
    assert Authenticator.objects.filter(user=superuser, type="totp").exists()


@pytest.mark.django_db
def test_the_link_with_a_wrong_password_opens_nothing(client, django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    token = _invite(staff, django_capture_on_commit_callbacks)
    response = _follow_link(client, token, password="WrongPassw0rd")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_password_error"' in body and "パスワードが正しくありません" in body
    assert "_auth_user_id" not in client.session
    assert invitations.SESSION_KEY not in client.session
    assert TwoFactorInvitation.objects.get(user=staff).used_at is None


@pytest.mark.django_db
def test_the_password_of_another_account_does_not_open_an_invitation(
        client, django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    other = _staff_without_two_factor()
    other.set_password("AnotherPassw0rd")
    other.save()
    token = _invite(staff, django_capture_on_commit_callbacks)
    assert _follow_link(client, token, password="AnotherPassw0rd").status_code == 200
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_invitation_is_bound_to_its_account(client, django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    token = _invite(staff, django_capture_on_commit_callbacks)
    intruder = _staff_without_two_factor()
    _password_log_in(client, intruder)
    for response in (client.get(reverse("two_factor_invitation", args=[token]), follow=True),
                     _follow_link(client, token)):
        assert response.status_code == 403
        assert "別のアカウントでログインしています" in response.content.decode()
    assert invitations.SESSION_KEY not in client.session
    assert client.get(ACTIVATE)["Location"] == REQUIRED


@pytest.mark.django_db
def test_an_expired_or_revoked_invitation_is_refused(client, django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    first = _invite(staff, django_capture_on_commit_callbacks)
    second = _invite(staff, django_capture_on_commit_callbacks)  # revokes the first
    assert TwoFactorInvitation.objects.get(token_hash=invitations.token_hash(first)).revoked_at
    refused = client.get(reverse("two_factor_invitation", args=[first]))
    assert refused.status_code == 404 and "招待リンクが使えません" in refused.content.decode()
    assert _follow_link(client, first).status_code == 404
    TwoFactorInvitation.objects.filter(user=staff).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert _follow_link(client, second).status_code == 404
    assert "_auth_user_id" not in client.session


@pytest.mark.django_db
def test_an_invitation_that_expires_after_the_password_step_does_not_set_up(
        client, django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    token = _invite(staff, django_capture_on_commit_callbacks)
    _follow_link(client, token)
    assert client.get(ACTIVATE).status_code == 200
    secret = client.session[SECRET_SESSION_KEY]
    TwoFactorInvitation.objects.filter(user=staff).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    response = client.post(ACTIVATE, {"code": _current_code(secret)})
    assert response.status_code == 302 and response["Location"] == REQUIRED
    assert not Authenticator.objects.filter(user=staff).exists()


@pytest.mark.django_db
def test_a_live_token_reaches_no_log_record(client, caplog, django_capture_on_commit_callbacks):
    """Refusals are logged with their path (Django's "Forbidden: …"): a live token must not
    be in it — here, another account opening the link, then a wrong password."""
    staff = _staff_without_two_factor()
    token = _invite(staff, django_capture_on_commit_callbacks)
    _password_log_in(client, _staff_without_two_factor())
    assert client.get(reverse("two_factor_invitation", args=[token]),
                      follow=True).status_code == 403
    _follow_link(Client(), token, password="WrongPassw0rd")
    assert caplog.records and not [r for r in caplog.records if token in r.getMessage()]
    assert not any(token in str(value) for value in client.session.values())


@pytest.mark.django_db
@pytest.mark.parametrize("token", ["x", "a" * 43, "a" * 5000, "%E3%81%82", "..", "-_-"])
def test_a_made_up_token_is_refused(client, token):
    response = client.get(f"/accounts/2fa/invitation/{token}/")
    assert response.status_code == 404
    assert not TwoFactorInvitation.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_two_set_ups_at_once_through_one_invitation_make_one_authenticator(postgres):
    staff = _staff_without_two_factor()
    invitation, link = invitations.issue_invitation(user=staff)
    token = link.rstrip("/").rsplit("/", 1)[1]
    clients, codes = [], []
    for _ in range(2):
        client = Client()
        assert _follow_link(client, token).status_code == 302
        assert client.get(ACTIVATE).status_code == 200
        clients.append(client)
        # A code that stays valid while both are sent (with no tolerance, one computed a
        # moment before the 30-second window turns is refused: a clean run failed so once).
        codes.append(totp_code_to_type(client.session[SECRET_SESSION_KEY]))
    outcomes = run_in_parallel([lambda c=c, code=code: c.post(ACTIVATE, {"code": code})
                                for c, code in zip(clients, codes, strict=True)])
    assert all(getattr(o, "status_code", None) == 302 for o in outcomes), outcomes
    assert Authenticator.objects.filter(user=staff, type="totp").count() == 1
    assert sorted(o["Location"] for o in outcomes) == sorted(
        [REQUIRED, reverse("mfa_view_recovery_codes")])
    invitation.refresh_from_db()
    assert invitation.used_at is not None


@pytest.mark.django_db(transaction=True)
def test_two_invitations_at_once_leave_one_open(postgres):
    staff = _staff_without_two_factor()
    outcomes = run_in_parallel([lambda: invitations.issue_invitation(user=staff)
                                for _ in range(4)])
    assert all(isinstance(o, tuple) for o in outcomes), outcomes
    assert TwoFactorInvitation.objects.filter(user=staff).count() == 4
    assert TwoFactorInvitation.objects.filter(user=staff, revoked_at__isnull=True).count() == 1


# ---------------------------------------------------------------- who sends it


def _superuser_client():
    return login_admin(Client(), AdminFactory())


@pytest.mark.django_db
def test_the_user_admins_button_sends_an_invitation(django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    client = _superuser_client()
    page = client.get(reverse("admin:portal_user_change", args=[staff.pk])).content.decode()
    assert "二段階認証の招待を送る" in page and "未設定（招待が必要です）" in page
    url = reverse("admin:portal_user_invite", args=[staff.pk])
    assert client.get(url).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, follow=True)
    body = response.content.decode()
    assert f"二段階認証の招待メールを {staff.email} に送りました" in body
    assert "未設定（招待を送信済み" in body
    assert [m.to for m in mail.outbox] == [[staff.email]]
    assert LINK.search(mail.outbox[0].body).group(0).startswith("http://testserver/")
    invitation = TwoFactorInvitation.objects.get(user=staff)
    assert invitation.created_by is not None and invitation.created_by.is_superuser


@pytest.mark.django_db
def test_the_button_refuses_an_account_already_set_up_and_sends_nothing(
        django_capture_on_commit_callbacks):
    enrolled = _staff_without_two_factor()
    TOTP.activate(enrolled, generate_totp_secret())
    facility_user = make_staff(FacilityFactory())
    client = _superuser_client()
    for user, message in ((enrolled, "二段階認証を設定済み"), (facility_user, "招待は不要です")):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(reverse("admin:portal_user_invite", args=[user.pk]),
                                   follow=True)
        assert message in response.content.decode()
    assert not mail.outbox and not TwoFactorInvitation.objects.exists()
    assert client.post(reverse("admin:portal_user_invite", args=["x"])).status_code == 404


@pytest.mark.django_db
def test_making_an_account_staff_in_the_admin_invites_it(django_capture_on_commit_callbacks):
    user = UserFactory()
    client = _superuser_client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("admin:portal_user_change", args=[user.pk]), {
            "email": user.email, "full_name": user.full_name, "is_active": "on",
            "is_staff": "on", "date_joined_0": "2025-01-01", "date_joined_1": "09:00:00",
            "last_login_0": "", "last_login_1": ""}, follow=True)
    assert f"二段階認証の招待メールを {user.email} に送りました" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[user.email]]
    # Saved again (still staff): no second invitation.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:portal_user_change", args=[user.pk]), {
            "email": user.email, "full_name": "新しい氏名", "is_active": "on",
            "is_staff": "on", "date_joined_0": "2025-01-01", "date_joined_1": "09:00:00",
            "last_login_0": "", "last_login_1": ""})
    assert len(mail.outbox) == 1


@pytest.mark.django_db
def test_the_command_invites_by_address_and_does_not_print_the_link(
        django_capture_on_commit_callbacks):
    staff = _staff_without_two_factor()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("invite_staff", staff.email.upper(), stdout=out)
    assert f"二段階認証の招待メールを {staff.email} に送りました" in out.getvalue()
    token = LINK.search(mail.outbox[0].body).group(1)
    assert token not in out.getvalue()
    assert TwoFactorInvitation.objects.get(user=staff).created_by is None


@pytest.mark.django_db
def test_the_command_refuses_what_it_cannot_invite():
    enrolled = _staff_without_two_factor()
    TOTP.activate(enrolled, generate_totp_secret())
    inactive = _staff_without_two_factor(is_active=False)
    cases = [("nobody@example.jp", "アカウントがありません"), ("", "アカウントがありません"),
             ("a\x00b@example.jp", "アカウントがありません"),
             ("\udcff@example.jp", "アカウントがありません"),
             (make_staff(FacilityFactory()).email, "招待は不要です"),
             (enrolled.email, "設定済み"), (inactive.email, "無効")]
    for address, message in cases:
        with pytest.raises(CommandError, match=message):
            call_command("invite_staff", address, stdout=StringIO())
    assert not TwoFactorInvitation.objects.exists()


# ---------------------------------------------------------------- the demo


@pytest.mark.django_db
def test_the_demo_prints_an_invitation_for_each_administrator_that_enrols_in_one_step(
        django_capture_on_commit_callbacks):
    from django.contrib.auth import get_user_model

    out = StringIO()
    call_command("load_demo", stdout=out)
    printed = out.getvalue()
    staff = get_user_model().objects.filter(is_staff=True)
    assert staff.count() == 6
    tokens = dict(re.findall(r"^\s+.*?(\S+@example\.jp)\s+パスワード: \S+.*\n\s+二段階認証の設定（招待リンク）: "
                             r"http://127\.0\.0\.1:8000/accounts/2fa/invitation/([A-Za-z0-9_-]+)/$",
                             printed, re.MULTILINE))
    assert set(tokens) == {user.email for user in staff}
    password = re.search(r"admin@example\.jp\s+パスワード: (\S+)", printed).group(1)
    client = Client()
    assert _follow_link(client, tokens["admin@example.jp"], password).status_code == 302
    _enrol(client, django_capture_on_commit_callbacks)
    # Loaded again: the enrolled administrator gets no link, the others a fresh one.
    out = StringIO()
    call_command("load_demo", stdout=out)
    again = out.getvalue()
    assert "admin@example.jp" in again and tokens["reviewer@example.jp"] not in again
    assert len(re.findall("二段階認証の設定（招待リンク）", again)) == 5
