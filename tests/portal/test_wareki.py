from datetime import UTC, date, datetime

import pytest
from django.template import Context, Template

from portal.wareki import to_wareki


@pytest.mark.parametrize(
    "value, expected",
    [
        (date(2025, 5, 1), "令和7年5月1日"),
        (date(2019, 5, 1), "令和元年5月1日"),
        (date(2019, 4, 30), "平成31年4月30日"),
        (date(1989, 1, 8), "平成元年1月8日"),
        (date(1989, 1, 7), "昭和64年1月7日"),
        (date(1954, 4, 1), "昭和29年4月1日"),
    ],
)
def test_to_wareki(value, expected):
    assert to_wareki(value) == expected


@pytest.mark.parametrize("value", [
    datetime(2025, 5, 1, 0, 5, tzinfo=UTC),  # 09:05 in Japan
    datetime(2025, 4, 30, 15, 30, tzinfo=UTC),  # the next day in Japan
    datetime(2019, 4, 30, 23, 59),  # naive: as it is
    date(2025, 5, 1),
    None,
])
def test_wareki_time_is_wareki_then_the_time(value):
    """`|wareki_time` (a row of the history) prints what `|wareki` and `|time:"H:i"` did."""
    context = Context({"value": value})
    assert (Template("{{ value|wareki_time }}").render(context)
            == Template('{{ value|wareki }} {{ value|time:"H:i" }}').render(context))
