"""Dates far from today: the 和暦 formatter is total (a stored odd date still renders), and the
forms refuse dates outside sensible ranges with a clear message instead of storing them."""

from datetime import date, timedelta

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from eligibility.models import ActivityReport, Program
from facilities.models import GoLive
from portal.notifications import render_email
from portal.wareki import to_wareki
from subsidies import services as subsidy_services
from subsidies.models import Claim, ClaimItem
from tests.confirming import post_confirmed
from tests.factories import FacilityFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "value, expected",
    [
        (date(1926, 12, 25), "昭和元年12月25日"),
        (date(1926, 12, 24), "大正15年12月24日"),
        (date(1912, 7, 30), "大正元年7月30日"),
        (date(1912, 7, 29), "明治45年7月29日"),
        (date(1900, 1, 1), "明治33年1月1日"),
        (date(1868, 1, 25), "明治元年1月25日"),
        (date(1868, 1, 24), "1868年1月24日"),
        (date(1, 1, 1), "1年1月1日"),
        (date(9999, 12, 31), "令和7981年12月31日"),
    ],
)
def test_every_date_has_a_written_form(value, expected):
    assert to_wareki(value) == expected


def test_the_template_filter_writes_any_date():
    template = Template("{% load wareki %}{{ value|wareki }}")
    assert template.render(Context({"value": date(1900, 1, 1)})) == "明治33年1月1日"


def test_the_report_email_renders_a_report_dated_1900():
    facility = FacilityFactory(kind="judo")
    report = ActivityReport(facility=facility, program=Program.objects.get(code="cooperation-2025"),
                            voice=True, flyer=True, activity_from=date(1900, 1, 1),
                            activity_to=date(1900, 1, 2))
    _subject, body = render_email("report_submitted", {
        "facility": facility, "program": report.program, "report": report, "created": True,
    })
    assert "明治33年1月1日" in body


# ---------------------------------------------------------------- forms refuse, pages render

ITEM = {"description": "タブレット端末", "quantity": "1", "unit_price": "42000", "tax": "4200",
        "vendor": "家電店", "purchase_date": "2024-11-01"}
REPORT = {"voice": "on", "flyer": "on", "activity_from": "2025-06-10",
          "activity_to": "2025-07-31"}


@pytest.fixture
def sejutsu(client):
    facility = FacilityFactory(kind="judo")
    client.force_login(make_staff(facility))
    return facility


@pytest.fixture
def claim(client, sejutsu):
    client.post(reverse("subsidies:start", args=[sejutsu.pk, "device-sejutsu"]))
    return Claim.objects.get(facility=sejutsu)


def _tomorrow() -> str:
    return (timezone.localdate() + timedelta(days=1)).isoformat()


@pytest.mark.parametrize("value", ["1926-12-24", "0001-01-01", "2018-12-31", "9999-12-31",
                                   "tomorrow"])
def test_odd_purchase_dates_are_refused_at_the_form(client, sejutsu, claim, value):
    value = _tomorrow() if value == "tomorrow" else value
    url = reverse("subsidies:claim", args=[sejutsu.pk, claim.pk])
    response = client.post(url, {**ITEM, "purchase_date": value})
    body = response.content.decode()
    assert response.status_code == 200
    assert "までの日付を入力してください" in body
    assert not ClaimItem.objects.exists()


def test_the_edit_form_refuses_an_odd_purchase_date(client, sejutsu, claim):
    item = subsidy_services.save_item(claim=claim, data=subsidy_services.ItemInput(
        "端末", 1, 42000, 4200, "店", date(2024, 11, 1)))
    url = reverse("subsidies:item", args=[sejutsu.pk, claim.pk, item.pk])
    response = client.post(url, {**ITEM, "purchase_date": "1926-12-24"})
    assert "までの日付を入力してください" in response.content.decode()
    assert ClaimItem.objects.get().purchase_date == date(2024, 11, 1)


def test_a_stored_odd_purchase_date_still_renders(client, sejutsu, claim):
    item = subsidy_services.save_item(claim=claim, data=subsidy_services.ItemInput(
        "端末", 1, 42000, 4200, "店", date(2024, 11, 1)))
    ClaimItem.objects.filter(pk=item.pk).update(purchase_date=date(1926, 12, 24))
    for url in (reverse("subsidies:claim", args=[sejutsu.pk, claim.pk]),
                reverse("subsidies:confirm", args=[sejutsu.pk, claim.pk]),
                reverse("subsidies:item", args=[sejutsu.pk, claim.pk, item.pk])):
        response = client.get(url)
        assert response.status_code == 200, url
    assert "大正15年12月24日" in client.get(
        reverse("subsidies:claim", args=[sejutsu.pk, claim.pk])).content.decode()


@pytest.mark.parametrize(
    "field, value",
    [("activity_from", "1900-01-01"), ("activity_from", "0001-01-01"),
     ("activity_to", "9999-12-31"), ("activity_from", "2024-12-31"),
     ("activity_to", "2025-11-01")],
)
def test_report_dates_far_from_the_program_period_are_refused(client, sejutsu, field, value):
    GoLive.objects.create(facility=sejutsu, date=date(2025, 6, 1))
    url = reverse("incentives:report", args=[sejutsu.pk, "cooperation-2025"])
    response = client.post(url, {**REPORT, field: value})
    assert response.status_code == 200
    assert "までの日付" in response.content.decode()
    assert not ActivityReport.objects.exists()


@pytest.mark.parametrize("start, end", [("2025-04-01", "2025-07-31"), ("2025-05-01", "2025-08-31")])
def test_report_dates_just_outside_the_period_are_recorded(client, sejutsu, start, end):
    url = reverse("incentives:report", args=[sejutsu.pk, "cooperation-2025"])
    response = post_confirmed(client, url,
                              {**REPORT, "activity_from": start, "activity_to": end})
    assert response.status_code == 302
    assert ActivityReport.objects.get().activity_from.isoformat() == start


def test_a_stored_odd_report_date_still_renders(client, sejutsu):
    ActivityReport.objects.create(
        facility=sejutsu, program=Program.objects.get(code="cooperation-2025"), voice=True,
        flyer=True, activity_from=date(1900, 1, 1), activity_to=date(1900, 1, 2),
    )
    for name in ("incentives:report", "incentives:overview"):
        args = [sejutsu.pk, "cooperation-2025"] if name.endswith("report") else [sejutsu.pk]
        assert client.get(reverse(name, args=args)).status_code == 200


@pytest.mark.parametrize("value", ["0001-01-01", "1868-01-24", "9999-12-31"])
def test_odd_planned_end_dates_are_refused_at_the_form(client, value):
    from facilities.models import UsageApplication
    from tests.factories import accepted_facility

    facility, user, _ = accepted_facility()
    client.force_login(user)
    before = UsageApplication.objects.count()
    response = client.post(reverse("facilities:application_change", args=[facility.pk]), {
        "token": "6f1c1c9e-6a44-4a36-9c55-7a0a3f2b1d11", "contact_name": "担当 花子",
        "founder_name": "開設 太郎", "phone": "03-1111-2222", "email": "tanto@example.jp",
        "end_action": "end", "planned_end_date": value, "submit": "1",
    })
    assert response.status_code == 200
    assert "までの日付を入力してください" in response.content.decode()
    assert UsageApplication.objects.count() == before
