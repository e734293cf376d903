"""The public list's CSV holds what the search fields say, even when they were changed and not
searched yet."""

import csv
from datetime import date

import pytest

from facilities import services
from tests.factories import accepted_facility

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_the_csv_follows_the_fields_as_typed(new_page):
    for name in ("あおば整骨院", "さくら整骨院"):
        facility, user, _ = accepted_facility(kind="judo")
        facility.name = name
        facility.save()
        services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    services.rebuild_public_list()

    page = new_page()
    page.goto("/public/")
    page.get_by_label("名称・所在地").fill("さくら")  # typed, not searched
    with page.expect_download() as download:
        page.get_by_role("button", name="この条件でCSVをダウンロード").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[1] for row in rows[1:]] == ["さくら整骨院"]


def test_the_csv_of_a_kana_search_in_the_browser(new_page):
    """Typed in hiragana, the search finds the katakana name; the CSV holds the same row."""
    for name in ("アオバ薬局", "さくら整骨院"):
        facility, user, _ = accepted_facility(kind="judo")
        facility.name = name
        facility.save()
        services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    services.rebuild_public_list()

    page = new_page()
    page.goto("/public/")
    page.get_by_label("名称・所在地").fill("あおば")
    page.get_by_role("button", name="検索").click()
    assert page.get_by_role("status").inner_text() == "1件"
    assert page.locator("tbody tr").count() == 1
    with page.expect_download() as download:
        page.get_by_role("button", name="この条件でCSVをダウンロード").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    assert [row[1] for row in rows[1:]] == ["アオバ薬局"]
