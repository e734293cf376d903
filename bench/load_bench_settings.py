"""Production settings for bench/load.py: served over plain HTTP on localhost, a minimal
view added (the ceiling every page is compared with: the same server, middleware and
session, no query and no template), and allauth's log-in limit per address lifted (every
simulated user comes from 127.0.0.1; the limit is still checked on every log-in)."""

from portal.settings.production import *  # noqa: F403
from portal.settings.production import ACCOUNT_RATE_LIMITS

ROOT_URLCONF = "load_bench_urls"
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
ACCOUNT_RATE_LIMITS = {**ACCOUNT_RATE_LIMITS, "login": "1000000/m/ip"}
