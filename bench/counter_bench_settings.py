"""Production settings for bench/counter.py: served over plain HTTP on localhost, and the
per-device rate limit lifted (the benchmark measures the endpoint, not the limit)."""

from portal.settings.production import *  # noqa: F403

COUNTER_RATE_LIMIT = (10**9, 60)
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
