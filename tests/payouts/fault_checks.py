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


# ------------------------------------------------------------------ adjustment runs


def adjustments(program: Program, count: int = 12) -> dict[str, dict[int, int]]:
    """Facilities whose result was paid (a settled run's paid line), with approved
    adjustments (調整, docs/domain.md §5.4) made in bulk as the workflow leaves them: positive ones
    (to pay), negative ones nettable against a positive one of the same facility (partly,
    fully, or more than it: the rest claimed back) and negative ones of facilities with
    nothing to pay (claimed back). {"pay": {id: yen}, "owed": {id: yen}}."""
    from eligibility.models import Adjustment, AdjustmentState

    numbers = [next(_numbers) for _ in range(count)]
    facilities = Facility.objects.bulk_create(
        [Facility(kind="clinic", code=f"F{n:09d}", name=f"調整試験施設{n}", prefecture="13",
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
                       eligible=True, amount=100_000, reasons=[], details={},
                       determined_at=timezone.now(), payout_locked=True)
         for facility in facilities])
    paid_run = PayoutRun.objects.create(program=program, transfer_date=timezone.localdate(),
                                        state=PayoutRun.State.SETTLED, line_count=count,
                                        total_amount=100_000 * count)
    PaymentLine.objects.bulk_create(
        [PaymentLine(run=paid_run, facility=result.facility, program=program,
                     source_kind="determination", source_id=result.pk, gross_amount=100_000,
                     amount=100_000, state=PaymentLine.State.PAID, bank_code="0001",
                     bank_name="みずほ銀行", branch_code="001", branch_name="東京営業部",
                     account_type="1", account_number="1234567", holder_name="ｼｹﾝ")
         for result in results])
    now = timezone.now()
    made = []
    for i, result in enumerate(results):
        # i % 4: 0 pay only, 1 pay and owe less, 2 pay and owe as much, 3 owe only; the last
        # one owes more than it is paid.
        plus = 20_000 + i * 100 if i % 4 != 3 else 0
        minus = {0: 0, 1: 5_000 + i, 2: plus, 3: 7_000 + i}[i % 4]
        if i == len(results) - 1:
            plus, minus = 10_000, 15_000
        for difference in (plus, -minus):
            if difference:
                made.append(Adjustment(
                    facility=result.facility, program=program, determination=result,
                    parameter_version=version, paid_amount=100_000,
                    new_amount=100_000 + difference, difference=difference,
                    eligible=True, cause="障害試験の再判定", proposed_at=now, decided_at=now,
                    state=AdjustmentState.APPROVED))
    made = Adjustment.objects.bulk_create(made)
    return {"pay": {a.pk: a.difference for a in made if a.difference > 0},
            "owed": {a.pk: -a.difference for a in made if a.difference < 0}}


def check_adjustments_once(program: Program, expected: dict[str, dict[int, int]], *,
                           releaser, since: int) -> None:
    """Every positive adjustment stands in exactly one live line of one run, every negative
    one is settled exactly once (its live nettings and its recoveries add up to what it owes,
    one recovery at most), every line is its source's amount less what was netted against
    it; released twice, the run releases once; the bank's results pay each adjustment once."""
    from django_fsm_log.models import StateLog

    from eligibility.models import Adjustment, AdjustmentState
    from payouts.models import Netting, Recovery
    from portal.errors import ServiceError

    pay, owed = expected["pay"], expected["owed"]
    live = PaymentLine.objects.filter(source_kind="adjustment", source_id__in=list(pay),
                                      state__in=PaymentLine.LIVE_STATES)
    per_source = Counter(live.values_list("source_id", flat=True))
    assert set(per_source) == set(pay) and set(per_source.values()) == {1}, per_source
    assert not PayoutRun.objects.filter(state=PayoutRun.State.BUILDING).exists()
    run_ids = set(live.values_list("run_id", flat=True))
    assert len(run_ids) == 1, f"the adjustments are split over runs {sorted(run_ids)}"
    run = PayoutRun.objects.get(pk=run_ids.pop())
    others = PayoutRun.objects.filter(program=program, pk__gt=since).exclude(pk=run.pk)
    assert not PaymentLine.objects.filter(run__in=others).exists()
    assert not Netting.objects.filter(run__in=others).exists()
    assert not Recovery.objects.filter(run__in=others).exists()
    for source_id, gross, deducted, amount, state in live.values_list(
            "source_id", "gross_amount", "deducted", "amount", "state"):
        assert gross == pay[source_id] and amount == gross - deducted
        assert (state == PaymentLine.State.NETTED) == (amount == 0)
    nettings = Counter()
    for adjustment_id, amount in Netting.objects.filter(
            adjustment_id__in=list(owed), undone_at__isnull=True).values_list(
            "adjustment_id", "amount"):
        nettings[adjustment_id] += amount
    recoveries = Counter(Recovery.objects.filter(adjustment_id__in=list(owed)).values_list(
        "adjustment_id", flat=True))
    assert set(recoveries.values()) <= {1}, "an adjustment claimed back twice"
    recovered = dict(Recovery.objects.filter(adjustment_id__in=list(owed)).values_list(
        "adjustment_id", "amount"))
    for pk, amount in owed.items():
        assert nettings[pk] + recovered.get(pk, 0) == amount, (pk, nettings[pk], recovered)
        deducted_lines = sum(Netting.objects.filter(adjustment_id=pk, undone_at__isnull=True)
                             .values_list("amount", flat=True))
        assert deducted_lines == nettings[pk]
    states = dict(Adjustment.objects.filter(pk__in=list(owed)).values_list("pk", "state"))
    assert all(states[pk] == (AdjustmentState.RECOVERY if pk in recovered
                              else AdjustmentState.NETTED) for pk in owed), states
    transferred = run.lines.filter(state=PaymentLine.State.SCHEDULED)
    assert (run.line_count, run.total_amount) == (
        transferred.count(), sum(transferred.values_list("amount", flat=True)))

    if run.state == PayoutRun.State.TO_CHECK:
        run = services.check_run(run=run, actor=make_admin(roles.PAYOUT_OFFICER))
    run = services.release_run(run=run, actor=releaser)
    try:
        services.release_run(run=run, actor=releaser)
    except ServiceError:
        pass
    else:
        raise AssertionError("a released run was released again")
    released = list(run.lines.filter(state=PaymentLine.State.RELEASED).values_list("pk",
                                                                                    flat=True))
    logs = Counter(StateLog.objects.filter(transition="release",
                                           object_id__in=released).values_list("object_id",
                                                                               flat=True))
    assert set(logs) == set(released) and set(logs.values()) <= {1}
    records, count, total = read_transfer_file(services.transfer_file(run=run,
                                                                      actor=releaser))
    assert (count, total) == (run.line_count, run.total_amount)
    # The bank pays every line; importing the same results twice pays nobody twice.
    from tests.payouts.helpers import import_on_the_day, results_csv

    data = results_csv([(pk, "0") for pk, _ in records])
    import_on_the_day(run=run, data=data, actor=releaser)
    import_on_the_day(run=run, data=data, actor=releaser)
    paid_logs = Counter(StateLog.objects.filter(
        transition="mark_paid", content_type__model="adjustment",
        object_id__in=list(pay)).values_list("object_id", flat=True))
    assert set(paid_logs) == set(pay) and set(paid_logs.values()) == {1}
    assert set(Adjustment.objects.filter(pk__in=list(pay)).values_list(
        "state", flat=True)) == {AdjustmentState.PAID}
