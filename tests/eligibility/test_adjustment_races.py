"""Two re-determinations reaching the same paid result at once (the nightly batch's parts and
a facility's own re-determination, each on its own PostgreSQL connection): one adjustment is
proposed, never two, and neither run fails."""

import pytest

from eligibility import services
from eligibility.models import Adjustment
from tests.concurrency import run_in_parallel
from tests.eligibility.test_adjustments import best_month, paid
from tests.eligibility.test_batch import clinic, lump_sum

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _programs(postgres, migration_data):
    """On PostgreSQL, with the programs the data migrations make."""


def test_runs_at_once_propose_one_adjustment():
    facilities = [clinic() for _ in range(4)]
    services.run_eligibility(program=lump_sum())
    for facility in facilities:
        paid(facility)
        best_month(facility, 100)
    ids = [facility.pk for facility in facilities]
    outcomes = run_in_parallel([
        lambda: services.run_eligibility(program=lump_sum()),
        lambda: services.run_eligibility(program=lump_sum(), facility_ids=ids),
        lambda: services.run_eligibility(program=lump_sum(), facility_ids=ids[:2]),
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sum(run.adjustments_proposed for run in outcomes) == 4
    assert Adjustment.objects.count() == 4
    assert sorted(Adjustment.objects.values_list("facility_id", "difference")) == [
        (pk, -130000) for pk in sorted(ids)]
