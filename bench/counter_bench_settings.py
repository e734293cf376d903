"""Production settings for bench/counter.py: served over plain HTTP on localhost, and the
per-device rate limit lifted (the benchmark measures the endpoint, not the limit)."""

from portal.settings.production import *  # noqa: F403
from portal.settings.production import RATE_LIMITS

RATE_LIMITS = {**RATE_LIMITS, "counter_call": "999999999/m"}
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
