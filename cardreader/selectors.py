"""Reads of the counter: the trusted CA certificates for an issuer name, a CA's current CRL,
the registry row of a card certificate, the qualification's status on a day, and the
counter's settings."""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from cryptography import x509
from django.conf import settings

from .certificates import CertificateRefused, RevocationState, load_issuer, revoked_serials
from .models import InsuredPerson, RevocationList, TrustedIssuer

STATUS_VALID = "有効"
STATUS_LOST = "資格喪失"


@dataclass(frozen=True)
class CounterSettings:
    """The counter's settings, each overridable in the settings module (COUNTER_…); its rate
    limits are the portal's (RATE_LIMITS: counter_call, counter_login)."""

    token_lifetime: timedelta
    challenge_lifetime: timedelta
    crl_grace: timedelta  # how long after its nextUpdate a CA's last CRL is still used


def counter_settings() -> CounterSettings:
    return CounterSettings(
        token_lifetime=timedelta(minutes=getattr(settings, "COUNTER_TOKEN_MINUTES", 15)),
        challenge_lifetime=timedelta(seconds=getattr(settings, "COUNTER_CHALLENGE_SECONDS", 120)),
        crl_grace=timedelta(hours=getattr(settings, "COUNTER_CRL_GRACE_HOURS", 48)),
    )


@lru_cache(maxsize=64)
def _loaded(pem: str) -> x509.Certificate:
    return load_issuer(pem)


def trusted_issuers_named(subject: str) -> list[tuple[int, x509.Certificate]]:
    """(pk, certificate) of the active trusted CAs with this subject (more than one across a
    key change), parsed once per process. A row whose PEM no longer passes `load_issuer`
    (saved before a rule was added) is left out."""
    found = []
    for pk, pem in TrustedIssuer.objects.filter(is_active=True, subject=subject).values_list(
            "pk", "certificate_pem"):
        try:
            found.append((pk, _loaded(pem)))
        except CertificateRefused:
            continue
    return found


@lru_cache(maxsize=8)
def _revoked(pk: int, fingerprint: str) -> frozenset[int]:
    """The serials of a stored CRL, read once per process (rows are never changed)."""
    stored = RevocationList.objects.filter(pk=pk, fingerprint=fingerprint).values_list(
        "compressed", flat=True).first()
    return revoked_serials(bytes(stored)) if stored is not None else frozenset()


def current_revocation_list(issuer_id: int) -> RevocationList | None:
    """The CA's CRL with the latest thisUpdate (without its content)."""
    return (RevocationList.objects.filter(issuer_id=issuer_id).defer("compressed")
            .order_by("-this_update", "-pk").first())


def revocation_state(issuer_id: int) -> RevocationState:
    """What the counter checks a card of this CA against: its current CRL's serials."""
    current = current_revocation_list(issuer_id)
    if current is None:
        return RevocationState(revoked=None, next_update=None)
    return RevocationState(revoked=_revoked(current.pk, current.fingerprint),
                           next_update=current.next_update)


def insured_person_for(*, issuer: str, serial: int) -> InsuredPerson | None:
    if serial <= 0:
        return None
    return InsuredPerson.objects.filter(issuer=issuer, serial=str(serial)).first()


def qualification_status(person: InsuredPerson, *, today: date) -> str:
    """有効 on a day inside [valid_from, valid_to] before the 資格喪失日; else 資格喪失 (the
    counter answers only these two: a qualification not yet begun or past its end is not
    valid at the counter either)."""
    if person.lost_on is not None and today >= person.lost_on:
        return STATUS_LOST
    if today < person.valid_from or (person.valid_to is not None and today > person.valid_to):
        return STATUS_LOST
    return STATUS_VALID


def qualification_answer(person: InsuredPerson, *, today: date) -> dict:
    """The qualification as the API answers it: these keys and nothing else."""
    return {
        "insurer_number": person.insurer_number,
        "symbol": person.symbol,
        "number": person.number,
        "branch": person.branch,
        "name": person.name,
        "name_kana": person.name_kana,
        "birth_date": person.birth_date.isoformat(),
        "copay_ratio": person.copay_ratio,
        "valid_from": person.valid_from.isoformat(),
        "valid_to": person.valid_to.isoformat() if person.valid_to else None,
        "status": qualification_status(person, today=today),
        "lost_on": person.lost_on.isoformat() if person.lost_on else None,
    }
