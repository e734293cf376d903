"""Input normalisation used by every form: NFKC (full-width digits and letters become
half-width), surrounding and inner spaces handled, so that users are not refused for the
width of what they typed."""

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
