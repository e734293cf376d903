"""The public list's CSV holds what the search fields say, even when they were changed and not
searched yet."""

import csv
from datetime import date

import pytest

from facilities import services
from tests.factories import accepted_facility

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def _listed(*names):
    """Facilities of these names on the public list: accepted, go-live entered, list rebuilt."""
    for name in names:
        facility, user, _ = accepted_facility(kind="judo")
        facility.name = name
        facility.save()
        services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
    services.rebuild_public_list()


def _download_names(page):
    """Download the CSV of the list's search fields as they are: the names in its rows."""
    with page.expect_download() as download:
        page.get_by_role("button", name="この条件でCSVをダウンロード").click()
    with open(download.value.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.reader(handle))
    return [row[1] for row in rows[1:]]


def test_the_csv_follows_the_fields_as_typed(new_page):
    _listed("あおば整骨院", "さくら整骨院")

    page = new_page()
    page.goto("/public/")
    page.get_by_label("名称・所在地").fill("さくら")  # typed, not searched
    assert _download_names(page) == ["さくら整骨院"]


def test_the_csv_of_a_kana_search_in_the_browser(new_page):
    """Typed in hiragana, the search finds the katakana name; the CSV holds the same row."""
    _listed("アオバ薬局", "さくら整骨院")

    page = new_page()
    page.goto("/public/")
    page.get_by_label("名称・所在地").fill("あおば")
    page.get_by_role("button", name="検索").click()
    assert page.get_by_role("status").inner_text() == "1件"
    assert page.locator("tbody tr").count() == 1
    assert _download_names(page) == ["アオバ薬局"]
