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


def _report(client, golive, **dates):
    facility, user, _ = accepted_facility(kind="judo")
    services.set_golive_date(user=user, facility=facility, golive_date=golive)
    client.force_login(user)
    url = reverse("incentives:report", args=[facility.pk, "cooperation-2025"])
    response = post_confirmed(client, url, {"voice": "on", "flyer": "on", **dates})
    return facility, response


def test_a_report_outside_the_period_is_saved_with_a_warning_naming_why(client):
    """Not a green 「登録しました」 above a ✗ (docs/decisions.md D5.1.4)."""
    from eligibility.models import ActivityReport

    facility, response = _report(client, date(2025, 6, 10), activity_from="2025-08-01",
                                 activity_to="2025-08-31")
    assert response.status_code == 302
    assert response["Location"] == reverse("incentives:report",
                                           args=[facility.pk, "cooperation-2025"])
    page = client.get(response["Location"]).content.decode()
    assert "message-success" not in page
    warning = page.split('class="message message-warning"', 1)[1].split("</p>", 1)[0]
    assert "支給対象になりません" in warning
    assert "令和7年6月10日〜令和7年7月31日の間であること" in warning
    assert ActivityReport.objects.filter(facility=facility).exists()


def test_a_report_that_qualifies_is_a_success(client):
    _facility, response = _report(client, date(2025, 6, 10), activity_from="2025-06-10",
                                  activity_to="2025-07-31")
    page = client.get(response["Location"]).content.decode()
    assert "message-success" in page and "取組の実施報告を登録しました。" in page
    assert "message-warning" not in page
