"""Payout steps made at the same moment (threads, each with its own PostgreSQL connection):
every payable paid once whatever arrives together. Real worker processes killed mid-run are
in test_faults.py."""

from collections import Counter

import pytest
from django.db.models import Count, Sum

from eligibility.models import Determination
from payouts import services
from payouts.models import PaymentLine, PayoutRun
from tests.concurrency import run_in_parallel
from tests.payouts.helpers import (
    import_on_the_day,
    lump_sum,
    officers,
    on_the_day,
    payables,
    results_csv,
    set_consignor,
    transfer_day,
    write_file,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _programs(postgres, migration_data):
    """On PostgreSQL, with the programs the data migrations make."""


def _assert_paid_once(expected: int) -> None:
    live = PaymentLine.objects.filter(state__in=PaymentLine.LIVE_STATES)
    per_source = Counter(live.values_list("source_kind", "source_id"))
    assert len(per_source) == expected and set(per_source.values()) == {1}
    for run in PayoutRun.objects.exclude(state=PayoutRun.State.EMPTY):
        totals = run.lines.aggregate(count=Count("pk"), total=Sum("amount"))
        assert (run.line_count, run.total_amount) == (totals["count"], totals["total"])


def test_two_creations_of_the_same_program_at_once_build_one_run(postgres, monkeypatch):
    monkeypatch.setattr(services, "FILL_CHUNK", 3)  # many chunks, interleaved
    creator, other = officers()
    payables(20)
    day = transfer_day()
    outcomes = run_in_parallel([
        lambda: services.create_run(program=lump_sum(), transfer_date=day, actor=creator),
        lambda: services.create_run(program=lump_sum(), transfer_date=day, actor=other),
        lambda: services.create_run(program=lump_sum(), transfer_date=day, actor=creator),
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert {o.pk for o in outcomes} == {PayoutRun.objects.get().pk}
    _assert_paid_once(20)
    assert Determination.objects.filter(payout_locked=True).count() == 20


def test_a_release_and_a_cancel_at_once_do_one_of_them(postgres):
    creator, releaser = officers()
    payables(3)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    outcomes = run_in_parallel([
        lambda: services.release_run(run=run, actor=releaser),
        lambda: services.cancel_run(run=run, actor=releaser),
    ])
    assert sum(not isinstance(o, Exception) for o in outcomes) == 1
    run.refresh_from_db()
    states = set(run.lines.values_list("state", flat=True))
    assert (run.state, states) in [("released", {"released"}), ("cancelled", {"cancelled"})]


def test_two_checks_of_a_scheduled_run_at_once_make_one(postgres):
    """Two officers press 確認する at the same moment: one checks the run, the other is
    told it is checked already; the one who checked may not release it."""
    from payouts.tasks import create_scheduled_runs
    from portal.errors import IllegalTransition, NotPermitted

    first, second = officers()
    payables(3)
    create_scheduled_runs()
    run = PayoutRun.objects.get()
    outcomes = run_in_parallel([
        lambda: services.check_run(run=run, actor=first),
        lambda: services.check_run(run=run, actor=second),
    ])
    [checked] = [o for o in outcomes if not isinstance(o, Exception)]
    [refused] = [o for o in outcomes if isinstance(o, Exception)]
    assert isinstance(refused, IllegalTransition), refused
    run.refresh_from_db()
    assert (run.state, run.checked_by) == (PayoutRun.State.CREATED, checked.checked_by)
    with pytest.raises(NotPermitted, match="二者確認"):
        services.release_run(run=run, actor=checked.checked_by)
    other = second if checked.checked_by == first else first
    assert services.release_run(run=run, actor=other).state == PayoutRun.State.RELEASED


def test_a_check_and_a_cancel_at_once_happen_one_after_the_other(postgres):
    from payouts.tasks import create_scheduled_runs
    from portal.errors import IllegalTransition

    checker, canceller = officers()
    payables(2)
    create_scheduled_runs()
    run = PayoutRun.objects.get()
    outcomes = run_in_parallel([
        lambda: services.check_run(run=run, actor=checker),
        lambda: services.cancel_run(run=run, actor=canceller),
    ])
    # Under the run's lock they happen one after the other: a check then a cancel both happen
    # (a checked run may still be cancelled), a cancel then a check is the check refused.
    done = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert done and all(isinstance(o, IllegalTransition) for o in refused), outcomes
    run.refresh_from_db()
    states = set(run.lines.values_list("state", flat=True))
    assert (run.state, states) in [("created", {"scheduled"}), ("cancelled", {"cancelled"})]
    if len(done) == 2:
        assert (run.state, run.checked_by) == ("cancelled", checker)
    elif run.state == "cancelled":
        assert run.checked_by is None


def test_the_same_results_imported_twice_at_once_pay_once(postgres):
    set_consignor()
    creator, releaser = officers()
    payables(4)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    run = services.release_run(run=run, actor=releaser)
    write_file(run, releaser)
    data = results_csv([(pk, 0) for pk in run.lines.values_list("pk", flat=True)])
    with on_the_day(run.transfer_date):
        outcomes = run_in_parallel([
            lambda: services.import_results(run=run, data=data, actor=releaser),
            lambda: services.import_results(run=run, data=data, actor=releaser),
        ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(o.paid for o in outcomes) == [0, 4]
    assert PayoutRun.objects.get(pk=run.pk).state == PayoutRun.State.SETTLED


def test_an_account_corrected_while_a_run_is_built_pays_the_failed_amount_once(postgres):
    """A facility corrects its account (its failed line becomes payable again) while a run
    is being built: the amount is in that run or the next, never both."""
    from tests.payouts.helpers import with_account

    creator, releaser = officers()
    payables(6)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    run = services.release_run(run=run, actor=releaser)
    lines = list(run.lines.order_by("pk"))
    import_on_the_day(run=run, data=results_csv([(line.pk, 1) for line in lines]),
                      actor=releaser)
    outcomes = run_in_parallel(
        [lambda line=line: with_account(line.facility, number="2222222") for line in lines]
        + [lambda: services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                       actor=creator)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    _assert_paid_once(6)
    assert PaymentLine.objects.filter(state=PaymentLine.State.REISSUED).count() == 6
