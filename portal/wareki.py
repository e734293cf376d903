"""和暦 (Japanese era) formatting for dates shown to users; dates are stored as ISO dates."""

from datetime import date

# (first day, era name); newest first.
_ERAS = (
    (date(2019, 5, 1), "令和"),
    (date(1989, 1, 8), "平成"),
    (date(1926, 12, 25), "昭和"),
)


def era_year(value: date) -> tuple[str, int]:
    for start, name in _ERAS:
        if value >= start:
            return name, value.year - start.year + 1
    raise ValueError("昭和より前の日付は和暦に変換できません")


def to_wareki(value: date) -> str:
    """令和7年5月1日; the first year of an era is written 元年."""
    name, year = era_year(value)
    year_text = "元" if year == 1 else str(year)
    return f"{name}{year_text}年{value.month}月{value.day}日"
