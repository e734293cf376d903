"""Where to ask and where the portal is: the 問い合わせ先 kept in the admin
(`portal.models.ContactPoint`) and the portal's public address (PORTAL_BASE_URL), given to
every page (the context processor), PDF (portal/pdf.py, obligation/letters.py) and e-mail
(portal/notifications.py) by the same function, so that each prints them from one include
(`templates/includes/contact.html`, `templates/emails/_contact.txt`)."""

import re
import unicodedata

from django.conf import settings

# An address that starts with its prefecture (the kernel names no app: the shape, not the list
# of facilities/prefectures.py).
_PREFECTURE_FIRST = re.compile(r"(北海道|東京都|京都府|大阪府|\S{2,3}県)")

# Where `scripts/serve` runs, when PORTAL_BASE_URL is not set (development only: production
# sets it, and `manage.py check --deploy` says so when it is not).
DEVELOPMENT_BASE_URL = "http://127.0.0.1:8000"


def portal_url() -> str:
    """The portal's public address, without a trailing slash."""
    return (getattr(settings, "PORTAL_BASE_URL", "") or DEVELOPMENT_BASE_URL).rstrip("/")


def normalise_postcode(text: str) -> str | None:
    """「1008916」, 「100-8916」, 「〒１００－８９１６」 → 「100-8916」; None if not 7 digits."""
    digits = "".join(ch for ch in unicodedata.normalize("NFKC", text or "")
                     if ch not in "〒-‐−ー－ ")
    if len(digits) != 7 or not digits.isdigit() or not digits.isascii():
        return None
    return f"{digits[:3]}-{digits[3:]}"


def starts_with_prefecture(address: str) -> bool:
    return bool(_PREFECTURE_FIRST.match((address or "").strip()))


def postal_address(*, prefecture: str = "", address: str = "", postcode: str = "") -> str:
    """An address as it is written on an envelope: 〒 and the postcode (when known), then the
    prefecture's name (unless the address already starts with it), then the rest."""
    address = (address or "").strip()
    if prefecture and not address.startswith(prefecture):
        address = prefecture + address
    postcode = normalise_postcode(postcode) if postcode else None
    return f"〒{postcode} {address}" if postcode else address


def contact_context() -> dict:
    """`contact` (the ContactPoint, or None when none is kept yet) and `portal_url`."""
    from .models import ContactPoint

    return {"contact": ContactPoint.current(), "portal_url": portal_url()}


def contact_processor(request) -> dict:
    """The context processor: the contact point is read only by a page that shows it."""
    from django.utils.functional import SimpleLazyObject

    from .models import ContactPoint

    return {"contact": SimpleLazyObject(ContactPoint.current), "portal_url": portal_url()}
