"""Values in the admin as officers read them (portal/admin_values.py): yen with separators and
円, months as 2023年10月, every value in Japanese, one date format on a payout run's page."""

import re
from datetime import date

import pytest
from django.apps import apps
from django.contrib import admin
from django.db import models
from django.urls import reverse

from eligibility.models import MonthlyStatistic
from facilities.models import LinkAttempt
from portal import roles
from portal.admin_values import format_month, value_kind
from tests.factories import FacilityFactory, claim_under_review, login_admin, make_admin

pytestmark = pytest.mark.django_db


def test_every_amount_field_is_read_as_yen():
    """A field that holds yen is recognised by its verbose name (「（円）」): none is missed."""
    missed = [f"{model._meta.label}.{field.name}"
              for model in apps.get_models() for field in model._meta.concrete_fields
              if isinstance(field, models.IntegerField)
              and ("amount" in field.name or field.name.endswith("_yen"))
              and not model._meta.label.startswith("django_celery_beat")
              and value_kind(field) != "yen"]
    assert not missed, missed


def test_months_are_written_without_a_day():
    assert format_month(date(2023, 10, 1)) == "2023年10月"
    assert format_month(None) == ""
    assert value_kind(MonthlyStatistic._meta.get_field("month")) == "month"


def test_the_claims_list_and_page_write_yen(admin_client):
    claim = claim_under_review()
    assert claim.computed_amount == 33000
    page = admin_client.get(reverse("admin:subsidies_claim_changelist")).content.decode()
    assert "33,000円" in page and ">33000<" not in page
    detail = admin_client.get(reverse("admin:subsidies_claim_change", args=[claim.pk]))
    assert "33,000円" in detail.content.decode()


def test_a_read_only_amount_is_formatted_and_stays_out_of_the_form(admin_client):
    from eligibility.models import Determination

    model_admin = admin.site._registry[Determination]
    request = type("R", (), {"user": make_admin(superuser=True)})()
    readonly = model_admin.get_readonly_fields(request, None)
    assert "amount" in readonly and "formatted_amount" in readonly
    shown = [name for _title, options in model_admin.get_fieldsets(request, None)
             for name in options["fields"]]
    assert "formatted_amount" in shown and "amount" not in shown


def test_a_month_is_written_without_its_day(admin_client):
    MonthlyStatistic.objects.create(facility=FacilityFactory(), month=date(2023, 10, 1),
                                    receipts=120)
    page = admin_client.get(
        reverse("admin:eligibility_monthlystatistic_changelist")).content.decode()
    assert "2023年10月" in page and "2023年10月1日" not in page


def test_link_attempt_results_are_in_japanese(admin_client):
    facility = FacilityFactory()
    attempt = LinkAttempt.objects.create(user=make_admin(), code_entered=facility.code,
                                         facility=facility, reason="last4_mismatch")
    page = admin_client.get(
        reverse("admin:facilities_linkattempt_change", args=[attempt.pk])).content.decode()
    assert "口座番号下4桁の不一致" in page and "last4_mismatch" not in page


def test_the_schedules_are_in_japanese(admin_client):
    page = admin_client.get(reverse("admin:index")).content.decode()
    assert "Periodic" not in page and "定期実行タスク" in page
    tasks = admin_client.get(
        reverse("admin:django_celery_beat_periodictask_changelist")).content.decode()
    assert "Periodic" not in tasks and "定期実行タスク" in tasks


def test_a_payout_run_page_writes_its_dates_one_way(client):
    from payouts import services
    from tests.payouts.helpers import lump_sum, officers, payables, transfer_day

    creator, _releaser = officers()
    payables(2, amount=100_000)
    run = services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                              actor=creator)
    login_admin(client, make_admin(roles.PAYOUT_OFFICER))
    page = client.get(reverse("admin:payouts_payoutrun_change", args=[run.pk])).content.decode()
    day = run.transfer_date
    assert f"{day.year}年{day.month}月{day.day}日" in page
    assert day.isoformat() not in page
    assert not re.search(r"令和\d+年", page)
