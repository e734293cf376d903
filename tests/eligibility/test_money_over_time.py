"""Money over time, end to end on a generated dataset (docs/domain.md §5.4): a program is paid; a
ladder value is changed by `parameters draft` and `parameters apply` (two officers); the
re-determination proposes an adjustment for exactly the paid facilities whose amount changed,
with the exact difference; once reviewed and approved (`adjustments review` / `approve`, two
more people) the next run pays exactly the positive ones as lines of their own and claims the
negative ones back (返還請求, with a notice PDF); a second re-determination proposes nothing.

The expected amounts are computed apart from the batch: each paid facility's result under the
new version, one facility at a time (`engine.result_under`)."""

import json
from datetime import timedelta
from io import BytesIO, StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone
from pypdf import PdfReader

from eligibility import engine, services
from eligibility.dataset import generate_dataset
from eligibility.models import Adjustment, AdjustmentState, Determination, ParameterVersion
from payouts import netting
from payouts import services as payouts
from payouts.models import PaymentLine, PayoutRun, Recovery
from portal import roles
from tests.factories import PASSWORD, make_admin
from tests.payouts.helpers import (
    import_on_the_day,
    lump_sum,
    officers,
    results_csv,
    set_consignor,
    totp_code,
    transfer_day,
)

pytestmark = pytest.mark.django_db

# The 診療所・薬局 table's ladder with one step raised and one lowered: facilities in the
# 50,000円 cell get 10,000円 more, those in the 170,000円 cell 10,000円 less.
RAISED, LOWERED = (4, 60_000), (8, 160_000)


@pytest.fixture(autouse=True)
def _code_of_the_last_30_seconds_too(settings):
    settings.MFA_TOTP_TOLERANCE = 1


def command(name: str, *args, by=None) -> list[str]:
    """A management command as an officer runs it (`--by`, password and code typed)."""
    args = [str(a) for a in args]
    typing = StringIO("")
    if by is not None:
        args += ["--by", by.email]
        typing = StringIO(f"{PASSWORD}\n{totp_code(by)}\n")
    out = StringIO()
    call_command(name, *args, stdout=out, stdin=typing)
    return out.getvalue().splitlines()


def pay_everything(program, creator, releaser) -> PayoutRun:
    run = payouts.create_run(program=program, transfer_date=transfer_day(), actor=creator)
    run = payouts.release_run(run=run, actor=releaser)
    import_on_the_day(run=run, data=results_csv(
        [(pk, "0") for pk in run.lines.values_list("pk", flat=True)]), actor=creator)
    return run


def test_a_changed_ladder_is_adjusted_exactly_once_paid_and_claimed_back(tmp_path):
    generate_dataset(facilities=400, seed=22)
    program = lump_sum()
    set_consignor()
    services.run_eligibility(program=program)
    creator, releaser = officers()
    first = pay_everything(program, creator, releaser)
    paid = dict(Determination.objects.filter(program=program, payout_locked=True)
                .values_list("facility_id", "amount"))
    assert paid and first.line_count == len(paid)
    assert set(first.lines.values_list("state", flat=True)) == {PaymentLine.State.PAID}

    # A ladder value changed through the command line by two officers.
    params = json.loads(command("parameters", "show", "--program", program.code)[-1])
    ladder = params["tables"]["clinic"]["ladder"]
    for index, value in (RAISED, LOWERED):
        ladder[index] = value
    path = tmp_path / "params.json"
    path.write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
    drafter, applier = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    number = _draft(program, path, drafter)
    with pytest.raises(CommandError):  # the drafter may not apply it
        command("parameters", "apply", "--program", program.code, "--version", number,
                by=drafter)
    assert ParameterVersion.objects.get(program=program, version=number).status == "draft"
    command("parameters", "apply", "--program", program.code, "--version", number,
            by=applier)
    version = ParameterVersion.objects.get(program=program, version=number)
    assert engine.parameters_in_force(program) == version

    # What each paid facility is owed now, computed one facility at a time.
    expected = {}
    for facility_id, amount in paid.items():
        now = engine.result_under(version, facility_id).amount
        if now != amount:
            expected[facility_id] = now - amount
    assert any(d > 0 for d in expected.values()) and any(d < 0 for d in expected.values())

    run = services.run_eligibility(program=program)
    proposed = dict(Adjustment.objects.filter(program=program).values_list(
        "facility_id", "difference"))
    assert proposed == expected
    assert run.adjustments_proposed == len(expected)
    # The paid results stay as paid; the adjustments keep the words they were decided with.
    assert dict(Determination.objects.filter(program=program, payout_locked=True)
                .values_list("facility_id", "amount")) == paid
    assert all(a.reasons and a.parameter_version_id == version.pk
               for a in Adjustment.objects.filter(program=program))

    # Two more people: a reviewer, then an approver.
    reviewer, approver = make_admin(roles.REVIEWER), make_admin(roles.APPROVER)
    command("adjustments", "review", "--program", program.code, by=reviewer)
    command("adjustments", "approve", "--program", program.code, by=approver)
    assert set(Adjustment.objects.values_list("state", flat=True)) == {AdjustmentState.APPROVED}
    listed = [json.loads(line) for line in command("adjustments", "list", "--program",
                                                    program.code)]
    assert sorted((row["difference"], row["direction"]) for row in listed) == sorted(
        (d, "pay" if d > 0 else "recover") for d in expected.values())

    # The next run pays exactly the positive ones; the negative ones are claimed back.
    second = payouts.create_run(program=program, transfer_date=transfer_day(
        timezone.localdate() + timedelta(days=3)), actor=creator)
    lines = {line.facility_id: line for line in second.lines.all()}
    positive = {f: d for f, d in expected.items() if d > 0}
    negative = {f: -d for f, d in expected.items() if d < 0}
    assert {f: line.amount for f, line in lines.items()} == positive
    assert {line.source_kind for line in lines.values()} == {"adjustment"}
    assert (second.line_count, second.total_amount) == (len(positive), sum(positive.values()))
    recoveries = {r.facility_id: r for r in Recovery.objects.filter(program=program)}
    assert {f: r.amount for f, r in recoveries.items()} == negative
    facility_id, recovery = next(iter(recoveries.items()))
    assert (recovery.amount_before, recovery.amount_after) == (
        paid[facility_id], paid[facility_id] - negative[facility_id])
    text = "".join(page.extract_text() for page in PdfReader(
        BytesIO(netting.notice_pdf(recovery))).pages)
    assert f"{recovery.amount:,}" in text and recovery.notice_number in text

    # A second re-determination with the same facts proposes nothing new.
    before = Adjustment.objects.count()
    again = services.run_eligibility(program=program)
    assert (again.adjustments_proposed, Adjustment.objects.count()) == (0, before)
    assert not Adjustment.objects.filter(state=AdjustmentState.PROPOSED).exists()


def _draft(program, path, drafter) -> int:
    lines = command("parameters", "draft", "--program", program.code, "--file", path,
                    "--effective-from", timezone.localdate().isoformat(),
                    "--notice", "一時金の段階の見直し（試験）", "--by", drafter.email)
    return int(lines[-1])
