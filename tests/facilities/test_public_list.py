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
