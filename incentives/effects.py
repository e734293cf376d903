"""The effect of a change on a facility's money, told before the change is made
(docs/decisions.md D5.4.5): the change is run inside a savepoint, the facility's results
are computed under the parameters in force before and after it (eligibility.engine), and the
savepoint is rolled back — nothing is written, no e-mail leaves (they are sent on commit).

A result already put into a payout run (`payout_locked`) is frozen: a difference then becomes
an adjustment (調整) or a recovery (返還), reviewed and approved like a claim (docs/domain.md §5.4);
the effect says so."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from eligibility.engine import parameters_in_force, result_under
from eligibility.models import Determination
from facilities.models import Facility

from .selectors import programs_for

MINUS = "−"  # U+2212, as the notices write a negative amount


def signed_yen(amount: int) -> str:
    return f"+{amount:,}円" if amount >= 0 else f"{MINUS}{-amount:,}円"


@dataclass(frozen=True)
class ProgramEffect:
    """One program's amount for the facility before and after the change, in yen (0: not
    eligible). `before`/`after` None: no parameters in force, nothing can be computed."""

    program: str
    code: str
    before: int | None
    after: int | None
    paid: bool  # the result is in a payout run (paid or being paid): frozen
    paid_amount: int | None = None

    @property
    def difference(self) -> int:
        return (self.after or 0) - (self.before or 0)

    @property
    def changes(self) -> bool:
        return self.difference != 0

    @property
    def sentences(self) -> list[str]:
        name = self.program
        if self.before is None or self.after is None:
            return [f"{name}は、適用中の支給基準がないため金額を計算できません。"]
        if not self.changes:
            return [f"この変更で{name}の金額は変わりません（{self.after:,}円）。"]
        if self.after == 0:
            text = f"この変更で{name}は支給対象外になります（{signed_yen(self.difference)}）。"
        elif self.before == 0:
            text = (f"この変更で{name}は支給対象になります（{self.after:,}円、"
                    f"{signed_yen(self.difference)}）。")
        else:
            text = (f"この変更で{name}は {self.before:,}円 から {self.after:,}円 になります"
                    f"（{signed_yen(self.difference)}）。")
        sentences = [text]
        if self.paid:
            follow = ("承認後に差額をお支払いします。" if self.difference > 0 else
                      "承認後、次回のお支払いとの相殺又は返還のご請求となります。")
            sentences.append(f"支払済みのため、差額は調整として審査されます（{follow}）")
        return sentences

    def key(self) -> list:
        return [self.code, self.before, self.after, self.paid]


def _amount(result) -> int | None:
    if result is None:
        return None
    return result.amount if result.eligible else 0


def effects_of_change(*, facility: Facility, change: Callable[[], Any]) -> list[ProgramEffect]:
    """Each of the facility's money programs (協力金 / 一時金) before and after `change`,
    which is run and rolled back. An error of the change (ServiceError) goes to the caller
    unchanged: the change is refused before anything is shown."""
    programs = list(programs_for(facility))
    versions = {program.pk: parameters_in_force(program) for program in programs}
    before = {pk: _amount(result_under(version, facility.pk)) for pk, version in versions.items()}
    frozen = dict(Determination.objects.filter(
        facility=facility, program__in=programs, payout_locked=True,
    ).values_list("program_id", "amount"))
    after: dict[int, int | None] = {}

    class RolledBack(Exception):
        pass

    try:
        with transaction.atomic():
            change()
            after = {pk: _amount(result_under(version, facility.pk))
                     for pk, version in versions.items()}
            raise RolledBack
    except RolledBack:
        pass
    effects = []
    for program in programs:
        paid = program.pk in frozen
        # A paid result stays as paid: the difference is measured from what was paid.
        was = frozen[program.pk] if paid and before[program.pk] is not None else before[program.pk]
        effects.append(ProgramEffect(program=program.name, code=program.code, before=was,
                                     after=after[program.pk], paid=paid,
                                     paid_amount=frozen.get(program.pk)))
    return effects


def shown_key(effects: list[ProgramEffect], facts: Any = None) -> Any:
    """What a confirmation page showed, as it travels signed (JSON): the effects and the
    facts the page named (the current values). Compared again on the confirm step."""
    return json.loads(json.dumps({"effects": [effect.key() for effect in effects],
                                  "facts": facts}, default=str))


@dataclass(frozen=True)
class Applied:
    applied: bool
    effects: list[ProgramEffect]
    shown: Any
    result: Any = None


def apply_if_unchanged(*, facility: Facility, change: Callable[[], Any], expected: Any,
                       facts: Callable[[], Any] = lambda: None) -> Applied:
    """The confirm step: under the facility's row lock (the services that change its facts
    take the same lock, so nobody changes them in between), compute the effect again; apply
    the change only if it is what the person was shown, else return the new effect to be
    shown and asked again."""
    with transaction.atomic():
        Facility.objects.select_for_update().filter(pk=facility.pk).first()
        effects = effects_of_change(facility=facility, change=change)
        shown = shown_key(effects, facts())
        if shown != expected:
            return Applied(applied=False, effects=effects, shown=shown)
        return Applied(applied=True, effects=effects, shown=shown, result=change())


class Estimator:
    """The estimator the go-live page reaches through facilities.money_effects."""

    effects_of_change = staticmethod(effects_of_change)
    apply_if_unchanged = staticmethod(apply_if_unchanged)
    shown_key = staticmethod(shown_key)
