"""Payables for payout tests: facilities with a bank account and an eligible result (or an
approved claim), the consignor's settings and payout officers."""

from datetime import date

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
