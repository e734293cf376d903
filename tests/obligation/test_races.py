"""Two requests at the same moment on the obligation's records: a declaration submitted twice
from two browsers, two 施術所 claiming the same subordinate, crossing proposals, and a
pairing confirmed twice. PostgreSQL with real threads (row locks); skipped on SQLite, and in
CI a missing PostgreSQL fails them."""

import uuid
from datetime import date

import pytest

from facilities.models import Facility
from obligation import services
from obligation.models import AnnexPairing, ExemptionDeclaration, PairingState
from obligation.rules import Practitioner
from portal.errors import ServiceError
from tests.concurrency import run_in_parallel
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _obligation_parameters(migration_data):
    """The obligation's dates are parameters of the program "obligation" (docs/domain.md §7), made
    by a data migration that an earlier transactional test's flush removed."""

ELDERLY = Practitioner(birth_date=date(1950, 1, 1), full_time=True, name="施術者甲")


def _declaration() -> services.DeclarationInput:
    return services.DeclarationInput(reason="1-1", contact_name="担当者",
                                     practitioners=(ELDERLY,))


def test_two_declarations_at_once_store_one_and_refuse_the_other(postgres):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    outcomes = run_in_parallel([
        lambda: services.declare_exemption(user=staff, facility=facility, data=_declaration(),
                                           token=uuid.uuid4())
        for _ in range(4)
    ])
    stored = [o for o in outcomes if isinstance(o, ExemptionDeclaration)]
    refused = [o for o in outcomes if isinstance(o, ServiceError)]
    assert len(stored) == 1 and len(refused) == 3, outcomes
    assert ExemptionDeclaration.objects.filter(facility=facility).count() == 1


def test_the_same_submission_twice_at_once_is_one_declaration(postgres):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    token = uuid.uuid4()
    outcomes = run_in_parallel([
        lambda: services.declare_exemption(user=staff, facility=facility, data=_declaration(),
                                           token=token)
        for _ in range(3)
    ])
    assert all(isinstance(o, ExemptionDeclaration) for o in outcomes), outcomes
    assert len({o.pk for o in outcomes}) == 1
    assert ExemptionDeclaration.objects.filter(facility=facility).count() == 1


def test_two_mains_claiming_one_subordinate_at_once_leave_one_proposal(postgres):
    subordinate = FacilityFactory(kind="judo")
    mains = [FacilityFactory(kind="judo") for _ in range(3)]
    staffs = [make_staff(main) for main in mains]
    outcomes = run_in_parallel([
        lambda main=main, staff=staff: services.propose_annex(
            user=staff, facility=main, partner=subordinate, facility_is_main=True)
        for main, staff in zip(mains, staffs, strict=True)
    ])
    assert sum(isinstance(o, AnnexPairing) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, ServiceError) for o in outcomes) == 2
    assert AnnexPairing.objects.filter(subordinate=subordinate).count() == 1


def test_crossing_proposals_at_once_leave_one_direction(postgres):
    """A proposes A→B while B proposes B→A: both would be allowed alone; together they
    would make each the other's main (the facility rows are locked in one order)."""
    a, b = FacilityFactory(kind="judo"), FacilityFactory(kind="ama")
    staff_a, staff_b = make_staff(a), make_staff(b)
    outcomes = run_in_parallel([
        lambda: services.propose_annex(user=staff_a, facility=a, partner=b,
                                       facility_is_main=True),
        lambda: services.propose_annex(user=staff_b, facility=b, partner=a,
                                       facility_is_main=True),
    ])
    assert sum(isinstance(o, AnnexPairing) for o in outcomes) == 1, outcomes
    assert AnnexPairing.objects.count() == 1


def test_a_pairing_confirmed_twice_at_once_is_confirmed_once(postgres):
    main, subordinate = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
    pairing = services.propose_annex(user=make_staff(main), facility=main,
                                     partner=subordinate, facility_is_main=True)
    responders = [make_staff(subordinate) for _ in range(3)]
    outcomes = run_in_parallel([
        lambda user=user: services.confirm_annex(pairing=pairing, actor=user)
        for user in responders
    ])
    assert sum(isinstance(o, AnnexPairing) for o in outcomes) == 1, outcomes
    assert sum(isinstance(o, ServiceError) for o in outcomes) == 2
    pairing.refresh_from_db()
    assert pairing.state == PairingState.ACTIVE
    assert Facility.objects.get(pk=subordinate.pk).main_facility_id == main.pk
    # One history entry per side for the confirmation, not three.
    assert subordinate.activities.filter(verb="annex_active").count() == 1
