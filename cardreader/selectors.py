"""Reads of the counter: the trusted CA certificates for an issuer name, the registry row of
a card certificate, the qualification's status on a day, and the counter's settings."""

from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from cryptography import x509
from django.conf import settings

from .certificates import load_issuer
from .models import InsuredPerson, TrustedIssuer

STATUS_VALID = "有効"
STATUS_LOST = "資格喪失"


@dataclass(frozen=True)
class CounterSettings:
    """The counter's settings, each overridable in the settings module (COUNTER_…)."""

    token_lifetime: timedelta
    challenge_lifetime: timedelta
    rate_limit: tuple[int, int]  # calls per device account and endpoint, per seconds
    login_failures: tuple[int, int]  # failed log-ins per login ID, per seconds


def counter_settings() -> CounterSettings:
    return CounterSettings(
        token_lifetime=timedelta(minutes=getattr(settings, "COUNTER_TOKEN_MINUTES", 15)),
        challenge_lifetime=timedelta(seconds=getattr(settings, "COUNTER_CHALLENGE_SECONDS", 120)),
        rate_limit=tuple(getattr(settings, "COUNTER_RATE_LIMIT", (120, 60))),
        login_failures=tuple(getattr(settings, "COUNTER_LOGIN_FAILURES", (5, 300))),
    )


@lru_cache(maxsize=64)
def _loaded(pem: str) -> x509.Certificate:
    return load_issuer(pem)


def trusted_issuers_named(subject: str) -> list[x509.Certificate]:
    """The active trusted CA certificates with this subject (more than one across a key
    change), parsed once per process."""
    pems = TrustedIssuer.objects.filter(is_active=True, subject=subject).values_list(
        "certificate_pem", flat=True)
    return [_loaded(pem) for pem in pems]


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
