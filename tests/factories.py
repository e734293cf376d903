import time
import uuid

import factory
from allauth.account.models import EmailAddress
from django.contrib.auth import get_user_model

from facilities import services
from facilities.codes import with_check_digit
from facilities.models import ApplicationKind, Facility, Membership

PASSWORD = "Passw0rdForTests"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"staff{n}@example.jp")
    full_name = factory.Sequence(lambda n: f"担当 {n}")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def verified(obj, create, extracted, **kwargs):
        if create:
            obj.save()
            EmailAddress.objects.create(user=obj, email=obj.email, verified=True, primary=True)


class AdminFactory(UserFactory):
    """A superuser with two-factor authentication set up (log in with `login_admin`)."""

    email = factory.Sequence(lambda n: f"admin{n}@example.jp")
    is_staff = True
    is_superuser = True

    @factory.post_generation
    def totp(obj, create, extracted, **kwargs):
        if create:
            from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret

            TOTP.activate(obj, generate_totp_secret())


POINT_TABLE = {"hospital": "1", "clinic": "1", "dental": "3", "pharmacy": "4"}


class FacilityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Facility

    kind = "clinic"
    name = factory.Sequence(lambda n: f"テスト施設{n}")
    prefecture = "13"
    address = "千代田区霞が関1-2-2"
    founder_name = "開設 太郎"
    phone = "03-1111-2222"
    account_last4 = "1234"

    @factory.lazy_attribute_sequence
    def code(self, n):
        if self.kind in POINT_TABLE:
            return with_check_digit(f"{self.prefecture}{POINT_TABLE[self.kind]}{n + 1:06d}")
        return f"契{self.prefecture}{n + 1:05d}"


def make_staff(facility: Facility, **kwargs):
    user = UserFactory(**kwargs)
    Membership.objects.create(user=user, facility=facility)
    return user


def application_input(**overrides) -> services.ApplicationInput:
    values = {
        "contact_name": "担当 花子", "founder_name": "開設 太郎", "phone": "03-1111-2222",
        "email": "tanto@example.jp", "staff_count": 2, "device_count": 2,
    }
    values.update(overrides)
    return services.ApplicationInput(**values)


def submit_start(facility: Facility, user, **overrides):
    return services.submit_usage_application(
        user=user, facility=facility, kind=ApplicationKind.START,
        data=application_input(**overrides), token=uuid.uuid4(),
    )


def accepted_facility(kind: str = "judo", devices: int = 2, **facility_fields):
    """A facility whose 利用開始申請 was accepted, with its staff member and administrator."""
    facility = FacilityFactory(kind=kind, **facility_fields)
    user = make_staff(facility)
    admin = AdminFactory()
    application = submit_start(facility, user, device_count=devices)
    services.accept_application(application=application, actor=admin)
    return facility, user, admin


def make_admin(*roles: str, superuser: bool = False, **kwargs):
    """A staff account in the given role groups (portal.roles), with two-factor set up."""
    from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
    from django.contrib.auth.models import Group

    user = UserFactory(is_staff=True, is_superuser=superuser, **kwargs)
    user.groups.set(Group.objects.filter(name__in=roles))
    assert user.groups.count() == len(roles), "unknown role"
    TOTP.activate(user, generate_totp_secret())
    return user


def login_admin(client, user):
    """Log a staff account in as allauth would after its password and TOTP code."""
    from allauth.account.internal.flows.login import (
        _AUTHENTICATION_METHODS_USER_SESSION_KEY,
        AUTHENTICATION_METHODS_SESSION_KEY,
    )

    client.force_login(user)
    session = client.session
    session[AUTHENTICATION_METHODS_SESSION_KEY] = [
        {"method": "password", "at": time.time()}, {"method": "mfa", "at": time.time(),
                                                    "type": "totp"}]
    session[_AUTHENTICATION_METHODS_USER_SESSION_KEY] = str(user.pk)
    session.save()
    return client


# Typing two-factor codes (the browser tests). allauth accepts a code in its own 30-second
# window and the MFA_TOTP_TOLERANCE windows either side (0 in the settings; the browser tests
# set 1, tests/e2e/conftest.py), and refuses a code already used.
TOTP_MARGIN_SECONDS = 5
_last_window_typed: dict[str, int] = {}  # secret → the window whose code was typed last


def totp_code_to_type(secret: str, *, clock=time.time, sleep=time.sleep,
                      tolerance: int | None = None) -> str:
    """The code an authenticator app shows for `secret`, picked as a careful person would:
    never one that the server will accept for less than TOTP_MARGIN_SECONDS more (it could
    expire between typing and the server's check), nor one already typed for this secret (a
    second log-in). Of the windows the server accepts now (the current one and, with a
    tolerance, the next ones), the earliest that qualifies; when none does, it waits on the
    clock until the next window begins: a bounded wait (at most one window), not a wait for
    an event."""
    from allauth.mfa import app_settings
    from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value

    period = app_settings.TOTP_PERIOD
    if tolerance is None:
        tolerance = app_settings.TOTP_TOLERANCE
    while True:
        now = clock()
        current = int(now // period)
        last = _last_window_typed.get(secret, -1)
        for window in range(current, current + tolerance + 1):
            accepted_for = (window + tolerance + 1) * period - now
            if window > last and accepted_for >= TOTP_MARGIN_SECONDS:
                _last_window_typed[secret] = window
                return format_hotp_value(hotp_value(secret, window))
        sleep((current + 1) * period - now)


def claim_with_receipt(facility=None, *, unit_price: int = 30000, tax: int = 3000,
                       program: str = "device-sejutsu"):
    """A draft claim of a 施術所 with one item and its receipt: (claim, the facility's staff)."""
    from datetime import date

    from django.core.files.uploadedfile import SimpleUploadedFile

    from eligibility.models import Program
    from subsidies import services as claim_services
    from tests.samples import PDF

    facility = facility or FacilityFactory(kind="judo")
    staff = make_staff(facility)
    claim = claim_services.start_claim(user=staff, facility=facility,
                                       program=Program.objects.get(code=program))
    item = claim_services.save_item(claim=claim, data=claim_services.ItemInput(
        "タブレット", 1, unit_price, tax, "家電店", date(2024, 11, 1)))
    claim_services.attach_document(claim=claim, item=item, kind="receipt", user=staff,
                                   upload=SimpleUploadedFile("r.pdf", PDF))
    return claim, staff


def claim_under_review(reviewer=None, **kwargs):
    """A claim submitted by its facility and taken into review by a reviewer."""
    from portal import roles
    from subsidies import services as claim_services

    claim, staff = claim_with_receipt(**kwargs)
    claim = claim_services.submit_claim(claim=claim, user=staff)
    return claim_services.start_review(claim=claim,
                                       actor=reviewer or make_admin(roles.REVIEWER))


def previewed(version, actor=None):
    """「適用前の確認」 of a draft, finished: queued as the admin does and computed at once (the
    task's work, as a worker would do it after commit; a second delivery does nothing)."""
    from eligibility import services as eligibility_services

    preview = eligibility_services.start_preview(version=version, actor=actor or AdminFactory())
    eligibility_services.make_preview(preview.pk)
    preview.refresh_from_db()
    assert preview.state == "done", preview.failure
    return preview
