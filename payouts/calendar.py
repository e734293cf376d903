"""Bank business days (銀行営業日) for transfer dates (docs/domain.md §5.4).

A day is a bank business day unless it is

* a Saturday or a Sunday,
* a Japanese public holiday as the maintained ``jpholiday`` package computes it: 国民の祝日,
  振替休日 (a holiday falling on a Sunday moves to the next weekday) and 国民の休日 (a weekday
  between two holidays, e.g. 2026-09-22),
* 年末年始: 12-31, 01-01, 01-02 or 01-03 (banks are closed, by 銀行法施行令 第5条).

``check_transfer_date`` is the one refusal the payout services give for a transfer date: a
``ServiceError`` on the field ``transfer_date`` whose Japanese message names the reason and the
next business day in 和暦.

Note: 春分の日 and 秋分の日 are fixed by the government only in February of the year before;
jpholiday computes them by the usual formula, which has held so far.
"""

from __future__ import annotations

from datetime import date, timedelta

import jpholiday

from portal.errors import ServiceError
from portal.wareki import to_wareki

__all__ = ["check_transfer_date", "closure_reason", "is_business_day", "next_business_day"]

# (month, day) on which banks are closed whatever the weekday.
_YEAR_END_CLOSURES = frozenset({(12, 31), (1, 1), (1, 2), (1, 3)})
_WEEKEND = {5: "土曜日", 6: "日曜日"}
# The longest run of closed days possible (年末年始 next to a weekend and holidays) is well
# under this; the bound only keeps a bug in the holiday data from looping for ever.
_MAX_SEARCH_DAYS = 31


def closure_reason(d: date) -> str | None:
    """Why banks are closed on ``d``, or None on a business day. The most specific reason
    wins: the holiday's name (``成人の日``, ``振替休日（みどりの日）``, ``国民の休日``), then
    ``年末年始``, then ``土曜日`` / ``日曜日``."""
    holiday = jpholiday.is_holiday_name(d)
    if holiday:
        # jpholiday names a substitute holiday "みどりの日 振替休日".
        substituted = holiday.removesuffix(" 振替休日")
        return f"振替休日（{substituted}）" if substituted != holiday else holiday
    if (d.month, d.day) in _YEAR_END_CLOSURES:
        return "年末年始"
    return _WEEKEND.get(d.weekday())


def is_business_day(d: date) -> bool:
    """True when banks are open on ``d`` (see the module doc)."""
    return closure_reason(d) is None


def next_business_day(d: date) -> date:
    """``d`` itself if it is a business day, else the first business day after it."""
    day = d
    for _ in range(_MAX_SEARCH_DAYS):
        if is_business_day(day):
            return day
        day += timedelta(days=1)
    raise RuntimeError(f"no bank business day within {_MAX_SEARCH_DAYS} days of {d.isoformat()}")


# The dates a transfer may be given for at all (a typing error such as 9999-12-31 gets a
# message, not an overflow while looking for the next business day).
EARLIEST_TRANSFER_DATE = date(2019, 5, 1)
LATEST_TRANSFER_DATE = date(2099, 12, 31)


def check_transfer_date(d: date) -> date:
    """``d`` when it is a business day; otherwise ``ServiceError`` (field ``transfer_date``)
    naming the reason and the next business day, e.g. 「令和8年1月12日は成人の日のため銀行の
    休業日です。振込日には銀行の営業日を指定してください（次の営業日は令和8年1月13日です）。」"""
    if not LATEST_TRANSFER_DATE >= d >= EARLIEST_TRANSFER_DATE:
        raise ServiceError(
            f"振込日は{to_wareki(EARLIEST_TRANSFER_DATE)}から{to_wareki(LATEST_TRANSFER_DATE)}"
            "までの日付で指定してください。", field="transfer_date")
    reason = closure_reason(d)
    if reason is None:
        return d
    following = next_business_day(d)
    raise ServiceError(
        f"{to_wareki(d)}は{reason}のため銀行の休業日です。振込日には銀行の営業日を指定して"
        f"ください（次の営業日は{to_wareki(following)}です）。",
        field="transfer_date",
    )
