"""The 協力金 report form states the period this facility may report before any submit: from
its own go-live date (when later than the period's start) to the period's end."""

from datetime import date

import pytest
from django.urls import reverse

from facilities import services
from tests.confirming import post_confirmed
from tests.factories import accepted_facility

pytestmark = pytest.mark.django_db


def _report_page(client, golive=None) -> str:
    facility, user, _ = accepted_facility(kind="judo")
    if golive:
        services.set_golive_date(user=user, facility=facility, golive_date=golive)
    client.force_login(user)
    url = reverse("incentives:report", args=[facility.pk, "cooperation-2025"])
    return client.get(url).content.decode().split("<main", 1)[1]


def test_a_facility_live_after_the_start_reports_from_its_go_live_date(client):
    page = _report_page(client, golive=date(2025, 6, 10))
    assert "この施設が報告できる期間: 令和7年6月10日（この施設の運用開始日）から令和7年7月31日まで" in page
    assert page.count("報告できる期間") == 3  # above the form and on both date fields


def test_a_facility_live_before_the_start_reports_the_whole_period(client):
    page = _report_page(client, golive=date(2025, 1, 6))
    assert "この施設が報告できる期間: 令和7年5月1日から令和7年7月31日まで" in page


def test_the_report_takes_wareki_dates(client):
    from eligibility.models import ActivityReport

    facility, user, _ = accepted_facility(kind="judo")
    client.force_login(user)
    url = reverse("incentives:report", args=[facility.pk, "cooperation-2025"])
    response = post_confirmed(client, url, {"voice": "on", "flyer": "on",
                                            "activity_from": "R7.6.10",
                                            "activity_to": "令和7年7月31日"})
    assert response.status_code == 302
    report = ActivityReport.objects.get(facility=facility)
    assert (report.activity_from, report.activity_to) == (date(2025, 6, 10), date(2025, 7, 31))
