"""Typed dates (docs/domain.md §9): ISO in any width or 和暦, in one box; impossible dates refused
with a Japanese reason."""

from datetime import date

import pytest

from portal.forms import ISODateField
from portal.wareki import DateParseError, parse_date


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("2025-06-10", date(2025, 6, 10)),
        ("2025-6-10", date(2025, 6, 10)),
        ("2025/06/10", date(2025, 6, 10)),
        ("2025.6.10", date(2025, 6, 10)),
        ("20250610", date(2025, 6, 10)),
        ("２０２５－０６－１０", date(2025, 6, 10)),
        ("２０２５／６／１０", date(2025, 6, 10)),
        ("2025年6月10日", date(2025, 6, 10)),
        (" 2025-06-10 ", date(2025, 6, 10)),
        ("令和7年6月10日", date(2025, 6, 10)),
        ("令和７年６月１０日", date(2025, 6, 10)),
        ("令和 7年 6月 10日", date(2025, 6, 10)),
        ("R7.6.10", date(2025, 6, 10)),
        ("r7.6.10", date(2025, 6, 10)),
        ("Ｒ７．６．１０", date(2025, 6, 10)),
        ("R7/6/10", date(2025, 6, 10)),
        ("令7.6.10", date(2025, 6, 10)),
        ("令和元年5月1日", date(2019, 5, 1)),
        ("R1.5.1", date(2019, 5, 1)),
        ("㋿7年6月10日", date(2025, 6, 10)),
        ("H31.4.30", date(2019, 4, 30)),
        ("平成31年4月30日", date(2019, 4, 30)),
        ("平31.4.30", date(2019, 4, 30)),
        ("平成元年1月8日", date(1989, 1, 8)),
        ("S64.1.7", date(1989, 1, 7)),
    ],
)
def test_accepted_forms(typed, expected):
    assert parse_date(typed) == expected


@pytest.mark.parametrize(
    "typed, reason",
    [
        ("2025-02-30", "2025年2月に30日はありません"),
        ("2025-13-01", "という日付はありません"),
        ("0000-01-01", "という日付はありません"),
        ("令和7年2月29日", "2025年2月に29日はありません"),
        ("令和0年6月10日", "令和0年はありません"),
        ("R0.6.10", "令和0年はありません"),
        ("平成31年5月1日", "平成は平成31年4月30日（2019-04-30）までです"),
        ("H31.5.1", "平成31年4月30日"),
        ("令和1年4月30日", "令和は令和元年5月1日（2019-05-01）からです"),
        ("S64.1.8", "昭和64年1月7日"),
        ("2025-06", "2025-06-10 または 令和7年6月10日"),
        ("昨日", "2025-06-10 または 令和7年6月10日"),
        ("X7.6.10", "2025-06-10 または 令和7年6月10日"),
    ],
)
def test_refused_forms_say_why(typed, reason):
    with pytest.raises(DateParseError) as caught:
        parse_date(typed)
    assert reason in str(caught.value)


def test_the_field_reads_wareki_and_puts_the_reason_on_the_form():
    field = ISODateField()
    assert field.clean("R7.6.10") == date(2025, 6, 10)
    with pytest.raises(Exception) as caught:
        field.clean("平成31年5月1日")
    assert "平成31年4月30日" in " ".join(caught.value.messages)


def test_the_field_renders_one_text_box_and_a_calendar_button():
    html = ISODateField().widget.render("d", date(2025, 6, 10), attrs={"id": "id_d"})
    assert html.count('type="text"') == 1
    assert 'value="2025-06-10"' in html
    assert "カレンダーから選ぶ" in html
    # The native picker is only the calendar's engine: out of the tab order and unseen.
    assert 'type="date"' in html and 'tabindex="-1"' in html and 'aria-hidden="true"' in html
