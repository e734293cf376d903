from datetime import date

import pytest

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
