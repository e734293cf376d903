"""Deployment checks of the portal's own (`manage.py check --deploy`)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

PROCESS_LOCAL_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def cache_is_shared() -> bool:
    """Whether the default cache is seen by every process (web and workers alike)."""
    return settings.CACHES.get("default", {}).get("BACKEND", "") not in PROCESS_LOCAL_CACHES


@register(Tags.caches, deploy=True)
def shared_cache(app_configs, **kwargs) -> list[Warning]:
    """Rate limits (log-in, sign-up, password reset) count in the default cache: a cache of
    one process counts per process (or not at all), so they would not hold."""
    if not cache_is_shared():
        backend = settings.CACHES.get("default", {}).get("BACKEND", "")
        return [Warning(
            f"The default cache is process-local ({backend.rsplit('.', 1)[-1]}): the rate "
            "limits are counted per process and do not hold.",
            hint="Set CACHE_URL to a shared cache, e.g. redis://redis:6379/1.",
            id="portal.W001",
        )]
    return []


@register()
def rate_limits(app_configs, **kwargs) -> list[Error]:
    """RATE_LIMITS names the portal's scopes only, each with rates that parse
    (portal/ratelimit.py): a typo would otherwise fall back to the default unnoticed, or
    fail at the first request it limits."""
    from .ratelimit import DEFAULT_RATES, InvalidRate, parse_rates

    errors = []
    for scope, rates in (getattr(settings, "RATE_LIMITS", {}) or {}).items():
        if scope not in DEFAULT_RATES:
            errors.append(Error(f"RATE_LIMITS: unknown scope {scope!r}",
                                hint="One of: " + ", ".join(sorted(DEFAULT_RATES)),
                                id="portal.E010"))
            continue
        try:
            parse_rates(rates)
        except InvalidRate as error:
            errors.append(Error(f"RATE_LIMITS[{scope!r}]: {error}", id="portal.E011"))
    return errors


@register(Tags.security, deploy=True)
def portal_address(app_configs, **kwargs) -> list[Error | Warning]:
    """Letters, notices and e-mails print the portal's address (PORTAL_BASE_URL,
    portal/contact.py): without it they would print the development address."""
    base = (getattr(settings, "PORTAL_BASE_URL", "") or "").strip()
    if not base:
        return [Error("PORTAL_BASE_URL is not set: letters, notices and e-mails would print "
                      "the development address.",
                      hint="Set PORTAL_BASE_URL to the portal's public address, e.g. "
                           "https://portal.example.jp.", id="portal.E020")]
    if not base.startswith("https://"):
        return [Warning(f"PORTAL_BASE_URL is not an https address ({base}).",
                        hint="Letters and e-mails print it; give the https:// address.",
                        id="portal.W020")]
    if getattr(settings, "PORTAL_BASE_URL_GUESSED", False):
        return [Warning(f"PORTAL_BASE_URL is not set: letters, notices and e-mails print {base}, "
                        "guessed from DJANGO_ALLOWED_HOSTS.",
                        hint="Set PORTAL_BASE_URL to the address the public uses.",
                        id="portal.W021")]
    return []
