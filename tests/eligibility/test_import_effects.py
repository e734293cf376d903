"""The statistics import tells the administrator, before it is confirmed, what it would do
to the money: per program, how many facilities go up or down and by how many yen, paid
results counted apart (docs/decisions.md D5.4.5). Nothing is written by telling."""

from datetime import date

import pytest
from django.utils import timezone

from eligibility.engine import parameters_in_force
from eligibility.models import Determination, MonthlyStatistic, PendingDetermination, Program
from portal import imports
from portal.models import ImportJob
from tests.factories import FacilityFactory
from tests.portal.test_imports import STATS_HEADER, STATS_URLS, upload

pytestmark = pytest.mark.django_db

LUMP_SUM = "lump-sum-2024"


def _clinic(best_users: int):
    """A clinic at 4% in October 2023 (1,000 receipts, 40 users) that attested."""
    facility = FacilityFactory(kind="clinic")
    MonthlyStatistic.objects.create(facility=facility, month=date(2023, 10, 1), receipts=1000,
                                    card_users=40, usage_count=40,
                                    imported_at=timezone.now())
    MonthlyStatistic.objects.create(facility=facility, month=date(2024, 6, 1), receipts=1000,
                                    card_users=best_users, usage_count=best_users,
                                    imported_at=timezone.now())
    from eligibility.models import Attestation

    Attestation.objects.create(facility=facility, program=Program.objects.get(code=LUMP_SUM),
                               poster=True, informed=True)
    return facility


def _pay(facility, amount: int):
    program = Program.objects.get(code=LUMP_SUM)
    Determination.objects.create(facility=facility, program=program,
                                 parameter_version=parameters_in_force(program), eligible=True,
                                 amount=amount, determined_at=timezone.now(), payout_locked=True)


@pytest.fixture
def three_clinics():
    up = _clinic(best_users=110)        # +70: 100,000円 → July +80: 150,000円
    down = _clinic(best_users=200)      # +160: 200,000円 → June corrected to +70: 100,000円
    paid_down = _clinic(best_users=200)  # paid 200,000円 → June corrected to +0: nothing
    _pay(paid_down, 200_000)
    same = _clinic(best_users=200)      # a new month lower than its best: no change
    csv = (STATS_HEADER
           + f"{up.code},2024-07,1000,120,120\n"
           + f"{down.code},2024-06,1000,110,110\n"
           + f"{paid_down.code},2024-06,1000,40,40\n"
           + f"{same.code},2024-08,1000,50,50\n")
    return csv


def test_the_effect_per_program_is_counted_both_ways_and_paid_apart(tmp_path, three_clinics):
    path = tmp_path / "s.csv"
    path.write_text(three_clinics)
    before = sorted(MonthlyStatistic.objects.values_list("facility_id", "month", "card_users"))
    found = {effect["code"]: effect for effect in
             imports.preview_effects(path, imports.import_kind("monthly_statistics"))}
    assert found[LUMP_SUM] == {
        "program": "一時金（医療機関・薬局・2024年）", "code": LUMP_SUM,
        "up": 1, "up_yen": 50_000, "down": 1, "down_yen": 100_000,
        "paid_up": 0, "paid_up_yen": 0, "paid_down": 1, "paid_down_yen": 200_000}
    # Rolled back: the statistics and the pending marks are as they were.
    assert sorted(MonthlyStatistic.objects.values_list("facility_id", "month", "card_users")
                  ) == before
    assert not PendingDetermination.objects.exists()


def test_the_job_page_shows_the_effect_before_the_confirmation(
        three_clinics, django_capture_on_commit_callbacks):
    from django.test import Client

    from portal import roles
    from tests.factories import login_admin, make_admin

    client = Client()
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    response = upload(client, STATS_URLS[0], three_clinics.encode(),
                      django_capture_on_commit_callbacks)
    job = ImportJob.objects.latest("pk")
    assert job.state == "checked"
    page = client.get(response["Location"]).content.decode()
    assert "支給判定への影響" in page
    assert "1施設（+50,000円）" in page
    assert "1施設（−100,000円）" in page
    assert "減 1施設（−200,000円）" in page
    assert "取り込みを確定する" in page
    assert not MonthlyStatistic.objects.filter(month=date(2024, 7, 1)).exists()


def test_a_large_file_is_computed_in_bulk(tmp_path, django_assert_max_num_queries):
    """Many facilities: the queries grow with the chunks of facilities, not with the lines."""
    clinics = [_clinic(best_users=110) for _ in range(30)]
    path = tmp_path / "s.csv"
    path.write_text(STATS_HEADER + "".join(f"{c.code},2024-07,1000,120,120\n" for c in clinics))
    with django_assert_max_num_queries(60):
        found = imports.preview_effects(path, imports.import_kind("monthly_statistics"))
    effect = next(e for e in found if e["code"] == LUMP_SUM)
    assert (effect["up"], effect["up_yen"]) == (30, 30 * 50_000)



def test_a_failing_preview_fails_the_job_and_nothing_is_written(
        three_clinics, monkeypatch, django_capture_on_commit_callbacks):
    from django.test import Client

    from eligibility import import_effects
    from portal import import_jobs, roles
    from tests.factories import login_admin, make_admin

    def broken(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(import_effects.ResultChanges, "summary", broken)
    client = Client()
    login_admin(client, make_admin(roles.SYSTEM_ADMIN))
    upload(client, STATS_URLS[0], three_clinics.encode(), django_capture_on_commit_callbacks)
    job = ImportJob.objects.latest("pk")
    assert (job.state, job.failure) == ("failed", import_jobs.PREVIEW_FAILED)
    assert not MonthlyStatistic.objects.filter(month=date(2024, 7, 1)).exists()
