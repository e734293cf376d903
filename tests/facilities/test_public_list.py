import csv
import io
from datetime import date

import pytest
from django.core.management import call_command
from django.urls import reverse

from facilities import services
from tests.factories import accepted_facility

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed():
    result = []
    for kind, prefecture, name in [
        ("judo", "13", "あおば整骨院"), ("pharmacy", "27", "なにわ薬局"), ("judo", "27", "なにわ整骨院"),
    ]:
        facility, user, _ = accepted_facility(kind=kind)
        facility.prefecture, facility.name = prefecture, name
        facility.save()
        services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
        result.append(facility)
    call_command("build_public_list")
    return result


def test_public_list_is_open_to_anyone_and_searchable(client, listed):
    page = client.get(reverse("public:list")).content.decode()
    assert all(f.name in page for f in listed)
    page = client.get(reverse("public:list"), {"prefecture": "27", "kind": "judo"}).content.decode()
    assert "なにわ整骨院" in page and "なにわ薬局" not in page and "あおば整骨院" not in page
    page = client.get(reverse("public:list"), {"name": "あおば"}).content.decode()
    assert "あおば整骨院" in page and "なにわ" not in page.split("<tbody>")[1]
    assert "令和7年6月10日" in page


def test_public_list_csv_has_the_same_rows(client, listed):
    response = client.get(reverse("public:csv"), {"prefecture": "27"})
    assert response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "医療機関等コード・登録記号番号"
    assert sorted(r[1] for r in rows[1:]) == ["なにわ整骨院", "なにわ薬局"]
    assert {r[5] for r in rows[1:]} == {"2025-06-10"}


def test_public_list_ignores_bad_filters(client, listed):
    response = client.get(reverse("public:list"), {"prefecture": "99", "kind": "<script>"})
    assert response.status_code == 200
    assert "<script>" not in response.content.decode().split("<main")[1].split("</form>")[1]


def test_new_golive_appears_only_after_the_weekly_rebuild(client, listed):
    facility, user, _ = accepted_facility()
    facility.name = "しんき整骨院"
    facility.save()
    services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 7, 1))
    assert "しんき整骨院" not in client.get(reverse("public:list")).content.decode()
    call_command("build_public_list")
    assert "しんき整骨院" in client.get(reverse("public:list")).content.decode()


def test_the_csv_button_sends_the_search_fields_as_they_are(client, listed):
    """The CSV control is a second submit button of the search form (formaction): it takes
    the fields as typed, searched or not, and never a stale query."""
    page = client.get(reverse("public:list"), {"prefecture": "27"}).content.decode()
    form = page.split('<form method="get" role="search">')[1].split("</form>")[0]
    assert f'formaction="{reverse("public:csv")}"' in form
    assert 'name="prefecture"' in form and 'name="kind"' in form and 'name="name"' in form
    # What the browser sends when the button is pressed: every field of the form.
    response = client.get(reverse("public:csv"),
                          {"prefecture": "27", "kind": "judo", "name": ""})
    rows = list(csv.reader(io.StringIO(
        b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert [row[1] for row in rows[1:]] == ["なにわ整骨院"]


# ---------------------------------------------------------------- search, pages, counts


@pytest.fixture
def kana_listed():
    """Names as facilities write them: katakana, hiragana, half-width katakana, full-width
    letters; the codes are the facilities' own."""
    result = {}
    for kind, prefecture, name, address in [
        ("pharmacy", "13", "アオバ薬局", "千代田区1-1"),
        ("judo", "13", "さくら整骨院", "港区2-2"),
        ("clinic", "27", "ｻｸﾗ クリニック", "大阪市北区3-3"),
        ("dental", "27", "ＡＢＣ歯科 100%_院", "堺市4-4"),
    ]:
        facility, user, _ = accepted_facility(kind=kind)
        facility.prefecture, facility.name, facility.address = prefecture, name, address
        facility.save()
        services.set_golive_date(user=user, facility=facility, golive_date=date(2025, 6, 10))
        result[name] = facility
    services.rebuild_public_list()
    return result


def _names(client, **query) -> list[str]:
    response = client.get(reverse("public:list"), query)
    assert response.status_code == 200
    page = response.content.decode()
    if "<tbody>" not in page:
        return []
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [row.split("<td>")[1].split("</td>")[0] for row in body.split("<tr>")[1:]]


def _csv_names(client, **query) -> list[str]:
    response = client.get(reverse("public:csv"), query)
    assert response.streaming
    rows = list(csv.reader(io.StringIO(
        b"".join(response.streaming_content).decode("utf-8-sig"))))
    return [row[1] for row in rows[1:]]


def test_hiragana_finds_katakana_and_the_other_way_round(client, kana_listed):
    assert _names(client, name="あおば") == ["アオバ薬局"]
    assert _names(client, name="ｱｵﾊﾞ") == ["アオバ薬局"]
    assert _names(client, name="サクラ") == ["さくら整骨院", "ｻｸﾗ クリニック"]
    assert _names(client, name="さくら くりにっく") == ["ｻｸﾗ クリニック"]  # every word
    assert _names(client, name="abc") == ["ＡＢＣ歯科 100%_院"]  # width and case
    assert _names(client, name="東京都 千代田") == ["アオバ薬局"]  # prefecture and address
    # A word never spans the name and the address.
    assert _names(client, name="薬局千代田") == []


def test_like_wildcards_are_plain_characters(client, kana_listed):
    assert _names(client, name="%") == ["ＡＢＣ歯科 100%_院"]
    assert _names(client, name="_") == ["ＡＢＣ歯科 100%_院"]
    assert _names(client, name="100%_") == ["ＡＢＣ歯科 100%_院"]
    assert _names(client, name="a%c") == []


def test_code_searches_from_the_start_in_any_width(client, kana_listed):
    code = kana_listed["さくら整骨院"].code
    assert _names(client, code=code) == ["さくら整骨院"]
    width = str.maketrans("0123456789", "０１２３４５６７８９")
    assert _names(client, code=code.translate(width)) == ["さくら整骨院"]
    assert "さくら整骨院" in _names(client, code=code[:4])
    assert "さくら整骨院" not in _names(client, code=code[1:])  # from the start only
    assert _names(client, code="%") == [] and _names(client, code="_") == []


def test_prefecture_and_combination(client, kana_listed):
    assert sorted(_names(client, prefecture="27")) == sorted(["ｻｸﾗ クリニック", "ＡＢＣ歯科 100%_院"])
    assert _names(client, prefecture="13", name="さくら") == ["さくら整骨院"]
    assert _names(client, prefecture="27", name="さくら", kind="clinic") == ["ｻｸﾗ クリニック"]
    assert _names(client, prefecture="27", name="さくら", kind="judo") == []


def test_no_match_says_so(client, kana_listed):
    page = client.get(reverse("public:list"), {"name": "存在しない施設"}).content.decode()
    assert '<p role="status">0件</p>' in page
    assert "該当する施設はありません。" in page and "<tbody>" not in page


def test_the_csv_streams_the_same_rows_as_the_page(client, kana_listed):
    for query in ({}, {"name": "さくら"}, {"prefecture": "27"}, {"name": "ｱｵﾊﾞ", "kind": "pharmacy"},
                  {"code": kana_listed["アオバ薬局"].code}):
        assert _csv_names(client, **query) == _names(client, **query), query


def test_the_csv_format_is_unchanged(client, kana_listed):
    response = client.get(reverse("public:csv"), {"name": "あおば"})
    assert response.streaming
    assert response["Content-Disposition"] == 'attachment; filename="myna-facilities.csv"'
    facility = kana_listed["アオバ薬局"]
    assert b"".join(response.streaming_content) == (
        "\ufeff医療機関等コード・登録記号番号,名称,種別,都道府県,所在地,運用開始日\r\n"
        f"{facility.code},アオバ薬局,薬局,東京都,千代田区1-1,2025-06-10\r\n").encode()


@pytest.mark.parametrize("name", [
    "あ" * 10_000, "\x01\x02\x1f", "%", "_", "%%__", "' OR 1=1 --", "\\", "[a-z]*", "🏥",
])
def test_long_or_odd_input_gives_a_normal_page(client, kana_listed, name):
    response = client.get(reverse("public:list"), {"name": name, "code": name[:30]})
    assert response.status_code == 200
    page = response.content.decode()
    assert '<p role="status"' in page
    csv_response = client.get(reverse("public:csv"), {"name": name})
    assert csv_response.status_code == 200
    if not csv_response.streaming:  # refused: the list page with the error, not every row
        assert len(name) > 100
        assert "検索条件に誤りがあります" in csv_response.content.decode()


def test_a_refused_search_lists_nothing_under_its_error(client, kana_listed):
    page = client.get(reverse("public:list"), {"name": "あ" * 101}).content.decode()
    assert "検索条件に誤りがあります" in page and 'class="error"' in page
    assert "<tbody>" not in page


def test_pages_by_key_cover_the_list_once_and_the_count_is_capped(client, kana_listed,
                                                                  monkeypatch):
    from facilities import selectors

    monkeypatch.setattr(selectors, "PUBLIC_PAGE_SIZE", 1)
    monkeypatch.setattr(selectors, "PUBLIC_COUNT_CAP", 2)
    everything = _csv_names(client)
    seen, query = [], {}
    for _ in range(10):
        result = selectors.public_list_page(**query)
        seen += [entry.name for entry in result.entries]
        if not result.next_key:
            break
        query = {"after": result.next_key}
    assert seen == everything and len(seen) == 4
    # Back from the last page by `before` gives the pages in reverse.
    back = selectors.public_list_page(before=selectors.public_page_key(
        selectors.facilities_listed_publicly().last()))
    assert [e.name for e in back.entries] == everything[-2:-1] and back.previous_key
    # The whole list's count is the snapshot's; a broad search says 「N件以上」.
    assert selectors.public_list_page().count == 4
    searched = selectors.public_list_page(name="区")  # three addresses
    assert (searched.count, searched.count_is_floor) == (2, True)
    page = client.get(reverse("public:list"), {"name": "区"}).content.decode()
    assert "2件以上" in page and 'rel="next"' in page
    # A forged or stale key is the first page, never an error.
    assert client.get(reverse("public:list"), {"after": "99:x' OR 1=1"}).status_code == 200
    assert selectors.public_list_page(after="zz").is_first
