import uuid
from datetime import date, timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.utils import timezone

from facilities import selectors, services
from facilities.models import (
    Activity,
    ApplicationKind,
    ApplicationState,
    Channel,
    DeviceAccount,
    EndAction,
    GoLive,
    UsageApplication,
    UsageStatus,
)
from portal.errors import IllegalTransition, ServiceError
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    accepted_facility,
    application_input,
    make_staff,
    submit_start,
)

pytestmark = pytest.mark.django_db


# ---------------------------------------------------------------- applications


def test_start_application_gets_receipt_number_history_and_email(
    django_capture_on_commit_callbacks,
):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    with django_capture_on_commit_callbacks(execute=True):
        application = submit_start(facility, user)
    assert application.receipt_number.startswith("A")
    assert application.receipt_number.endswith(f"-{application.pk:07d}")
    activity = Activity.objects.get(verb="application_submitted")
    assert activity.receipt_number == application.receipt_number
    assert activity.actor == user
    assert {to for m in mail.outbox for to in m.to} >= {user.email, "tanto@example.jp"}
    assert selectors.usage_status(facility) == UsageStatus.APPLIED


def test_same_token_twice_makes_one_application():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    token = uuid.uuid4()
    first = services.submit_usage_application(
        user=user, facility=facility, kind=ApplicationKind.START, data=application_input(),
        token=token,
    )
    second = services.submit_usage_application(
        user=user, facility=facility, kind=ApplicationKind.START, data=application_input(),
        token=token,
    )
    assert first.pk == second.pk
    assert UsageApplication.objects.count() == 1


def test_second_open_start_application_is_refused():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    submit_start(facility, user)
    with pytest.raises(ServiceError, match="審査中"):
        submit_start(facility, user)


def test_accept_creates_one_account_per_device_with_unique_ids():
    facility, _user, _admin = accepted_facility(devices=3)
    accounts = list(DeviceAccount.objects.filter(facility=facility))
    assert [a.number for a in accounts] == [1, 2, 3]
    assert len({a.login_id for a in accounts}) == 3
    assert all(a.login_id.startswith(facility.institution_code) for a in accounts)
    assert all(a.password_hash == "" for a in accounts)  # nothing issued yet
    assert selectors.usage_status(facility) == UsageStatus.AVAILABLE


def test_institution_code_of_a_sejutsu_has_a_valid_check_digit():
    from facilities.codes import luhn_check_digit

    facility = FacilityFactory(kind="judo", prefecture="27")
    code = facility.institution_code
    assert len(code) == 10 and code.startswith("279")
    assert luhn_check_digit(code[:9]) == int(code[9])


@pytest.mark.parametrize(
    "path, allowed",
    [
        (["accept"], True),
        (["return"], True),
        (["second_check", "accept"], True),
        (["second_check", "return"], True),
        (["accept", "accept"], False),
        (["accept", "return"], False),
        (["return", "accept"], False),
        (["second_check", "second_check"], False),
        (["accept", "second_check"], False),
    ],
)
def test_application_state_machine(path, allowed):
    facility = FacilityFactory(kind="judo")
    application = submit_start(facility, make_staff(facility))
    # Each step by another administrator: the acceptance after a second check must be.
    moves = {
        "accept": lambda a: services.accept_application(application=a, actor=AdminFactory()),
        "return": lambda a: services.return_application(application=a, actor=AdminFactory(),
                                                        reason="不備"),
        "second_check": lambda a: services.start_second_check(application=a,
                                                              actor=AdminFactory()),
    }
    *legal, last = path
    for move in legal:
        application = moves[move](application)
    if allowed:
        moves[last](application)
    else:
        state_before = UsageApplication.objects.get(pk=application.pk).state
        with pytest.raises(IllegalTransition):
            moves[last](application)
        assert UsageApplication.objects.get(pk=application.pk).state == state_before


def test_second_check_is_never_shown_to_the_facility():
    facility = FacilityFactory(kind="judo")
    application = submit_start(facility, make_staff(facility))
    application = services.start_second_check(application=application, actor=AdminFactory())
    assert application.state == ApplicationState.SECOND_CHECK
    assert application.facility_state_label == "申請中"
    assert not selectors.history_for(facility=facility).filter(verb="application_second_check")
    assert Activity.objects.filter(verb="application_second_check").exists()


def test_return_needs_a_reason_and_allows_a_new_application():
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    application = submit_start(facility, user)
    with pytest.raises(ServiceError):
        services.return_application(application=application, actor=AdminFactory(), reason=" ")
    services.return_application(application=application, actor=AdminFactory(), reason="台数の確認")
    again = submit_start(facility, user)
    assert again.pk != application.pk


def test_change_application_adds_and_ends_devices_and_sets_end_date():
    facility, user, admin = accepted_facility(devices=2)
    change = services.submit_usage_application(
        user=user, facility=facility, kind=ApplicationKind.CHANGE,
        data=application_input(device_count=4, staff_count=None), token=uuid.uuid4(),
    )
    services.accept_application(application=change, actor=admin)
    assert DeviceAccount.objects.filter(facility=facility, is_active=True).count() == 4

    end = timezone.localdate() + timedelta(days=30)
    change = services.submit_usage_application(
        user=user, facility=facility, kind=ApplicationKind.CHANGE,
        data=application_input(device_count=1, staff_count=None, end_action=EndAction.END,
                               planned_end_date=end),
        token=uuid.uuid4(),
    )
    services.accept_application(application=change, actor=admin)
    active = DeviceAccount.objects.filter(facility=facility, is_active=True)
    assert list(active.values_list("number", flat=True)) == [1]
    assert selectors.planned_end_date(facility) == end
    assert selectors.usage_status(facility) == UsageStatus.ENDING

    cancel = services.submit_usage_application(
        user=user, facility=facility, kind=ApplicationKind.CHANGE,
        data=application_input(device_count=None, staff_count=None,
                               end_action=EndAction.CANCEL),
        token=uuid.uuid4(),
    )
    services.accept_application(application=cancel, actor=admin)
    assert selectors.planned_end_date(facility) is None
    assert selectors.usage_status(facility) == UsageStatus.AVAILABLE


def test_change_before_acceptance_is_refused():
    facility = FacilityFactory(kind="judo")
    with pytest.raises(ServiceError, match="承認後"):
        services.submit_usage_application(
            user=make_staff(facility), facility=facility, kind=ApplicationKind.CHANGE,
            data=application_input(device_count=3), token=uuid.uuid4(),
        )


def test_postal_application_sets_golive_to_the_registration_date():
    facility = FacilityFactory(kind="acupuncture")
    admin = AdminFactory()
    application = services.register_postal_application(
        actor=admin, facility=facility, data=application_input()
    )
    assert application.channel == Channel.POST
    golive = GoLive.objects.get(facility=facility)
    assert golive.date == timezone.localdate()
    assert golive.source == GoLive.Source.POST


# ---------------------------------------------------------------- credentials


def test_credentials_are_returned_once_and_only_their_hashes_kept():
    facility, user, _admin = accepted_facility(devices=1)
    account = DeviceAccount.objects.get(facility=facility)

    first = services.issue_device_credentials(account=account, actor=user)
    account.refresh_from_db()
    assert first.password not in account.password_hash
    assert check_password(first.password, account.password_hash)
    assert check_password(first.activation_code, account.activation_code_hash)

    second = services.issue_device_credentials(account=account, actor=user)
    account.refresh_from_db()
    assert not check_password(first.password, account.password_hash)
    assert check_password(second.password, account.password_hash)
    assert account.issue_count == 2
    history = account.history.all()
    assert all(not hasattr(h, "password_hash") for h in history)


def test_ended_account_gets_no_credentials():
    facility, user, _admin = accepted_facility(devices=1)
    account = DeviceAccount.objects.get(facility=facility)
    account.is_active = False
    account.save()
    with pytest.raises(ServiceError):
        services.issue_device_credentials(account=account, actor=user)


# ---------------------------------------------------------------- go-live


def test_golive_before_acceptance_is_refused():
    facility = FacilityFactory(kind="judo")
    with pytest.raises(ServiceError, match="承認された後"):
        services.set_golive_date(user=make_staff(facility), facility=facility,
                                 golive_date=date(2025, 6, 1))
    assert not GoLive.objects.exists()


@pytest.mark.parametrize("days", [367, 10_000])
def test_golive_too_far_ahead_is_refused(days):
    facility, user, _ = accepted_facility()
    with pytest.raises(ServiceError):
        services.set_golive_date(user=user, facility=facility,
                                 golive_date=timezone.localdate() + timedelta(days=days))


def test_golive_is_editable_and_each_change_is_recorded():
    facility, user, _ = accepted_facility()
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 7, 1))
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)
    summaries = list(Activity.objects.filter(verb="golive_set").values_list("summary", flat=True))
    assert len(summaries) == 2
    assert "令和7年7月1日 → 令和7年6月10日" in summaries[0]
    assert GoLive.objects.get(facility=facility).history.count() == 2


# ---------------------------------------------------------------- public list


def test_public_list_holds_exactly_the_facilities_with_a_golive_date():
    live, user, _ = accepted_facility()
    services.set_golive_date(user=user, facility=live, golive_date=date(2025, 6, 10))
    accepted_facility()  # accepted, no date: not listed
    build = services.rebuild_public_list()
    assert build.entry_count == 1
    assert [e.facility_id for e in selectors.facilities_listed_publicly()] == [live.pk]
    assert services.rebuild_public_list().entry_count == 1  # re-runnable, no duplicates
