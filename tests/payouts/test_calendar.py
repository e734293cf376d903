"""Bank business days for transfer dates (docs/domain.md §5.4): weekends, 祝日・振替休日・国民の休日
(jpholiday) and 年末年始 (12-31, 01-01..01-03) are closed; the refusal names the next business
day in 和暦."""

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from payouts.calendar import (
    check_transfer_date,
    closure_reason,
    is_business_day,
    next_business_day,
)
from portal.errors import ServiceError


@pytest.mark.parametrize(
    "day, reason",
    [
        (date(2026, 1, 10), "土曜日"),
        (date(2026, 1, 11), "日曜日"),
        (date(2026, 1, 12), "成人の日"),
        (date(2025, 5, 6), "振替休日（みどりの日）"),  # 5/4 みどりの日 fell on a Sunday
        (date(2026, 9, 22), "国民の休日"),  # between 敬老の日 (9/21) and 秋分の日 (9/23)
        (date(2026, 9, 21), "敬老の日"),
        (date(2026, 9, 23), "秋分の日"),
        (date(2025, 12, 31), "年末年始"),
        (date(2026, 1, 1), "元日"),  # the holiday's name is the more specific reason
        (date(2026, 1, 2), "年末年始"),
        (date(2026, 1, 3), "年末年始"),  # a Saturday too
        (date(2028, 1, 2), "年末年始"),  # a Sunday too
    ],
)
def test_closed_days(day, reason):
    assert not is_business_day(day)
    assert closure_reason(day) == reason


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 13),  # the Tuesday after 成人の日
        date(2025, 5, 7),
        date(2026, 9, 24),
        date(2025, 12, 30),  # banks are open on 12-30
        date(2026, 1, 5),
        date(2025, 12, 29),
    ],
)
def test_open_days(day):
    assert is_business_day(day)
    assert closure_reason(day) is None
    assert next_business_day(day) == day
    assert check_transfer_date(day) == day


@pytest.mark.parametrize(
    "day, following",
    [
        (date(2026, 1, 10), date(2026, 1, 13)),  # Sat → Sun → 成人の日 → Tue
        (date(2025, 5, 3), date(2025, 5, 7)),  # ゴールデンウィーク
        (date(2026, 9, 19), date(2026, 9, 24)),  # the 2026 シルバーウィーク
        (date(2025, 12, 31), date(2026, 1, 5)),  # 01-03 is a Saturday, 01-04 a Sunday
        (date(2026, 12, 31), date(2027, 1, 4)),
        (date(2027, 1, 1), date(2027, 1, 4)),
    ],
)
def test_next_business_day(day, following):
    assert next_business_day(day) == following


@pytest.mark.parametrize(
    "day, reason, following",
    [
        (date(2026, 1, 12), "成人の日", "令和8年1月13日"),
        (date(2025, 5, 6), "振替休日（みどりの日）", "令和7年5月7日"),
        (date(2026, 9, 22), "国民の休日", "令和8年9月24日"),
        (date(2025, 12, 31), "年末年始", "令和8年1月5日"),
        (date(2026, 1, 10), "土曜日", "令和8年1月13日"),
        (date(2026, 1, 11), "日曜日", "令和8年1月13日"),
    ],
)
def test_refusal_names_reason_and_next_business_day(day, reason, following):
    with pytest.raises(ServiceError) as error:
        check_transfer_date(day)
    assert error.value.field == "transfer_date"
    message = error.value.message
    assert reason in message
    assert f"次の営業日は{following}です" in message
    assert message.startswith(f"令和{day.year - 2018}年{day.month}月{day.day}日は")


@given(st.dates(date(2020, 1, 1), date(2040, 12, 31)))
def test_next_business_day_is_the_first_open_day_on_or_after(day):
    following = next_business_day(day)
    assert following >= day and is_business_day(following)
    assert following - day < timedelta(days=10)
    probe = day
    while probe < following:
        assert not is_business_day(probe)
        probe += timedelta(days=1)
    assert is_business_day(day) == (following == day)


@given(st.dates(date(2020, 1, 1), date(2040, 12, 31)))
def test_weekends_and_year_end_are_never_business_days(day):
    if day.weekday() >= 5 or (day.month, day.day) in {(12, 31), (1, 1), (1, 2), (1, 3)}:
        assert not is_business_day(day)
