"""Counting (docs/domain.md §8 → §5.2, §6.3): a confirmed valid qualification adds one use to the
facility's month — a card at most once per facility per day, whatever device account or
request number confirms it again (a replayed certificate adds nothing) — and, for a card not
yet seen there that month, one user; the month is the confirmation's date; the facility is
determined again, so that its lump sum moves to the cell of the notice's table its new count
reaches. On PostgreSQL, confirmations at the same moment count each card once a day."""

from datetime import date

import pytest
from django.utils import timezone

from cardreader import services
from cardreader.models import CardUse, Confirmation
from eligibility import services as eligibility_services
from eligibility.models import (
    Attestation,
    Determination,
    MonthlyStatistic,
    PendingDetermination,
    Program,
)
from facilities.models import DeviceAccount
from tests.cardreader.pki import card_certificate
from tests.cardreader.test_api import device_accounts, register, trust
from tests.concurrency import run_in_parallel

pytestmark = pytest.mark.django_db

JUNE = date(2024, 6, 15)  # an evaluation month of the 2024 lump sum (May–August)


def card(serial: int):
    return card_certificate(serial, not_before=date(2023, 1, 1), not_after=date(2028, 1, 1))


def registered(serial: int):
    certificate = card(serial)
    register(certificate)
    return certificate


def confirm(account, certificate, *, today=JUNE, **extra):
    return services.confirm_qualification(device_account=account, certificate=certificate.der,
                                          mode="face", today=today, **extra)


@pytest.fixture
def clinic():
    facility, accounts = device_accounts(kind="clinic", devices=2)
    trust()
    return facility, accounts[0][0]


def statistic(facility, month=date(2024, 6, 1)) -> MonthlyStatistic:
    return MonthlyStatistic.objects.get(facility=facility, month=month)


# ---------------------------------------------------------------- the counts


def test_a_confirmation_counts_one_use_and_one_new_user_in_a_new_row(clinic):
    facility, account = clinic
    confirmed = confirm(account, registered(2001))
    assert (confirmed.outcome, confirmed.counted, confirmed.new_user) == ("valid", True, True)
    row = statistic(facility)
    # The counter's figures, provisional: the month is not imported (docs/domain.md §8).
    assert (row.counter_usage_count, row.counter_card_users) == (1, 1)
    assert (row.receipts, row.usage_count, row.card_users, row.imported_at) == (0, 0, 0, None)
    assert CardUse.objects.filter(facility=facility, month=date(2024, 6, 1)).count() == 1


def test_twenty_replays_of_one_certificate_count_one_use(clinic):
    """The audit's case: face mode needs only the public certificate; 20 confirmations of
    it on one day (two device accounts, any request numbers) are answered, counted once."""
    facility, account = clinic
    other_account = DeviceAccount.objects.filter(facility=facility).exclude(
        pk=account.pk).get()
    certificate = registered(2002)
    first = confirm(account, certificate)
    replays = [confirm(account if n % 2 else other_account, certificate, client_request=n)
               for n in range(19)]
    assert (first.outcome, first.counted) == ("valid", True)
    assert {(r.outcome, r.counted, r.new_user) for r in replays} == {("repeat", False, False)}
    assert all(r.answer == first.answer for r in replays)
    row = statistic(facility)
    assert (row.counter_usage_count, row.counter_card_users) == (1, 1)
    assert Confirmation.objects.filter(counted=True).count() == 1
    # The next day it is one more use, not one more user (the same month).
    again = confirm(account, certificate, today=date(2024, 6, 16))
    assert (again.counted, again.new_user) == (True, False)
    row = statistic(facility)
    assert (row.counter_usage_count, row.counter_card_users) == (2, 1)


def test_an_imported_month_is_counted_beside_never_into(clinic):
    """docs/domain.md §8: the imported figures are the month's official ones; the counter counts
    beside them and the rules keep reading the official figure."""
    facility, account = clinic
    MonthlyStatistic.objects.create(facility=facility, month=date(2024, 6, 1), receipts=900,
                                    card_users=60, usage_count=75, imported_at=timezone.now())
    confirm(account, registered(2003))
    row = statistic(facility)
    assert (row.receipts, row.usage_count, row.card_users) == (900, 75, 60)
    assert (row.counter_usage_count, row.counter_card_users) == (1, 1)
    assert (row.uses, row.users, row.source_label) == (75, 60, "公式（取込）")


def test_the_month_is_the_confirmations_date(clinic):
    facility, account = clinic
    certificate = registered(2004)
    confirm(account, certificate, today=date(2024, 6, 30))
    confirm(account, certificate, today=date(2024, 7, 1))
    assert (statistic(facility).counter_usage_count, statistic(facility).counter_card_users) == (
        1, 1)
    july = statistic(facility, date(2024, 7, 1))
    assert (july.counter_usage_count, july.counter_card_users) == (1, 1)  # again a new month


def test_a_card_seen_at_another_facility_is_a_new_user_here(clinic):
    facility, account = clinic
    other_facility, other_accounts = device_accounts(kind="pharmacy", devices=1)
    certificate = registered(2005)
    confirm(account, certificate)
    assert confirm(other_accounts[0][0], certificate).new_user
    assert statistic(other_facility).counter_card_users == 1


def test_a_lost_qualification_is_not_counted(clinic):
    facility, account = clinic
    certificate = card(2006)
    register(certificate, lost_on=date(2024, 6, 1))
    confirmed = confirm(account, certificate)
    assert (confirmed.outcome, confirmed.counted) == ("lost", False)
    assert confirmed.answer["qualification"]["status"] == "資格喪失"
    assert not MonthlyStatistic.objects.filter(facility=facility).exists()
    # The day before the 資格喪失日 the qualification was still valid.
    assert confirm(account, certificate, today=date(2024, 5, 31)).counted


def test_a_qualification_outside_its_dates_is_not_valid_at_the_counter(clinic):
    _, account = clinic
    certificate = card(2007)
    register(certificate, valid_from=date(2024, 7, 1), valid_to=date(2025, 3, 31))
    assert confirm(account, certificate).answer["qualification"]["status"] == "資格喪失"
    assert confirm(account, certificate, today=date(2025, 3, 31)).counted
    assert not confirm(account, certificate, today=date(2025, 4, 1)).counted


def test_a_refused_confirmation_counts_nothing(clinic):
    facility, account = clinic
    with pytest.raises(services.CounterRefused):
        confirm(account, card(2008))  # not in the registry
    assert not MonthlyStatistic.objects.filter(facility=facility).exists()
    assert Confirmation.objects.get().outcome == "not_registered"


def test_counting_asks_for_the_facility_to_be_determined_again(
        clinic, django_capture_on_commit_callbacks):
    facility, account = clinic
    with django_capture_on_commit_callbacks() as callbacks:
        confirm(account, registered(2009))
    assert PendingDetermination.objects.filter(facility=facility).exists()
    assert callbacks  # the re-determination, queued after commit


# ---------------------------------------------------------------- the lump sum follows


def lump_sum_amount(facility) -> int:
    return Determination.objects.get(facility=facility,
                                     program=Program.objects.get(code="lump-sum-2024")).amount


def test_confirming_n_distinct_cards_moves_the_clinics_lump_sum_to_the_right_cell(
        clinic, django_capture_on_commit_callbacks):
    """Notice seed 002, 診療所・薬局 table. October 2023 imported: 1,000 receipts, no card
    users (0% → row r0). June 2024 is not imported: the counter's count is its figure,
    provisional (docs/domain.md §8). 29 distinct cards confirmed in June (one of them twice): +29
    reaches the column 20人以上, r0 → 0円; one more: +30, the column 30人以上, r0 → 3万円 =
    30,000円. Once June is imported (50 users), the official figure decides: +50, the
    column 50人以上 → 5万円 = 50,000円, and the counter's 30 are kept beside it."""
    facility, account = clinic
    program = Program.objects.get(code="lump-sum-2024")
    MonthlyStatistic.objects.create(facility=facility, month=date(2023, 10, 1), receipts=1000,
                                    card_users=0, usage_count=0, imported_at=timezone.now())
    Attestation.objects.create(facility=facility, program=program, poster=True, informed=True)
    eligibility_services.run_eligibility(program=program, facility_ids=[facility.pk])
    assert lump_sum_amount(facility) == 0

    cards = [registered(3000 + n) for n in range(30)]
    with django_capture_on_commit_callbacks(execute=True):
        for certificate in [*cards[:29], cards[0]]:
            confirm(account, certificate)
    row = statistic(facility)
    assert (row.counter_card_users, row.counter_usage_count) == (29, 29)  # cards[0] again: 0
    assert lump_sum_amount(facility) == 0
    with django_capture_on_commit_callbacks(execute=True):
        confirm(account, cards[29])
    assert lump_sum_amount(facility) == 30_000
    assert not PendingDetermination.objects.exists()

    # Counted in September (outside May–August), more users change nothing.
    with django_capture_on_commit_callbacks(execute=True):
        for certificate in cards[:5]:
            confirm(account, certificate, today=date(2024, 9, 2))
    assert statistic(facility, date(2024, 9, 1)).counter_card_users == 5
    assert lump_sum_amount(facility) == 30_000

    # June's statistics are imported: the official 50 users decide, the counter's 30 stay.
    MonthlyStatistic.objects.filter(facility=facility, month=date(2024, 6, 1)).update(
        receipts=1000, card_users=50, usage_count=70, imported_at=timezone.now())
    eligibility_services.run_eligibility(program=program, facility_ids=[facility.pk])
    assert lump_sum_amount(facility) == 50_000
    assert statistic(facility).counter_card_users == 30


# ---------------------------------------------------------------- at the same moment (PostgreSQL)


@pytest.mark.django_db(transaction=True)
def test_confirmations_at_the_same_moment_each_count_once(postgres, migration_data):
    facility, accounts = device_accounts(kind="clinic", devices=2)
    trust()
    cards = [registered(4000 + n) for n in range(6)]
    checks = [(accounts[n % 2][0], cards[n % 6]) for n in range(16)]  # 6 cards, 16 checks
    outcomes = run_in_parallel([
        lambda account=account, certificate=certificate: confirm(account, certificate)
        for account, certificate in checks
    ])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    row = statistic(facility)
    assert (row.counter_usage_count, row.counter_card_users) == (6, 6)  # each card once a day
    assert CardUse.objects.filter(facility=facility).count() == 6
    assert sum(o.new_user for o in outcomes) == 6
    assert sorted(o.outcome for o in outcomes) == ["repeat"] * 10 + ["valid"] * 6
    assert Confirmation.objects.filter(counted=True).count() == 6


@pytest.mark.django_db(transaction=True)
def test_the_same_request_sent_at_the_same_moment_is_counted_once(postgres, migration_data):
    facility, accounts = device_accounts(kind="clinic", devices=1)
    trust()
    certificate = registered(4100)
    outcomes = run_in_parallel([
        lambda: confirm(accounts[0][0], certificate, client_request=42) for _ in range(6)])
    assert not [o for o in outcomes if isinstance(o, Exception)], outcomes
    assert sorted(o.outcome for o in outcomes) == ["repeat"] * 5 + ["valid"]
    assert statistic(facility).counter_usage_count == 1


@pytest.mark.django_db(transaction=True)
def test_one_challenge_used_at_the_same_moment_confirms_once(postgres, migration_data):
    facility, accounts = device_accounts(kind="clinic", devices=1)
    trust()
    account = accounts[0][0]
    certificate = registered(4200)
    challenge = services.issue_challenge(device_account=account).challenge
    signature = certificate.sign(challenge)
    outcomes = run_in_parallel([
        lambda: services.confirm_qualification(
            device_account=account, certificate=certificate.der, mode="pin",
            challenge=challenge, signature=signature, today=JUNE)
        for _ in range(8)])
    confirmed = [o for o in outcomes if isinstance(o, services.Confirmed)]
    refused = [o for o in outcomes if isinstance(o, services.CounterRefused)]
    assert len(confirmed) == 1 and len(refused) == 7, outcomes
    assert {o.code for o in refused} == {"challenge_used"}
    assert statistic(facility).counter_usage_count == 1
