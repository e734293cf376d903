"""The one program registry (eligibility.engine.REGISTRY): a throw-away program kind,
registered for one test, is determined by the batch, offered by the public simulator and
`manage.py simulate`, shown on the money page, paid by payouts through the source its entry
names and listed on the to-do list — and gone from all of them afterwards."""

import io
import json
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

import pytest
from django import forms
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from eligibility import engine
from eligibility import services as eligibility_services
from eligibility.forms import parameter_form
from eligibility.models import Attestation, Determination, ParameterVersion, Program
from eligibility.rules.base import Determination as Result
from eligibility.rules.base import Reason
from eligibility.rules.cooperation import DEFAULT_COOPERATION_2025
from eligibility.rules.lump_sum import DEFAULT_LUMP_SUM_2024, LumpSumParams
from eligibility.rules.simulate import SimulateAdapter
from eligibility.rules.subsidies import DEFAULT_RECECOM, CostSubsidyParams, offer_sejutsu_cost
from facilities.kinds import SEJUTSU_KINDS
from facilities.models import Facility
from incentives.payables import SOURCE as DETERMINATIONS
from obligation.rules import ExemptionParams
from payouts import services as payout_services
from payouts.models import PaymentLine
from payouts.sources import source_for
from portal.forms import NormalizedForm
from subsidies import selectors as claim_selectors
from subsidies.payables import SOURCE as CLAIMS
from tests.factories import FacilityFactory, claim_with_receipt, make_staff
from tests.payouts.helpers import officers, transfer_day, with_account
from todos.selectors import todos_for_facility

pytestmark = pytest.mark.django_db

TOY = "toy"
TOY_CODE = "toy-2026"
TOY_AMOUNT = 12_345


# ---------------------------------------------------------------- the throw-away kind


@dataclass(frozen=True)
class ToyParams:
    amount: int
    kinds: tuple[str, ...]

    @classmethod
    def from_dict(cls, data: dict) -> "ToyParams":
        return cls(amount=int(data["amount"]), kinds=tuple(data["kinds"]))


@dataclass(frozen=True)
class ToyFacts:
    kind: str
    attested: bool

    def json_text(self) -> str:
        return json.dumps({"kind": self.kind, "attested": self.attested})

    @classmethod
    def from_json(cls, data: dict) -> "ToyFacts":
        return cls(kind=data["kind"], attested=data["attested"])


class ToyVerdict(NamedTuple):
    eligible: bool
    amount: int

    @property
    def cell(self) -> tuple:
        return (("attested", self.eligible),)


def toy_judge(params: ToyParams):
    def judge(facts: ToyFacts) -> ToyVerdict:
        eligible = facts.kind in params.kinds and facts.attested
        return ToyVerdict(eligible, params.amount if eligible else 0)
    return judge


def toy_determine(params: ToyParams, facts: ToyFacts) -> Result:
    verdict = toy_judge(params)(facts)
    return Result(verdict.eligible, verdict.amount,
                  (Reason(facts.attested, "参加の確認 " + ("登録済み" if facts.attested
                                                         else "未登録")),))


def toy_facts(program, params: ToyParams, facility_ids=None, *, facility_range=None):
    facilities = Facility.objects.filter(kind__in=params.kinds).order_by("pk")
    if facility_ids is not None:
        facilities = facilities.filter(pk__in=facility_ids)
    if facility_range is not None:
        facilities = facilities.filter(pk__gte=facility_range[0], pk__lt=facility_range[1])
    attested = set(Attestation.objects.filter(program=program).values_list("facility_id",
                                                                           flat=True))
    for pk, kind in facilities.values_list("pk", "kind"):
        yield pk, ToyFacts(kind, pk in attested)


def toy_line(data: dict, params: dict | None) -> dict:
    result = toy_determine(ToyParams.from_dict(params or TOY_PARAMS),
                           ToyFacts(str(data["kind"]), bool(data["attested"])))
    return {"eligible": result.eligible, "amount": result.amount,
            "reasons": result.reason_texts}


class ToySimulatorForm(NormalizedForm):
    kind = forms.ChoiceField(label="施設の種別", choices=[("clinic", "診療所")])
    attested = forms.BooleanField(label="参加の確認を登録している", required=False)

    def __init__(self, *args, params: ToyParams, **kwargs):
        super().__init__(*args, **kwargs)


TOY_PARAMS = {"amount": TOY_AMOUNT, "kinds": ["clinic"]}
TOY_TODO = engine.ProgramTodo(
    "toy_due", Attestation, "attest", "{program}の参加の確認が未登録です",
    "参加の確認を登録してください。", "参加の確認をする（確認の画面へ）",
    "参加の確認をする", "参加の確認を見直す", name="{program}の参加の確認")
TOY_BINDING = engine.RuleBinding(
    ToyParams.from_dict, frozenset({"clinic"}), toy_facts, toy_determine, judge=toy_judge,
    facts_type=ToyFacts,
    schema=(engine.ParamField("amount", "支給額（円）", "yen"),
            engine.ParamField("kinds", "対象の施設種別", "kinds")),
    simulate=SimulateAdapter(toy_line, form=f"{__name__}.ToySimulatorForm"),
    payable="determination", todo=TOY_TODO,
)


@contextmanager
def throwaway_program():
    """The toy kind in the registry and its Program row with parameters in force, for the
    block; the entry is removed after (the row goes with the test's transaction)."""
    with engine.registered(TOY, TOY_BINDING):
        program = Program.objects.create(code=TOY_CODE, name="お試し協力金", rule=TOY)
        ParameterVersion.objects.create(
            program=program, version=1, effective_from=date(2020, 1, 1), notice="試験用",
            params=TOY_PARAMS, status=ParameterVersion.Status.ACTIVE,
            applied_at=timezone.now())
        yield program


@pytest.fixture
def toy():
    with throwaway_program() as program:
        yield program


@pytest.fixture
def clinics(toy):
    """Two clinics: the first has attested for the toy program, the second has not."""
    attested, silent = FacilityFactory(kind="clinic"), FacilityFactory(kind="clinic")
    Attestation.objects.create(facility=attested, program=toy, poster=True, informed=True)
    return attested, silent


# ---------------------------------------------------------------- every place sees it


def test_the_batch_determines_a_registered_program(toy, clinics):
    attested, silent = clinics
    assert toy in eligibility_services.open_batch_programs()
    eligibility_services.run_eligibility(program=toy)
    first = Determination.objects.get(program=toy, facility=attested)
    second = Determination.objects.get(program=toy, facility=silent)
    assert (first.eligible, first.amount) == (True, TOY_AMOUNT)
    assert (second.eligible, second.amount) == (False, 0)
    assert first.reasons == ["参加の確認 登録済み ✓"]


def test_simulate_offers_a_registered_program(toy, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(
        '{"kind": "clinic", "attested": true}\n{"kind": "clinic", "attested": false}\n'))
    out = io.StringIO()
    call_command("simulate", TOY_CODE, stdout=out)
    first, second = (json.loads(row) for row in out.getvalue().strip().splitlines())
    assert (first["eligible"], first["amount"]) == (True, TOY_AMOUNT)
    assert (second["eligible"], second["amount"]) == (False, 0)
    assert TOY_CODE in engine.simulated_codes()


def test_the_public_simulator_offers_a_registered_program(client, toy):
    page = client.get(reverse("simulator")).content.decode()
    assert f'href="?program={TOY_CODE}"' in page  # listed beside the lump sum
    page = client.get(reverse("simulator"), {"program": TOY_CODE}).content.decode()
    assert "お試し協力金のシミュレーター" in page and "結果:" not in page
    page = client.get(reverse("simulator"), {"program": TOY_CODE, "kind": "clinic",
                                             "attested": "on"}).content.decode()
    assert "結果: 12,345円" in page


def test_the_public_simulator_says_a_registered_program_has_no_version_today(client, toy,
                                                                           monkeypatch):
    """No version covers today: the page says so and computes nothing (no default)."""
    monkeypatch.setattr(timezone, "localdate", lambda *args: date(2019, 12, 31))
    page = client.get(reverse("simulator"), {"program": TOY_CODE, "kind": "clinic",
                                             "attested": "on"}).content.decode()
    assert "適用されるお試し協力金のパラメータの版がありません" in page
    assert "計算する" not in page and "結果:" not in page


def test_the_money_page_shows_a_registered_program(client, toy, clinics):
    attested, silent = clinics
    eligibility_services.run_eligibility(program=toy)
    client.force_login(make_staff(attested))
    page = client.get(reverse("incentives:overview", args=[attested.pk])).content.decode()
    assert "お試し協力金" in page and "支給対象 12,345円" in page
    assert reverse("incentives:attest", args=[attested.pk, TOY_CODE]) in page
    assert "参加の確認を見直す" in page


def test_payouts_pay_a_registered_program_through_the_source_it_names(toy, clinics):
    attested, _ = clinics
    eligibility_services.run_eligibility(program=toy)
    with_account(attested)
    assert source_for(toy) is DETERMINATIONS
    creator, _ = officers()
    run = payout_services.create_run(program=toy, transfer_date=transfer_day(), actor=creator)
    line = PaymentLine.objects.get(run=run)
    assert (line.facility_id, line.source_kind, line.amount) == (
        attested.pk, "determination", TOY_AMOUNT)
    assert Determination.objects.get(pk=line.source_id).payout_locked


def test_the_todo_list_shows_a_registered_programs_item(toy, clinics):
    attested, silent = clinics
    items = todos_for_facility(facility=silent, today=date(2026, 12, 7))
    toy_items = [item for item in items if item.kind == "toy_due"]
    assert [(item.title, item.status.label) for item in toy_items] == [
        ("お試し協力金の参加の確認", "未着手")]
    assert toy_items[0].url == reverse("incentives:attest", args=[silent.pk, TOY_CODE])
    done = todos_for_facility(facility=attested, today=date(2026, 12, 7))
    assert [item.status.label for item in done if item.kind == "toy_due"] == ["完了"]


def test_a_removed_program_kind_is_gone_from_every_view(toy):
    assert TOY in engine.RULES and TOY in engine.PARAMETER_PARSERS
    assert TOY in engine.rules_paid_by("determination")
    engine.REGISTRY.pop(TOY)
    try:
        assert TOY not in engine.RULES and TOY not in engine.PARAMETER_PARSERS
        assert TOY not in engine.rules_paid_by("determination")
        assert toy not in eligibility_services.open_batch_programs()
        assert not DETERMINATIONS.pays(toy)
    finally:
        engine.REGISTRY[TOY] = TOY_BINDING


def test_registering_a_kind_twice_is_refused():
    with (pytest.raises(ValueError, match="registered already"),
          engine.registered(Program.Rule.LUMP_SUM, TOY_BINDING)):
        pass
    assert engine.REGISTRY[Program.Rule.LUMP_SUM].determine is not toy_determine


def test_the_registry_is_left_as_it_was():
    with throwaway_program():
        pass
    assert TOY not in engine.REGISTRY


# ---------------------------------------------------------------- the entries


def test_every_rule_has_an_entry_with_a_schema_naming_its_parameters():
    defaults = {Program.Rule.COOPERATION: DEFAULT_COOPERATION_2025,
                Program.Rule.LUMP_SUM: DEFAULT_LUMP_SUM_2024}
    for rule in Program.Rule.values:
        binding = engine.REGISTRY[rule]
        assert binding.schema and all(field.type in engine.PARAM_TYPES
                                      for field in binding.schema)
        if rule in defaults:
            assert {field.name for field in binding.schema} == set(defaults[rule])
        if binding.batch or binding.offer is not None:
            assert binding.payable in ("determination", "claim")
        assert (binding.claim_amount is not None) == (binding.offer is not None)


def test_the_obligations_schema_names_its_dates_in_japanese():
    schema = engine.REGISTRY[Program.Rule.OBLIGATION].schema
    assert {field.name for field in schema} == set(
        ExemptionParams(date(1954, 4, 1), date(2025, 12, 2)).to_dict())
    labels = {field.name: field.label for field in schema
              if field.type in ("date", "birth_date")}
    assert set(labels) == {"born_on_or_before", "deadline"}
    assert all(label and not label.isascii() for label in labels.values())  # Japanese
    form = parameter_form(schema)({"born_on_or_before": "1954-04-01",
                                   "deadline": "2025-12-02", "notice": ""})
    assert form.is_valid(), form.errors
    assert ExemptionParams.from_dict(form.to_params()) == ExemptionParams(
        date(1954, 4, 1), date(2025, 12, 2))


def test_the_payable_sources_pay_what_the_registry_says():
    for rule, binding in engine.REGISTRY.items():
        program = Program(code=f"x-{rule}", name=rule, rule=rule)
        if binding.payable is None:
            continue
        assert source_for(program).kind == binding.payable


def test_simulate_refuses_an_unknown_program():
    with pytest.raises(CommandError, match="unknown program 'unknown-program'"):
        call_command("simulate", "unknown-program")


# ---------------------------------------------------------------- the parameter form


def test_the_parameter_form_round_trips_the_lump_sum_parameters():
    form_class = parameter_form(engine.REGISTRY[Program.Rule.LUMP_SUM].schema)
    unbound = form_class(initial=DEFAULT_LUMP_SUM_2024)
    assert unbound.fields["baseline_month"].label == "基準月"
    data = {name: field.widget.format_value(field.prepare_value(unbound.initial[name]))
            if not isinstance(field, forms.JSONField) else json.dumps(unbound.initial[name])
            for name, field in unbound.fields.items()}
    form = form_class(data)
    assert form.is_valid(), form.errors
    assert LumpSumParams.from_dict(form.to_params()) == LumpSumParams.from_dict(
        DEFAULT_LUMP_SUM_2024)


def test_the_parameter_form_says_what_is_wrong_in_japanese():
    form_class = parameter_form(engine.REGISTRY[Program.Rule.RECECOM].schema)
    form = form_class({"rate": "1/0", "cap": "-1", "deadline": "", "notice": ""})
    assert not form.is_valid()
    assert form.errors["rate"] == ["割合は 3/100 や 0.5 の形で入力してください。"]
    assert "cap" in form.errors
    form = form_class({"rate": "1/2", "cap": "", "deadline": "", "notice": "通知"})
    assert form.is_valid(), form.errors
    assert form.to_params() == {"rate": "1/2", "cap": None, "deadline": None, "notice": "通知"}
    assert CostSubsidyParams.from_dict(form.to_params()) == CostSubsidyParams.from_dict(
        {**DEFAULT_RECECOM, "notice": "通知"})


def test_the_public_simulator_says_when_a_program_has_no_simulator(client, toy):
    response = client.get(reverse("simulator"), {"program": "cooperation-2025",
                                                 "kind": "clinic", "attested": "on"})
    assert response.status_code == 400
    page = response.content.decode()
    assert "指定されたプログラムのシミュレーターはありません。" in page
    assert "結果:" not in page


def test_a_registered_subsidy_kind_is_offered_claimed_and_paid_as_a_claim():
    binding = engine.RuleBinding(CostSubsidyParams.from_dict, SEJUTSU_KINDS,
                                 offer=offer_sejutsu_cost, payable="claim",
                                 claim_amount="cost")
    with engine.registered("toy_claim", binding):
        program = Program.objects.create(code="toy-claim", name="お試し補助金",
                                         rule="toy_claim")
        ParameterVersion.objects.create(
            program=program, version=1, effective_from=date(2020, 1, 1), notice="試験用",
            params={"rate": "1/2", "cap": 10000, "deadline": None},
            status=ParameterVersion.Status.ACTIVE,
            applied_at=timezone.now())
        facility = FacilityFactory(kind="judo")
        offer = next(o for o in claim_selectors.offers_for(facility) if o.program == program)
        assert offer.offered
        claim, _ = claim_with_receipt(facility, unit_price=30000, tax=3000,
                                      program="toy-claim")
        assert claim.readers is None and not claim_selectors.takes_readers(program)
        result = claim_selectors.compute(claim)
        assert (result.eligible, result.amount) == (True, 10000)  # 33,000 × 1/2, capped
        assert source_for(program) is CLAIMS
