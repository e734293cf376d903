"""The eligibility batch over the database: facts gathered set-based, results upserted,
payout-locked results kept, parameter versions previewed and applied."""

import io
from datetime import date

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from eligibility import services
from eligibility.models import (
    ActivityReport,
    Attestation,
    Determination,
    MonthlyStatistic,
    ParameterVersion,
    Program,
)
from facilities.models import GoLive
from portal.imports import import_kind, run_import
from tests.factories import AdminFactory, FacilityFactory, previewed

pytestmark = pytest.mark.django_db


def lump_sum():
    return Program.objects.get(code="lump-sum-2024")


def cooperation():
    return Program.objects.get(code="cooperation-2025")


def clinic(oct_receipts=1000, oct_users=40, best=(("2024-05", 120), ("2024-08", 200)),
           attested=True, kind="clinic"):
    facility = FacilityFactory(kind=kind)
    imported = timezone.now()  # the official figures (docs/domain.md §8)
    MonthlyStatistic.objects.create(facility=facility, month=date(2023, 10, 1),
                                    receipts=oct_receipts, card_users=oct_users,
                                    imported_at=imported)
    MonthlyStatistic.objects.create(facility=facility, month=date(2024, 3, 1),
                                    receipts=oct_receipts, card_users=900,  # outside the months
                                    imported_at=imported)
    for month, users in best:
        year, number = month.split("-")
        MonthlyStatistic.objects.create(facility=facility, month=date(int(year), int(number), 1),
                                        receipts=oct_receipts, card_users=users,
                                        imported_at=imported)
    if attested:
        Attestation.objects.create(facility=facility, program=lump_sum(), poster=True,
                                   informed=True)
    return facility


def sejutsu(golive=date(2025, 6, 10), report=True, main=None, kind="ama_acupuncture"):
    facility = FacilityFactory(kind=kind, main_facility=main)
    if golive:
        GoLive.objects.create(facility=facility, date=golive)
    if report:
        ActivityReport.objects.create(facility=facility, program=cooperation(), voice=True,
                                      flyer=True, activity_from=date(2025, 6, 10),
                                      activity_to=date(2025, 7, 31))
    return facility


def test_seed_example_through_the_database():
    facility = clinic()
    run = services.run_eligibility(program=lump_sum())
    result = Determination.objects.get(facility=facility)
    assert (result.eligible, result.amount) == (True, 200000)
    assert "増加人数 +160人 (基準: 4.0%, 表: 診療所・薬局) → 200,000円 ✓" in result.reasons
    assert result.details["table"] == "clinic"
    assert (run.facilities, run.eligible, run.total_amount) == (1, 1, 200000)


def test_facility_without_statistics_or_attestation_is_determined_ineligible():
    facility = FacilityFactory(kind="pharmacy")
    services.run_eligibility(program=lump_sum())
    result = Determination.objects.get(facility=facility)
    assert (result.eligible, result.amount) == (False, 0)


def test_queries_do_not_grow_with_the_number_of_facilities():
    clinic()
    with CaptureQueriesContext(connection) as few:
        services.run_eligibility(program=lump_sum())
    for _ in range(30):
        clinic()
    with CaptureQueriesContext(connection) as many:
        services.run_eligibility(program=lump_sum())
    assert len(many) == len(few)


def test_rerun_is_idempotent_and_replaces_undecided_results():
    facility = clinic()
    services.run_eligibility(program=lump_sum())
    Attestation.objects.filter(facility=facility).update(poster=False)
    services.run_eligibility(program=lump_sum())
    assert Determination.objects.count() == 1
    assert Determination.objects.get().amount == 0


def test_a_result_put_into_a_payout_is_never_replaced():
    facility = clinic()
    services.run_eligibility(program=lump_sum())
    Determination.objects.filter(facility=facility).update(payout_locked=True)
    Attestation.objects.filter(facility=facility).update(poster=False)
    run = services.run_eligibility(program=lump_sum())
    result = Determination.objects.get(facility=facility)
    assert (result.eligible, result.amount) == (True, 200000)
    # Its new amount is an adjustment of its own (tests/eligibility/test_adjustments.py).
    assert (run.skipped_locked, run.adjustments_proposed) == (0, 1)
    assert services.run_eligibility(program=lump_sum()).skipped_locked == 1


def test_cooperation_annex_cases_from_the_database():
    main = sejutsu()
    paid_sub = sejutsu(main=main)
    lone_main = sejutsu()
    unpaid_sub = sejutsu(main=FacilityFactory(kind="ama", main_facility=None))  # main not live
    no_golive = sejutsu(golive=None)
    services.run_eligibility(program=cooperation())
    amounts = dict(Determination.objects.values_list("facility_id", "amount"))
    assert amounts[main.pk] == amounts[paid_sub.pk] == amounts[lone_main.pk] == 50000
    assert amounts[unpaid_sub.pk] == 0
    assert amounts[no_golive.pk] == 0
    reasons = Determination.objects.get(facility=unpaid_sub).reasons
    assert "併設の主たる施術所の導入 未確認 ✗" in reasons


def test_preview_shows_who_changes_and_apply_makes_it_so(django_capture_on_commit_callbacks):
    in_august = clinic(best=(("2024-05", 41), ("2024-08", 200)))
    in_may = clinic(best=(("2024-05", 200),))
    services.run_eligibility(program=lump_sum())
    active = ParameterVersion.objects.get(program=lump_sum(), status="active")
    draft = services.create_draft_version(
        program=lump_sum(),
        params={**active.params, "evaluation_months": ["2024-05", "2024-06", "2024-07"]},
        effective_from=date(2024, 5, 1), notice="延長前（比較用）",
    )

    preview = services.preview_version(draft)

    assert [c.facility_id for c in preview.changes] == [in_august.pk]
    change = preview.changes[0]
    assert (change.old_amount, change.new_amount, change.difference) == (200000, 0, -200000)
    assert preview.total_difference == -200000 and preview.no_longer_eligible == 1
    assert Determination.objects.get(facility=in_august).amount == 200000  # nothing written

    kept = previewed(draft)  # the same numbers, kept for the apply step
    assert (kept.changed, kept.total_difference) == (1, -200000)
    with django_capture_on_commit_callbacks(execute=True):  # the queued batch runs
        services.apply_version(version=draft, actor=AdminFactory(), preview=kept)
    assert Determination.objects.get(facility=in_august).amount == 0
    assert Determination.objects.get(facility=in_may).amount == 200000
    statuses = dict(ParameterVersion.objects.filter(program=lump_sum())
                    .values_list("version", "status"))
    assert statuses == {1: "superseded", 2: "active"}
    with pytest.raises(services.ParameterError, match="下書きの版だけ"):
        services.apply_version(version=draft, actor=AdminFactory(), preview=kept)


def test_malformed_parameters_cannot_be_saved_as_a_version():
    with pytest.raises(services.ParameterError):
        services.create_draft_version(program=lump_sum(), params={"tables": {}},
                                      effective_from=date(2024, 5, 1), notice="x")


def test_run_eligibility_command():
    clinic()
    out = io.StringIO()
    call_command("run_eligibility", "--program", "lump-sum-2024", stdout=out)
    assert "lump-sum-2024: 1施設を判定、支給対象 1施設、合計 200,000円" in out.getvalue()
    with pytest.raises(CommandError, match="ありません"):
        call_command("run_eligibility", "--program", "nope")


def test_simulate_command_reads_lines_and_keeps_going(monkeypatch):
    lines = (
        '{"kind": "clinic", "oct_receipts": 1000, "oct_users": 40, "best_users": 200,'
        ' "poster": true, "informed": true}\n'
        "garbage\n"
        '{"kind": "hospital", "oct_receipts": 1000, "oct_users": 0, "best_users": 9,'
        ' "poster": true, "informed": true}\n'
    )
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    out = io.StringIO()
    call_command("simulate", "lump-sum-2024", stdout=out)
    rows = out.getvalue().strip().splitlines()
    assert len(rows) == 3
    assert '"amount": 200000' in rows[0] and '"error"' in rows[1] and '"amount": 0' in rows[2]


MONTHLY_HEADER = "facility_code,year_month,receipts,card_users,usage_count\n"


def _import_statistics(tmp_path, text: str, *, dry_run: bool):
    path = tmp_path / "statistics.csv"
    path.write_text(text, encoding="utf-8")
    return run_import(path, import_kind("monthly_statistics"), dry_run=dry_run)


def test_statistics_import_dry_run_reports_errors_by_line(tmp_path):
    facility = FacilityFactory(kind="clinic")
    csv = MONTHLY_HEADER + (
        f"{facility.code},2023-10,1000,40,55\n"
        "0110113719,2023-10,10,1,1\n"  # a valid code that is not in the master
        f"{facility.code},2023-13,10,1,1\n"
        f"{facility.code},2024-05,-3,1,1\n"
    )
    result = _import_statistics(tmp_path, csv, dry_run=True)
    # The file's line numbers: the header is line 1, as a spreadsheet shows it.
    assert {error["line"] for error in result.errors} == {3, 4, 5}
    assert not MonthlyStatistic.objects.exists()


def test_statistics_import_writes_and_updates(tmp_path):
    facility = FacilityFactory(kind="clinic")
    csv = MONTHLY_HEADER + f"{facility.code},２０２３-10,1000,40,55\n"
    _import_statistics(tmp_path, csv, dry_run=False)
    _import_statistics(tmp_path, csv.replace("1000,40", "1000,45"), dry_run=False)
    row = MonthlyStatistic.objects.get()
    assert (row.month, row.card_users, row.usage_count) == (date(2023, 10, 1), 45, 55)


def test_a_result_that_did_not_change_keeps_when_it_was_determined():
    """The nightly run rewrites only changed results: `determined_at` says when a result
    became what it is (the to-do list's news would otherwise repeat every night)."""
    facility = clinic()
    services.run_eligibility(program=lump_sum())
    first = Determination.objects.get(facility=facility)
    services.run_eligibility(program=lump_sum())
    assert Determination.objects.get(facility=facility).determined_at == first.determined_at
    MonthlyStatistic.objects.filter(facility=facility, month__gte=date(2024, 5, 1)).update(
        card_users=100)
    services.run_eligibility(program=lump_sum())
    changed = Determination.objects.get(facility=facility)
    assert changed.determined_at > first.determined_at
    assert changed.amount != first.amount
