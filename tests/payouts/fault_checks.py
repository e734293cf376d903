"""What the fault tests (tests/payouts/test_faults.py) make and check in the database:
payables made in bulk, and "every payable paid exactly once", down to the transfer file read
record by record from the 全銀 layout."""

import itertools
from collections import Counter
from datetime import timedelta

from django.utils import timezone

from eligibility.models import Determination, Program
from facilities.models import Facility
from payouts import services
from payouts.calendar import next_business_day
from payouts.models import BankAccount, PaymentLine, PayoutRun
from portal import roles
from tests.factories import make_admin

_numbers = itertools.count(1)


def payables(count: int, program: Program) -> dict[int, int]:
    """`count` facilities with a bank account and an eligible result: {result pk: amount}."""
    numbers = [next(_numbers) for _ in range(count)]
    facilities = Facility.objects.bulk_create(
        [Facility(kind="clinic", code=f"F{n:09d}", name=f"障害試験施設{n}", prefecture="13",
                  account_last4=f"{n % 10_000:04d}") for n in numbers])
    BankAccount.objects.bulk_create(
        [BankAccount(facility=facility, bank_code="0001", bank_name="みずほ銀行",
                     bank_kana="ﾐｽﾞﾎ", branch_code="001", branch_name="東京営業部",
                     branch_kana="ﾄｳｷﾖｳｴｲｷﾞﾖｳﾌﾞ", account_type="1",
                     account_number=f"{n % 10_000_000:07d}", holder_name=f"ｼｹﾝ ｼｾﾂ{n}")
         for facility, n in zip(facilities, numbers, strict=True)])
    version = program.versions.first()
    results = Determination.objects.bulk_create(
        [Determination(facility=facility, program=program, parameter_version=version,
                       eligible=True, amount=100_000 + n % 977 * 100, reasons=[], details={},
                       determined_at=timezone.now())
         for facility, n in zip(facilities, numbers, strict=True)])
    return {result.pk: result.amount for result in results}


def scheduled_day(lead_business_days: int = 5):
    """The transfer date the schedule's job (create_scheduled_runs) gives its runs today."""
    day = timezone.localdate()
    for _ in range(lead_business_days):
        day = next_business_day(day + timedelta(days=1))
    return day


def last_run_pk() -> int:
    return PayoutRun.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def read_transfer_file(data: bytes) -> tuple[list[tuple[int, int]], int, int]:
    """(顧客コード1, 振込金額) of each data record, and the trailer's count and total, read
    from the layout: 120-byte records, each followed by CR LF; 1 header, 2 data, 8 trailer,
    9 end."""
    assert data.endswith(b"\r\n"), "every record ends with CR LF"
    records = data.split(b"\r\n")[:-1]
    assert all(len(record) == 120 for record in records), "a record is not 120 bytes"
    kinds = b"".join(record[:1] for record in records)
    assert kinds == b"1" + b"2" * (len(records) - 3) + b"89", f"record kinds {kinds[:20]!r}…"
    lines = [(int(record[91:101]), int(record[80:90])) for record in records[1:-2]]
    trailer = records[-2]
    return lines, int(trailer[1:7]), int(trailer[7:19])


def check_paid_once(program: Program, expected: dict[int, int], *, since: int,
                    releaser) -> int:
    """Every expected payable stands in exactly one live line, all in one run that is built
    (承認待ち, or 確認待ち when the schedule created it), whose count and total are its
    lines', whose file's trailer matches them (a scheduled run checked by another officer
    than `releaser` first); any other run made since `since` pays nobody. The number of
    those other (empty) runs."""
    live = PaymentLine.objects.filter(source_kind="determination", source_id__in=list(expected),
                                      state__in=PaymentLine.LIVE_STATES)
    per_source = Counter(live.values_list("source_id", flat=True))
    missing = sorted(set(expected) - set(per_source))
    twice = sorted(source for source, count in per_source.items() if count > 1)
    assert not missing and not twice, (
        f"{len(missing)} of {len(expected)} payables in no run (e.g. {missing[:5]}), "
        f"{len(twice)} paid twice (e.g. {twice[:5]})")
    assert not PayoutRun.objects.filter(state=PayoutRun.State.BUILDING).exists(), \
        "a run is left 作成中"
    run_ids = set(live.values_list("run_id", flat=True))
    assert len(run_ids) == 1, f"the payables are split over runs {sorted(run_ids)}"
    run = PayoutRun.objects.get(pk=run_ids.pop())
    # An officer's run is checked by its creator; the schedule's waits for its check.
    expected_state = (PayoutRun.State.CREATED if run.created_by_id
                      else PayoutRun.State.TO_CHECK)
    assert run.state == expected_state, (run.state, run.created_by_id)
    lines = dict(run.lines.values_list("source_id", "amount"))
    assert lines == expected, "the run's lines are not the payables, amount for amount"
    assert (run.line_count, run.total_amount) == (len(expected), sum(expected.values()))
    assert not Determination.objects.filter(pk__in=list(expected), payout_locked=False).exists()
    others = PayoutRun.objects.filter(program=program, pk__gt=since).exclude(pk=run.pk)
    assert not PaymentLine.objects.filter(run__in=others).exists()
    assert set(others.values_list("state", flat=True)) <= {PayoutRun.State.EMPTY}

    if run.state == PayoutRun.State.TO_CHECK:
        run = services.check_run(run=run, actor=make_admin(roles.PAYOUT_OFFICER))
    run = services.release_run(run=run, actor=releaser)
    records, count, total = read_transfer_file(services.transfer_file(run=run,
                                                                      actor=releaser))
    line_amounts = dict(run.lines.values_list("pk", "amount"))
    assert dict(records) == line_amounts and len(records) == len(line_amounts)
    assert (count, total) == (run.line_count, run.total_amount)
    return others.count()
