"""Two admin pages that used to answer 500, now refusals next to their field
(docs/architecture.md#layers): a crontab schedule with a value celery's parser cannot read
(minute -1: `ParseException` once saved), and a membership row whose user is not a number
(`ValueError` from `RowAutocompleteSelect`)."""

import pytest
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule

from facilities.models import Membership
from tests.facilities.test_main_facility import _change_form_data
from tests.factories import FacilityFactory, UserFactory

pytestmark = pytest.mark.django_db

EVERY_MINUTE = {"minute": "*", "hour": "*", "day_of_month": "*", "month_of_year": "*",
                "day_of_week": "*", "timezone": "Asia/Tokyo",
                # the schedule's page lists its periodic tasks (an inline without rows)
                "periodictask_set-TOTAL_FORMS": "0", "periodictask_set-INITIAL_FORMS": "0"}


@pytest.mark.parametrize(("field", "value"), [
    ("minute", "-1"), ("minute", "60"), ("minute", "*/0"), ("minute", "5-1"), ("minute", "1-"),
    ("minute", "a"), ("hour", "24"), ("hour", "-3"), ("day_of_month", "0"),
    ("day_of_month", "32"), ("month_of_year", "13"), ("day_of_week", "8"),
    ("day_of_week", "-1"),
])
def test_a_crontab_value_celery_cannot_read_is_an_error_next_to_its_field(admin_client, field,
                                                                          value):
    response = admin_client.post(reverse("admin:django_celery_beat_crontabschedule_add"),
                                 {**EVERY_MINUTE, field: value})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors[field]
    assert not CrontabSchedule.objects.exists()


def test_a_day_no_month_has_is_refused_and_a_good_schedule_is_saved_and_listed(admin_client):
    url = reverse("admin:django_celery_beat_crontabschedule_add")
    response = admin_client.post(url, {**EVERY_MINUTE, "day_of_month": "30",
                                       "month_of_year": "2"})
    assert response.status_code == 200
    assert "実在しません" in " ".join(response.context["adminform"].form.errors["day_of_month"])
    assert not CrontabSchedule.objects.exists()
    response = admin_client.post(url, {**EVERY_MINUTE, "minute": "0,30", "hour": "3",
                                       "day_of_week": "mon-fri"})
    assert response.status_code == 302
    assert CrontabSchedule.objects.get().minute == "0,30"
    assert admin_client.get(
        reverse("admin:django_celery_beat_crontabschedule_changelist")).status_code == 200


@pytest.mark.parametrize("value", ["abc", "1e9", "１", "-", str(2**70)])
def test_a_membership_row_with_a_user_that_is_not_a_number_is_refused_next_to_it(
        admin_client, value):
    facility = FacilityFactory(kind="judo")
    staff = UserFactory()
    Membership.objects.create(user=staff, facility=facility)
    url = reverse("admin:facilities_facility_change", args=[facility.pk])
    data = _change_form_data(admin_client, url)
    data.update({"memberships-0-user": value, "memberships-1-user": value,
                 "memberships-1-id": "", "memberships-1-facility": facility.pk,
                 "memberships-TOTAL_FORMS": "2"})
    response = admin_client.post(url, data)
    assert response.status_code == 200
    rows = response.context["inline_admin_formsets"][0].formset.forms
    assert rows[0].errors["user"] and rows[1].errors["user"]
    assert list(Membership.objects.values_list("user_id", "facility_id")) == [
        (staff.pk, facility.pk)]
