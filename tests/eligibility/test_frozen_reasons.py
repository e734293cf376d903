"""A result keeps the reason texts it was decided with, under its parameter version
(docs/domain.md §5.4 "Parameters at a date"): the batch stores them with every row it writes, worded only
for the rows it writes; the facility's money page shows them as of that decision
(「令和7年8月1日の判定、第2版」), whatever the rule's wording has become since."""

import importlib
from datetime import date, datetime

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils import timezone

from eligibility import services
from eligibility.engine import RULES, parameters_in_force
from eligibility.models import ActivityReport, Determination, Program
from eligibility.rules.base import Reason
from facilities.models import GoLive
from tests.factories import AdminFactory, FacilityFactory, make_staff, previewed

pytestmark = pytest.mark.django_db

REWORDED = "（今の規則の新しい文面）"


def cooperation():
    return Program.objects.get(code="cooperation-2025")


def reported_sejutsu(golive=date(2025, 6, 10)):
    facility = FacilityFactory(kind="judo")
    GoLive.objects.create(facility=facility, date=golive)
    ActivityReport.objects.create(facility=facility, program=cooperation(), voice=True,
                                  flyer=True, activity_from=date(2025, 6, 10),
                                  activity_to=date(2025, 7, 31))
    return facility


def decided_on(facility, day: date) -> None:
    at = timezone.make_aware(datetime(day.year, day.month, day.day, 10, 0))
    Determination.objects.filter(facility=facility).update(determined_at=at)


def reword_every_rule(monkeypatch) -> None:
    """The rules' wording changes in the code (every criterion's text)."""
    monkeypatch.setattr(Reason, "display", property(lambda reason: REWORDED))


def money_page(client, facility) -> str:
    client.force_login(make_staff(facility))
    return client.get(reverse("incentives:overview", args=[facility.pk])).content.decode()


def test_the_page_shows_the_words_as_decided_after_the_rule_is_reworded(client, monkeypatch):
    facility = reported_sejutsu()
    services.run_eligibility(program=cooperation(), facility_ids=[facility.pk])
    decided_on(facility, date(2025, 8, 1))
    stored = Determination.objects.get(facility=facility)
    assert "運用開始日 令和7年6月10日 ✓" in stored.stored_reasons
    assert stored.parameter_version.version == 1

    reword_every_rule(monkeypatch)
    page = money_page(client, facility)
    assert "支給対象 50,000円" in page
    assert "運用開始日 令和7年6月10日 ✓" in page
    assert REWORDED not in page
    assert "判定理由（令和7年8月1日の判定、第1版）" in page
    # The stored result reads the same, and a rerun with nothing changed keeps it.
    assert services.run_eligibility(program=cooperation(), facility_ids=[facility.pk]).written == 0
    assert Determination.objects.get(facility=facility).reasons == stored.stored_reasons


def test_a_result_under_a_new_version_shows_that_version_and_its_words(client):
    facility = reported_sejutsu()
    program = cooperation()
    services.run_eligibility(program=program, facility_ids=[facility.pk])
    first = parameters_in_force(program)
    params = {**first.params, "amount": 60000}
    draft = services.create_draft_version(program=program, params=params,
                                          effective_from=first.effective_from,
                                          notice="増額の通知", actor=AdminFactory())
    services.apply_version(version=draft, actor=AdminFactory(), preview=previewed(draft))
    assert services.run_eligibility(program=program, facility_ids=[facility.pk]).written == 1
    decided_on(facility, date(2025, 9, 3))
    result = Determination.objects.get(facility=facility)
    assert (result.amount, result.parameter_version.version) == (60000, 2)
    assert "支給額 60,000円" in " ".join(result.reasons)
    page = money_page(client, facility)
    assert "判定理由（令和7年9月3日の判定、第2版）" in page
    assert "支給対象 60,000円" in page


def test_every_written_row_stores_its_texts_and_a_rerun_words_nothing(monkeypatch):
    facilities = [reported_sejutsu(), reported_sejutsu(golive=date(2025, 5, 1)),
                  reported_sejutsu(golive=date(2025, 8, 15))]
    program = cooperation()
    run = services.run_eligibility(program=program)
    assert run.written == len(facilities)
    binding = RULES[program.rule]
    params = binding.params_from_dict(parameters_in_force(program).params)
    for row in Determination.objects.filter(program=program):
        worded = binding.determine(params, binding.facts_type.from_json(row.facts)).reason_texts
        assert row.stored_reasons == worded and row.reasons == worded

    worded_facts = []
    real_writer = services._reason_writer

    def counting_writer(version_id):
        texts = real_writer(version_id)

        def counted(fact):
            worded_facts.append(fact)
            return texts(fact)

        return counted

    monkeypatch.setattr(services, "_reason_writer", counting_writer)
    assert services.run_eligibility(program=program).written == 0
    assert worded_facts == []  # nothing changed: nothing worded
    # One facility's facts change: only its result is written, and only its texts worded.
    GoLive.objects.filter(facility=facilities[2]).update(date=date(2025, 6, 1))
    assert services.run_eligibility(program=program).written == 1
    assert [fact.golive for fact in worded_facts] == [date(2025, 6, 1)]
    changed = Determination.objects.get(facility=facilities[2])
    assert changed.amount == 50000 and "運用開始日 令和7年6月1日 ✓" in changed.reasons


def test_the_migration_words_the_results_that_kept_only_their_facts():
    program = cooperation()
    version = parameters_in_force(program)
    facility, kept = reported_sejutsu(), reported_sejutsu()
    services.run_eligibility(program=program)
    worded = Determination.objects.get(facility=facility).stored_reasons
    # As the batch left them before: facts kept, texts worded by each page.
    Determination.objects.filter(facility=facility).update(stored_reasons=[])
    old_texts = ["運用開始日 令和7年6月10日 ✓", "支給額 50,000円（以前の文面）"]
    Determination.objects.filter(facility=kept).update(stored_reasons=old_texts)
    locked = FacilityFactory(kind="judo")
    Determination.objects.create(facility=locked, program=program, parameter_version=version,
                                 eligible=False, amount=0, reasons=["運用開始日 未入力 ✗"],
                                 details={}, determined_at=timezone.now(), payout_locked=True)

    importlib.import_module("eligibility.migrations.0014_frozen_reasons").freeze_texts(apps, None)

    assert Determination.objects.get(facility=facility).stored_reasons == worded
    assert Determination.objects.get(facility=kept).stored_reasons == old_texts
    assert Determination.objects.get(facility=locked).stored_reasons == ["運用開始日 未入力 ✗"]


def test_a_row_changed_by_another_writer_meanwhile_still_gets_its_texts(postgres, monkeypatch):
    """PostgreSQL: the rows to word are found before the merge; one that another writer
    changed in between is merged too, and is worded after it in the same transaction."""
    program = cooperation()
    first, second = reported_sejutsu(), reported_sejutsu()
    services.run_eligibility(program=program)
    GoLive.objects.filter(facility=first).update(date=date(2025, 6, 1))  # first: to word
    real_writer = services._reason_writer

    def meanwhile(version_id):
        # Between finding the rows to word and the merge: another writer spoils `second`.
        Determination.objects.filter(facility=second).update(amount=12345,
                                                             stored_reasons=["古い文面"])
        return real_writer(version_id)

    monkeypatch.setattr(services, "_reason_writer", meanwhile)
    assert services.run_eligibility(program=program).written == 2
    rewritten = Determination.objects.get(facility=second)
    assert rewritten.amount == 50000
    assert "運用開始日 令和7年6月10日 ✓" in rewritten.stored_reasons
    assert "運用開始日 令和7年6月1日 ✓" in Determination.objects.get(facility=first).reasons
