"""The effect of a statistics import on the money programs, before it is confirmed (issue
22): per program, how many facilities' results go up or down and by how many yen, results
already in a payout run counted apart (their difference becomes an adjustment, docs/domain.md §5.4).

Used inside `portal.imports.preview_effects`: each chunk's facilities are computed under the
parameters in force before the chunk is written (`see`), all of them once more after the
whole file is written (`summary`), in bulk (`results_for(version, ids)`), then everything is
rolled back."""

from collections.abc import Iterable

from .engine import RULES, parameters_in_force, results_for
from .models import Determination, Program

IDS_AT_ONCE = 500


def _chunks(ids: list[int]) -> Iterable[list[int]]:
    for start in range(0, len(ids), IDS_AT_ONCE):
        yield ids[start:start + IDS_AT_ONCE]


def _amount(result) -> int:
    return result.amount if result.eligible else 0


class ResultChanges:
    def __init__(self):
        self.versions = []
        for program in Program.objects.filter(rule__in=list(RULES)).order_by("code"):
            version = parameters_in_force(program)
            if version is not None:
                self.versions.append((program, version))
        self.before: dict[int, dict[int, int]] = {p.pk: {} for p, _ in self.versions}
        self.paid: dict[int, dict[int, int]] = {p.pk: {} for p, _ in self.versions}
        self.seen: set[int] = set()

    def see(self, facility_ids: Iterable[int]) -> None:
        """Facilities about to be written: their results as they are (once each)."""
        new = sorted(set(facility_ids) - self.seen)
        self.seen.update(new)
        for ids in _chunks(new):
            for program, version in self.versions:
                self.before[program.pk].update(
                    (facility_id, _amount(result))
                    for facility_id, result in results_for(version, ids))
            for program_id, facility_id, amount in Determination.objects.filter(
                    facility_id__in=ids, payout_locked=True,
                    program_id__in=list(self.paid)).values_list(
                    "program_id", "facility_id", "amount"):
                self.paid[program_id][facility_id] = amount

    def summary(self) -> list[dict]:
        """Per program: up / down (count, yen) of the results not yet paid, and apart the
        paid ones (measured from the amount paid)."""
        found = []
        for program, version in self.versions:
            totals = dict.fromkeys(("up", "up_yen", "down", "down_yen", "paid_up",
                                    "paid_up_yen", "paid_down", "paid_down_yen"), 0)
            before, paid = self.before[program.pk], self.paid[program.pk]
            for ids in _chunks(sorted(self.seen)):
                for facility_id, result in results_for(version, ids):
                    was = paid.get(facility_id, before.get(facility_id, 0))
                    difference = _amount(result) - was
                    if difference == 0:
                        continue
                    prefix = "paid_" if facility_id in paid else ""
                    way = "up" if difference > 0 else "down"
                    totals[prefix + way] += 1
                    totals[prefix + way + "_yen"] += abs(difference)
            found.append({"program": program.name, "code": program.code, **totals})
        return found
