"""Payables for payout tests: facilities with a bank account and an eligible result (or an
approved claim), the consignor's settings and payout officers; the bank's results imported
as an officer imports them (the file written, on the transfer date)."""

from contextlib import contextmanager
from datetime import date

import pytest
from django.utils import timezone

from eligibility.models import Determination, Program
from payouts import services
from payouts.banking import validate_account
from payouts.calendar import next_business_day
from payouts.models import Consignor
from portal import roles
from tests.factories import FacilityFactory, make_admin, make_staff

HOLDERS = ("ｺｳｾｲ ﾀﾛｳ", "ﾏｲﾅ ﾊﾅｺ", "ﾊﾞﾝｸ ｼﾞﾛｳ", "ｼﾝｷﾕｳ ｻﾌﾞﾛｳ")


def lump_sum() -> Program:
    return Program.objects.get(code="lump-sum-2024")


def cooperation() -> Program:
    return Program.objects.get(code="cooperation-2025")


def transfer_day(after: date | None = None) -> date:
    """A bank business day after today (or after `after`)."""
    from datetime import timedelta

    return next_business_day((after or timezone.localdate()) + timedelta(days=1))


def set_consignor() -> Consignor:
    return Consignor.objects.update_or_create(pk=1, defaults=dict(
        code="1234567890", name="ｺｳｾｲﾛｳﾄﾞｳｼﾖｳ", bank_code="0001", bank_name="ﾐｽﾞﾎ",
        branch_code="001", branch_name="ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ", account_type="1",
        account_number="7654321"))[0]


def with_account(facility, *, number: str = "1234567", holder: str | None = None,
                 user=None):
    user = user or make_staff(facility)
    account = validate_account("0001", "001", "1", number,
                               holder or HOLDERS[facility.pk % len(HOLDERS)])
    return services.save_bank_account(user=user, facility=facility, account=account)


def eligible(facility, *, program: Program | None = None, amount: int = 200_000,
             account: bool = True) -> Determination:
    """An eligible result of the program (lump sum by default), as the batch writes it."""
    program = program or lump_sum()
    if account:
        with_account(facility)
    return Determination.objects.create(
        facility=facility, program=program, parameter_version=program.versions.first(),
        eligible=True, amount=amount, reasons=[], details={}, determined_at=timezone.now())


def payables(count: int, *, program: Program | None = None, amount: int = 200_000):
    facilities = [FacilityFactory(kind="clinic") for _ in range(count)]
    return [eligible(facility, program=program, amount=amount) for facility in facilities]


def officers():
    """Two payout officers: one creates, the other releases."""
    return make_admin(roles.PAYOUT_OFFICER), make_admin(roles.PAYOUT_OFFICER)


def results_csv(rows) -> bytes:
    """The bank's results file: (payment line number, result code) per row."""
    return ("顧客コード1,結果コード\r\n" + "".join(f"{pk},{code}\r\n" for pk, code in rows)).encode()


def today_is(monkeypatch, day: date) -> None:
    """From now on in the test, today is `day` (timezone.localdate(), as the services read
    it), e.g. a run's transfer date: results are refused before it."""
    original = timezone.localdate

    def localdate(value=None, timezone=None):
        return day if value is None else original(value, timezone)

    monkeypatch.setattr("django.utils.timezone.localdate", localdate)


@contextmanager
def on_the_day(day: date):
    """Today is `day` within the block (today_is)."""
    with pytest.MonkeyPatch.context() as patch:
        today_is(patch, day)
        yield


def write_file(run, officer):
    """The released run's transfer file, written by the officer (the consignor set first if
    it is not)."""
    if not Consignor.objects.exists():
        set_consignor()
    return services.transfer_file(run=run, actor=officer)


def import_on_the_day(*, run, data: bytes, actor):
    """services.import_results as an officer meets it: the run's file written (by the same
    officer, unless it was), on the run's transfer date."""
    run.refresh_from_db()
    if not run.file_sha256:
        write_file(run, actor)
    with on_the_day(run.transfer_date):
        return services.import_results(run=run, data=data, actor=actor)


def checked(run, officer=None):
    """A run the schedule built, checked by a payout officer (a new one unless given)."""
    return services.check_run(run=run, actor=officer or make_admin(roles.PAYOUT_OFFICER))


def totp_code(user) -> str:
    """The code the officer's authenticator app shows now."""
    from allauth.mfa import app_settings
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import (
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )
    from allauth.mfa.utils import decrypt

    secret = decrypt(Authenticator.objects.get(user=user, type="totp").data["secret"])
    counters = list(yield_hotp_counters_from_time())
    return format_hotp_value(hotp_value(secret, counters[app_settings.TOTP_TOLERANCE]))


def adjustment(facility, *, program: Program | None = None, paid: int = 200_000,
               new: int = 250_000, cause: str = "パラメータの改定（第2版）"):
    """An approved adjustment (調整) of the facility's paid result: reviewed by one officer,
    approved by another, through the workflow."""
    from django.contrib.auth.models import Permission

    from eligibility.models import Adjustment
    from portal.workflow import perform

    program = program or lump_sum()
    determination = Determination.objects.filter(facility=facility, program=program).first()
    if determination is None:
        determination = _paid_result(facility, program, paid)
    made = Adjustment.objects.create(
        facility=facility, program=program, determination=determination,
        parameter_version=program.versions.first(), paid_amount=paid, new_amount=new,
        difference=new - paid, eligible=new > 0, cause=cause, proposed_at=timezone.now())
    reviewer, approver = make_admin(), make_admin()
    reviewer.user_permissions.add(Permission.objects.get(codename="review_adjustment"))
    approver.user_permissions.add(Permission.objects.get(codename="decide_adjustment"))
    perform(made, "review", actor=reviewer)
    return perform(made, "approve", actor=approver)


def _paid_result(facility, program, paid):
    """A result paid by a settled run (its paid line stands for it)."""
    from payouts.models import PaymentLine, PayoutRun

    determination = Determination.objects.create(
        facility=facility, program=program, parameter_version=program.versions.first(),
        eligible=True, amount=paid, reasons=[], details={}, determined_at=timezone.now(),
        payout_locked=True)
    paid_run = PayoutRun.objects.create(program=program, transfer_date=timezone.localdate(),
                                        state=PayoutRun.State.SETTLED, line_count=1,
                                        total_amount=paid)
    PaymentLine.objects.create(
        run=paid_run, facility=facility, program=program, source_kind="determination",
        source_id=determination.pk, gross_amount=paid, amount=paid,
        state=PaymentLine.State.PAID, bank_code="0001", bank_name="みずほ", branch_code="001",
        branch_name="東京営業部", account_type="1", account_number="1234567",
        holder_name="ｺｳｾｲ ﾀﾛｳ")
    return determination
