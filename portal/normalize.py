"""Input normalisation used by every form: NFKC (full-width digits and letters become
half-width), surrounding and inner spaces handled, so that users are not refused for the
width of what they typed."""

import re
import unicodedata


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


# Hyphens and dashes of every width people type between digits (after NFKC).
DASHES = "-‐‑‒–—―−－ーｰ"


def digits(value: str) -> str:
    """Full-width digits, spaces and hyphens (any width) → a plain string of ASCII digits
    (or whatever else was typed, for the caller's validation to refuse). The one digit
    normaliser: codes, account numbers, 記号・番号, the last four digits."""
    text = unicodedata.normalize("NFKC", value or "")
    return "".join(ch for ch in text if not ch.isspace() and ch not in DASHES)


class NotAnInteger(ValueError):
    """What was typed is not a whole number written in any way the portal reads."""


# A number written with thousands separators: 38,000 or 1,234,567 (groups of three).
MAX_DIGITS = 30  # no count or amount is longer; a longer string is not read as a number
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+")


def integer(value: str, *, unit: str = "") -> int:
    """A whole number as people type it (docs/decisions.md D1.3): full-width digits and commas
    (３８，０００), thousands separators (38,000 or 38、000), spaces around it, and the field's
    unit after it (38,000円) are read as 38000; a leading minus of any width gives a negative
    number (for the field's range to refuse). A comma out of place (3,80), a decimal point or
    anything else raises NotAnInteger: the caller says why."""
    text = unicodedata.normalize("NFKC", str(value if value is not None else "")).strip()
    if unit and text.endswith(unit):
        text = text[: -len(unit)].rstrip()
    text = text.replace("、", ",")  # 3、000: the Japanese comma typed in place of ,
    sign = 1
    if text[:1] and text[0] in DASHES:  # a minus of any width: read, for the range to refuse
        sign, text = -1, text[1:].lstrip()
    if _GROUPED.fullmatch(text):
        text = text.replace(",", "")
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        raise NotAnInteger(value)
    return sign * int(text)
