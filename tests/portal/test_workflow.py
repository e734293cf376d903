"""The workflow kernel (portal/workflow.py): states change only by declared moves, each move
asks its permission and, where declared, a second person (four-eyes); every move is logged
with its actor; two people deciding at once give one decision."""

import pytest

from eligibility.models import ParameterVersion
from facilities.models import UsageApplication
from portal import roles
from portal.errors import IllegalTransition, NotPermitted
from portal.workflow import available_moves, facility_state_label, moves, perform, refusal
from subsidies.models import Claim
from tests.factories import AdminFactory, FacilityFactory, make_admin, make_staff, submit_start

pytestmark = pytest.mark.django_db


def _application():
    facility = FacilityFactory(kind="judo")
    return submit_start(facility, make_staff(facility))


def test_a_state_cannot_be_set_directly():
    application = _application()
    with pytest.raises(AttributeError):
        application.state = "accepted"
    application.refresh_from_db()  # reading it again is allowed
    assert application.state == "submitted"


@pytest.mark.parametrize("model", [UsageApplication, Claim, ParameterVersion])
def test_every_move_declares_a_label_and_a_permission(model):
    declared = moves(model)
    assert declared
    for name, info in declared.items():
        method = getattr(model, name)
        for transition in method._django_fsm.transitions.values():
            assert transition.permission, f"{model.__name__}.{name} has no permission"
        assert info.label


def test_every_state_has_an_administrators_and_a_facilitys_label():
    for model in (UsageApplication, Claim):
        field = model._meta.get_field("state")
        for value, label in field.choices:
            assert label and model.facility_state_labels[value]


def test_the_facility_sees_an_internal_second_check_as_under_review():
    application = _application()
    application = perform(application, "start_second_check", actor=AdminFactory())
    assert application.state == "second_check"
    assert facility_state_label(application) == "申請中"


def test_a_move_without_its_permission_is_refused_and_changes_nothing():
    application = _application()
    viewer = make_admin(roles.VIEWER)
    with pytest.raises(NotPermitted):
        perform(application, "accept", actor=viewer)
    assert UsageApplication.objects.get(pk=application.pk).state == "submitted"
    assert [m.name for m in available_moves(application, viewer)] == []
    reviewer = make_admin(roles.REVIEWER)
    assert {m.name for m in available_moves(application, reviewer)} == {
        "accept", "send_back", "start_second_check"}


def test_a_move_from_the_wrong_state_is_refused_with_the_state_named():
    application = perform(_application(), "send_back", actor=AdminFactory(), reason="不備")
    problem = refusal(application, "accept", AdminFactory())
    assert isinstance(problem, IllegalTransition) and "差戻し" in problem.message


def test_four_eyes_the_second_check_and_the_acceptance_are_two_people():
    application = _application()
    first, second = make_admin(roles.REVIEWER), make_admin(roles.REVIEWER)
    application = perform(application, "start_second_check", actor=first)
    with pytest.raises(NotPermitted, match="二者確認"):
        perform(application, "accept", actor=first)
    application = perform(application, "accept", actor=second)
    assert application.state == "accepted"


def test_every_move_is_logged_with_its_actor():
    from django_fsm_log.models import StateLog

    application = _application()
    reviewer = make_admin(roles.REVIEWER)
    perform(application, "send_back", actor=reviewer, reason="不備", summary="差し戻しました")
    log = StateLog.objects.for_(application).get()
    assert (log.by, log.source_state, log.state, log.transition) == (
        reviewer, "submitted", "returned", "send_back")


def test_a_facility_move_needs_the_facilitys_own_staff():
    from subsidies import services
    from tests.factories import claim_with_receipt

    claim, staff = claim_with_receipt()
    outsider = make_staff(FacilityFactory(kind="judo"))
    with pytest.raises(NotPermitted):
        services.submit_claim(claim=claim, user=outsider)
    with pytest.raises(NotPermitted):
        services.submit_claim(claim=claim, user=AdminFactory())  # not the facility's staff
    assert services.submit_claim(claim=claim, user=staff).state == "submitted"


@pytest.mark.django_db(transaction=True)
def test_two_reviewers_deciding_at_once_make_one_decision(postgres, migration_data):
    """Accept and return of the same application at the same moment: one wins, the other
    is told the state changed; device accounts are made once."""
    from facilities import services
    from tests.concurrency import run_in_parallel

    application = _application()
    first, second = make_admin(roles.REVIEWER), make_admin(roles.REVIEWER)
    results = run_in_parallel([
        lambda: services.accept_application(application=application, actor=first),
        lambda: services.return_application(application=application, actor=second,
                                            reason="不備"),
        lambda: services.accept_application(application=application, actor=second),
    ])
    winners = [r for r in results if isinstance(r, UsageApplication)]
    assert len(winners) == 1
    assert all(isinstance(r, IllegalTransition) for r in results if r not in winners)
    final = UsageApplication.objects.get(pk=application.pk)
    expected_accounts = application.device_count if final.state == "accepted" else 0
    assert final.device_accounts.count() == expected_accounts
