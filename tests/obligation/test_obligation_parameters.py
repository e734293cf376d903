"""The obligation's two dates (docs/domain.md §7) are the parameters of the program "obligation"
(docs/decisions.md D5.4.4, D7.1): version 1 (its data migration) holds 1954-04-01 and 2025-12-02
from 2024-12-02; a declaration is judged under the version in force on its day, a survey answer
under the one in force on the day it was received; where none covers the day, a refusal that says
so."""

from datetime import date

import pytest
from django.utils import timezone

from eligibility import engine, services
from eligibility.models import ParameterVersion, Program
from obligation.compliance import compute_statuses
from obligation.models import ComplianceState, ComplianceStatus, SurveyAnswer
from obligation.parameters import exemption_params
from obligation.rules import ExemptionParams, Practitioner
from obligation.services import DeclarationInput, judge
from portal import roles
from tests.factories import FacilityFactory, make_admin

pytestmark = pytest.mark.django_db


def obligation() -> Program:
    return Program.objects.get(code="obligation")


def closing(planned: date) -> DeclarationInput:
    return DeclarationInput(reason="2", contact_name="担当 花子", planned_date=planned)


def extend_deadline(to: str, effective_from: date, today: date) -> ParameterVersion:
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    version = services.create_draft_version(
        program=obligation(), params={**engine.parameters_in_force(obligation()).params,
                                      "deadline": to},
        effective_from=effective_from, notice="期限の延長（試験）", actor=drafter)
    services.apply_version(version=version, actor=second, today=today)
    return version


def test_version_1_is_the_notices_dates_from_the_start_of_the_obligation():
    version = engine.parameters_in_force(obligation(), on=date(2024, 12, 2))
    assert (version.version, version.status, version.effective_from) == (
        1, ParameterVersion.Status.ACTIVE, date(2024, 12, 2))
    assert "オンライン資格確認が未導入" in version.notice
    assert exemption_params(date(2024, 12, 2)) == ExemptionParams(
        born_on_or_before=date(1954, 4, 1), deadline=date(2025, 12, 2),
        notice=version.notice)
    assert exemption_params(date(2024, 12, 1)) is None  # before the obligation: none
    assert Program.objects.get(code="obligation").rule not in engine.RULES  # not batch


def test_a_declaration_is_judged_under_the_dates_in_force_on_its_day():
    facility = FacilityFactory(kind="judo")
    late = closing(date(2026, 3, 31))
    assert not judge(facility, late, on=date(2025, 6, 1)).accepted
    extend_deadline("2026-03-31", date(2025, 10, 1), today=date(2025, 6, 1))
    assert not judge(facility, late, on=date(2025, 9, 30)).accepted
    result = judge(facility, late, on=date(2025, 10, 1))
    assert result.accepted and "令和8年3月31日まで" in result.reason_texts[0]


def test_the_age_cutoff_is_a_parameter_too():
    facility = FacilityFactory(kind="judo")
    data = DeclarationInput(reason="1-1", contact_name="担当 花子", practitioners=(
        Practitioner(birth_date=date(1954, 4, 2), full_time=True),))
    assert not judge(facility, data, on=date(2025, 6, 1)).accepted
    drafter, second = make_admin(roles.SYSTEM_ADMIN), make_admin(roles.SYSTEM_ADMIN)
    version = services.create_draft_version(
        program=obligation(), params={**engine.parameters_in_force(obligation()).params,
                                      "born_on_or_before": "1954-04-02"},
        effective_from=date(2025, 6, 1), notice="（試験）", actor=drafter)
    services.apply_version(version=version, actor=second, today=date(2025, 6, 1))
    assert judge(facility, data, on=date(2025, 6, 1)).accepted


def test_without_a_version_a_declaration_is_refused_in_words(monkeypatch):
    facility = FacilityFactory(kind="judo")
    result = judge(facility, closing(date(2025, 6, 1)), on=date(2024, 12, 1))
    assert not result.accepted
    assert result.refusals == [
        "令和6年12月1日に適用される義務化の猶予（やむを得ない事由）のパラメータの版がありません。"
        "この日付では判断できないため、管理者にお問い合わせください。"]
    monkeypatch.setattr(timezone, "localdate", lambda *args: date(2024, 11, 30))
    assert "パラメータの版がありません" in judge(facility, closing(date(2025, 6, 1))).refusals[0]


def test_a_survey_answer_takes_the_deadline_in_force_on_the_day_it_was_received():
    early, late = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
    for facility, received in ((early, date(2025, 2, 10)), (late, date(2025, 11, 1))):
        SurveyAnswer.objects.create(name=facility.name, address=facility.address,
                                    registration_code=facility.code, reason="2",
                                    received_on=received, facility=facility)
    extend_deadline("2026-03-31", date(2025, 10, 1), today=date(2025, 6, 1))
    compute_statuses(today=date(2025, 11, 15))
    rows = {row.facility_id: row for row in ComplianceStatus.objects.all()}
    assert (rows[early.pk].state, rows[early.pk].valid_until) == (
        ComplianceState.EXEMPT, date(2025, 12, 2))
    assert (rows[late.pk].state, rows[late.pk].valid_until) == (
        ComplianceState.EXEMPT, date(2026, 3, 31))


def test_a_survey_answer_received_before_any_version_is_not_an_exemption():
    facility = FacilityFactory(kind="judo")
    SurveyAnswer.objects.create(name=facility.name, address=facility.address,
                                registration_code=facility.code, reason="3",
                                received_on=date(2024, 11, 1), facility=facility)
    compute_statuses(today=date(2025, 6, 1))
    row = ComplianceStatus.objects.get(facility=facility)
    assert row.state == ComplianceState.NOT_INTRODUCED
    assert "パラメータの版がありません" in row.basis
