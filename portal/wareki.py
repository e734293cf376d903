"""和暦 (Japanese era) formatting for dates shown to users; dates are stored as ISO dates."""

from datetime import date

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
