"""Money is written with thousands separators and 円 (docs/domain.md §10)."""

import pytest
from django.template import Context, Template


@pytest.mark.parametrize(
    "value, expected",
    [(200000, "200,000円"), (41000, "41,000円"), (0, "0円"), (999, "999円"),
     (1234567, "1,234,567円"), ("200000", "200,000円"), (None, ""), ("", "")],
)
def test_the_yen_filter(value, expected):
    assert Template("{{ value|yen }}").render(Context({"value": value})) == expected


# Templates allowed to write an amount without |yen for now (none are left).
PENDING: set[str] = set()


def test_no_template_writes_an_amount_without_the_filter():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "templates"
    found = [f"{path.relative_to(root)}:{number}"
             for path in root.rglob("*.html")
             if "admin" not in path.parts and path.relative_to(root).as_posix() not in PENDING
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if "}}円" in line]
    assert not found, found
