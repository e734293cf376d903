"""The counter's counts and the statistics import (docs/decisions.md D8.1): an imported month is
the official figure for that month; the counter's confirmations are counted beside it
(never overwritten nor deleted by an import) and are the month's figure, provisional, until
the month is imported; pages say which a figure is."""

import re
from datetime import date

import pytest
from django.urls import reverse

from eligibility import services
from eligibility.models import (
    Attestation,
    Determination,
    MonthlyStatistic,
    PendingDetermination,
    Program,
)
from portal.imports import import_kind, run_import
from tests.concurrency import run_in_parallel
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db

OCTOBER, JUNE = date(2023, 10, 1), date(2024, 6, 1)
HEADER = "facility_code,year_month,receipts,card_users,usage_count\n"


def lump_sum():
    return Program.objects.get(code="lump-sum-2024")


def imported(tmp_path, text: str):
    path = tmp_path / "statistics.csv"
    path.write_text(HEADER + text, encoding="utf-8")
    result = run_import(path, import_kind("monthly_statistics"), dry_run=False)
    assert not result.errors, result.errors
    return result


def counted(facility, n: int, *, day=date(2024, 6, 14), new_users: bool = True) -> None:
    for _ in range(n):
        services.count_confirmation(facility_id=facility.pk, day=day, new_user=new_users)


@pytest.fixture
def clinic(tmp_path):
    """A 診療所 whose October 2023 is imported: 1,000 receipts, 0 card users (row r0 of the
    診療所・薬局 table: +30人以上 → 30,000円, +50人以上 → 50,000円), attested ② ③."""
    facility = FacilityFactory(kind="clinic")
    imported(tmp_path, f"{facility.code},2023-10,1000,0,0\n")
    Attestation.objects.create(facility=facility, program=lump_sum(), poster=True,
                               informed=True)
    return facility


def amount(facility) -> int:
    services.run_eligibility(program=lump_sum(), facility_ids=[facility.pk])
    return Determination.objects.get(facility=facility, program=lump_sum()).amount


def june(facility) -> MonthlyStatistic:
    return MonthlyStatistic.objects.get(facility=facility, month=JUNE)


def test_the_counters_count_is_the_provisional_figure_until_the_month_is_imported(clinic):
    counted(clinic, 30)
    counted(clinic, 4, new_users=False)  # the same cards on other days: uses, not users
    row = june(clinic)
    assert (row.counter_card_users, row.counter_usage_count) == (30, 34)
    assert (row.card_users, row.usage_count, row.imported_at) == (0, 0, None)
    assert (row.users, row.uses, row.source_label) == (30, 34, "暫定（窓口の確認）")
    assert PendingDetermination.objects.filter(facility=clinic).exists()
    assert amount(clinic) == 30_000  # +30 users, counted at the counter


def test_counter_then_import_keeps_both_and_the_official_figure_is_used(clinic, tmp_path):
    counted(clinic, 30)
    assert amount(clinic) == 30_000
    imported(tmp_path, f"{clinic.code},2024-06,1000,60,75\n")
    row = june(clinic)
    assert (row.receipts, row.card_users, row.usage_count) == (1000, 60, 75)
    assert (row.counter_card_users, row.counter_usage_count) == (30, 30)  # kept
    assert row.imported_at is not None and row.source_label == "公式（取込）"
    assert amount(clinic) == 50_000  # +60 official users
    # The same file again changes nothing, and keeps the counter's counts.
    assert imported(tmp_path, f"{clinic.code},2024-06,1000,60,75\n").unchanged == 1
    assert june(clinic).counter_card_users == 30


def test_import_then_counter_counts_beside_it_and_the_official_figure_stays(clinic, tmp_path):
    imported(tmp_path, f"{clinic.code},2024-06,1000,60,75\n")
    assert amount(clinic) == 50_000
    PendingDetermination.objects.all().delete()
    counted(clinic, 5)
    row = june(clinic)
    assert (row.card_users, row.usage_count) == (60, 75)
    assert (row.counter_card_users, row.counter_usage_count) == (5, 5)
    assert (row.users, row.uses) == (60, 75)
    # The figure the rules read did not move: nothing to determine again.
    assert not PendingDetermination.objects.filter(facility=clinic).exists()
    assert amount(clinic) == 50_000


def test_a_month_only_the_counter_counted_is_new_to_the_import_and_exported_once_imported(
        clinic, tmp_path):
    counted(clinic, 3)
    export = import_kind("monthly_statistics").export_rows
    rows = MonthlyStatistic.objects.filter(facility=clinic)
    assert [line[1] for line in export(rows)] == ["2023-10"]  # provisional: not as zeros
    result = imported(tmp_path, f"{clinic.code},2024-06,0,0,0\n")
    assert (result.new, result.updated, result.unchanged) == (1, 0, 0)
    row = june(clinic)
    assert row.imported_at is not None and row.users == 0  # officially 0 that month
    assert row.counter_card_users == 3
    assert [line[1] for line in export(rows)] == ["2023-10", "2024-06"]


def test_the_money_page_says_which_figure_is_official_and_which_provisional(client, clinic,
                                                                             tmp_path):
    counted(clinic, 30)
    imported(tmp_path, f"{clinic.code},2024-05,1000,12,15\n")
    amount(clinic)
    client.force_login(make_staff(clinic))
    page = client.get(reverse("incentives:overview", args=[clinic.pk])).content.decode()
    assert "判定に用いる月次統計" in page
    rows = {}  # the month (its heading's text) → its row
    for line in page.split("<tr>"):
        heading = re.search(r'<th scope="row">(.*?)</th>', line, re.S)
        if heading and "令和" in heading.group(1):
            rows[re.sub(r"<[^>]+>", "", heading.group(1)).strip()] = line
    assert "公式（取込）" in rows["令和5年10月"]
    assert "公式（取込）" in rows["令和6年5月"] and "12人" in rows["令和6年5月"]
    assert "暫定（窓口の確認）" in rows["令和6年6月"] and "30人" in rows["令和6年6月"]


def test_the_admin_list_says_which_figure_is_used(admin_client, clinic):
    counted(clinic, 2)
    page = admin_client.get(reverse("admin:eligibility_monthlystatistic_changelist")).content
    text = page.decode()
    assert "暫定（窓口の確認）: 利用人数 2人・利用件数 2件" in text
    assert "公式（取込）: 利用人数 0人・利用件数 0件" in text


@pytest.mark.django_db(transaction=True)
def test_confirmations_at_the_same_moment_each_count(postgres, migration_data):
    """F() updates: eight confirmations of one facility's month at once, with no lock
    held by a caller, count eight uses (and the new users among them)."""
    facility = FacilityFactory(kind="clinic")
    outcomes = run_in_parallel([
        lambda n=n: services.count_confirmation(facility_id=facility.pk, day=date(2024, 6, 3),
                                                new_user=n % 2 == 0)
        for n in range(8)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    row = june(facility)
    assert (row.counter_usage_count, row.counter_card_users) == (8, 4)
    assert (row.usage_count, row.card_users, row.imported_at) == (0, 0, None)


def test_a_month_entered_in_the_admin_is_official_and_the_counters_stay_read_only(
        admin_client, clinic):
    counted(clinic, 2)
    row = june(clinic)
    url = reverse("admin:eligibility_monthlystatistic_change", args=[row.pk])
    response = admin_client.post(url, {
        "facility": clinic.pk, "month": "2024-06-01", "receipts": 900, "card_users": 70,
        "usage_count": 80, "counter_card_users": 999, "counter_usage_count": 999})
    assert response.status_code == 302, response.content.decode()[:2000]
    row.refresh_from_db()
    assert (row.receipts, row.card_users, row.usage_count) == (900, 70, 80)
    assert (row.counter_card_users, row.counter_usage_count) == (2, 2)  # the counter's only
    assert row.imported_at is not None and row.source_label == "公式（取込）"
