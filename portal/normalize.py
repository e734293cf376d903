"""Input normalisation used by every form: NFKC (full-width digits and letters become
half-width), surrounding and inner spaces handled, so that users are not refused for the
width of what they typed."""

import unicodedata


def nfkc(value: str) -> str:
    return unicodedata.normalize("NFKC", value or "").strip()


def digits(value: str) -> str:
    """Full-width digits, spaces and hyphens (any width) → a plain string of ASCII digits
    (or whatever else was typed, for the caller's validation to refuse)."""
    text = nfkc(value)
    for ch in (" ", "-", "‐", "−", "ー", "―"):
        text = text.replace(ch, "")
    return text
