"""和暦 (Japanese era) formatting for dates shown to users; dates are stored as ISO dates."""

import re
import unicodedata
from datetime import date, timedelta

# (first day in the Gregorian calendar, era name); newest first. 明治 is counted from the
# first day of its first (lunar) year, 1868-01-25, as the calendar reform of 1873 did.
_ERAS = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
    (date(1912, 7, 30), "大正"),
    (date(1868, 1, 25), "明治"),
)


def era_year(value: date) -> tuple[str, int]:
    """(era, year of the era); ValueError before 明治."""
    for start, name in _ERAS:
        if value >= start:
            return name, value.year - start.year + 1
    raise ValueError("明治より前の日付は和暦に変換できません")


def to_wareki(value: date) -> str:
    """令和7年5月1日; the first year of an era is written 元年. Total: a date before 明治 is
    written with its 西暦 year, so that no stored date can break a page or an e-mail."""
    try:
        name, year = era_year(value)
    except ValueError:
        return f"{value.year}年{value.month}月{value.day}日"
    year_text = "元" if year == 1 else str(year)
    return f"{name}{year_text}年{value.month}月{value.day}日"


# --- Reading a typed date (docs/domain.md §9): ISO in any width, or 和暦 ---------------------------

# Era names as typed: the full name, its first character, or its Latin initial.
_ERA_ALIASES = {
    "令和": "令和", "令": "令和", "R": "令和",
    "平成": "平成", "平": "平成", "H": "平成",
    "昭和": "昭和", "昭": "昭和", "S": "昭和",
    "大正": "大正", "大": "大正", "T": "大正",
    "明治": "明治", "明": "明治", "M": "明治",
}
_ERA_START = {name: start for start, name in _ERAS}
# The day after an era's last day is the next era's first day.
_ERA_END = {older: newer_start
            for (newer_start, _), (_, older) in zip(_ERAS, _ERAS[1:], strict=False)}

_SEP = r"\s*[-/.．年月]\s*"
_WESTERN = re.compile(rf"^(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_JAPANESE = re.compile(
    rf"^({'|'.join(sorted(_ERA_ALIASES, key=len, reverse=True))})\s*(元|\d{{1,2}}){_SEP}"
    rf"(\d{{1,2}}){_SEP}(\d{{1,2}})\s*日?$",
    re.IGNORECASE,
)


class DateParseError(ValueError):
    """A typed date that cannot be read, with the reason in Japanese for the form to show."""


def _real_date(year: int, month: int, day: int, typed: str) -> date:
    try:
        return date(year, month, day)
    except ValueError:
        detail = f"（{year}年{month}月に{day}日はありません）" if year >= 1 and 1 <= month <= 12 else ""
        raise DateParseError(f"「{typed}」という日付はありません{detail}。") from None


def parse_date(text: str) -> date:
    """A date typed as 2025-06-10 (also 2025/6/10, 2025.6.10, 2025年6月10日, 20250610, in any
    width) or in 和暦: 令和7年6月10日, R7.6.10, 令7.6.10, H31.4.30, 平成31年4月30日, 令和元年….
    Raises DateParseError (a ValueError) with a Japanese reason: impossible days (2月30日),
    year 0 of an era, and dates outside the era (平成31年5月1日: 平成 ended on 4月30日)."""
    typed = unicodedata.normalize("NFKC", text or "").strip()
    if not typed:
        raise DateParseError("日付を入力してください。")
    if match := _WESTERN.match(typed) or _COMPACT.match(typed):
        year, month, day = (int(part) for part in match.groups())
        return _real_date(year, month, day, typed)
    if match := _JAPANESE.match(typed):
        alias, year_text, month_text, day_text = match.groups()
        era = _ERA_ALIASES.get(alias) or _ERA_ALIASES[alias.upper()]
        era_year_number = 1 if year_text == "元" else int(year_text)
        if era_year_number == 0:
            raise DateParseError(f"{era}0年はありません（{era}の最初の年は元年＝1年です）。")
        start = _ERA_START[era]
        value = _real_date(start.year + era_year_number - 1, int(month_text), int(day_text), typed)
        end = _ERA_END.get(era)
        if value < start:
            raise DateParseError(f"{era}は{to_wareki(start)}（{start.isoformat()}）からです。")
        if end is not None and value >= end:
            last = end - timedelta(days=1)
            raise DateParseError(f"{era}は{to_wareki(last)}（{last.isoformat()}）までです。"
                                 f"それより後は{to_wareki(end)[:2]}で入力してください。")
        return value
    raise DateParseError(
        "日付は 2025-06-10 または 令和7年6月10日（R7.6.10）の形で入力してください。"
    )


def to_wareki_month(value: date) -> str:
    """令和5年10月 (the month of a date)."""
    return to_wareki(value).split("年")[0] + f"年{value.month}月"


def to_wareki_months(first: date, last: date) -> str:
    """令和6年5月〜8月; 令和6年11月〜令和7年2月 across a year; 令和6年5月 for one month."""
    if (first.year, first.month) == (last.year, last.month):
        return to_wareki_month(first)
    if to_wareki_month(first).split("年")[0] == to_wareki_month(last).split("年")[0]:
        return f"{to_wareki_month(first)}〜{last.month}月"  # the same year of the same era
    return f"{to_wareki_month(first)}〜{to_wareki_month(last)}"
