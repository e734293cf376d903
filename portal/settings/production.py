"""Production: every secret from the environment, HTTPS only (`manage.py check --deploy` clean).

Production refuses to start (web, worker, beat and every command alike) without a broker and
a shared cache: without CELERY_BROKER_URL the base settings run Celery tasks in the web
process (the newcomer's default), and a process-local cache counts rate limits per process
(docs/operations.md)."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import CACHES, CELERY_BROKER_URL, DATABASES, EMAIL_URL, env

if not CELERY_BROKER_URL:
    raise ImproperlyConfigured(
        "CELERY_BROKER_URL is not set: production runs its tasks (batches, payouts, e-mails) on "
        "Celery workers through a broker, e.g. redis://redis:6379/0. Without one they would run "
        "inside the web process, one request at a time.")
_PROCESS_LOCAL_CACHES = ("LocMemCache", "DummyCache")
if CACHES["default"]["BACKEND"].rsplit(".", 1)[-1] in _PROCESS_LOCAL_CACHES:
    raise ImproperlyConfigured(
        "CACHE_URL is not set to a shared cache: the rate limits (log-in, linking, the counter) "
        "count in the default cache and would count per process. Set CACHE_URL, e.g. "
        "redis://redis:6379/1.")

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")
# Each worker keeps its database connection between requests (checked before reuse) instead
# of opening one per request: the counter's many small calls were slowed most by
# connecting (bench/counter.py: confirmations 59 → 87 per second, challenges 82 → 158).
# 0 closes the connection after every request, as Django does by default.
for _alias in DATABASES:  # the read replica's connection is kept the same way
    DATABASES[_alias]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=60)
    DATABASES[_alias]["CONN_HEALTH_CHECKS"] = True

# E-mails sent by beat (reminders) have no request to take a host from; letters, notices and
# e-mails print it (portal/contact.py). Guessed from the first allowed host when not set, which
# `check --deploy` reports (portal.W021): thousands of letters must not print an internal host.
PORTAL_BASE_URL_GUESSED = not env("PORTAL_BASE_URL", default="")
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default=f"https://{ALLOWED_HOSTS[0]}")
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
# With a shared cache (CACHE_URL: Redis), sessions are read from it and written through to
# the database: one query fewer on every signed-in page. A process-local cache would keep a
# session another worker has ended, so without a shared cache they stay in the database.
if CACHES["default"]["BACKEND"].endswith(("RedisCache", "MemcacheCache", "PyMemcacheCache")):
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https"
if not EMAIL_URL:  # EMAIL_URL (smtp://…, consolemail://) configures everything when given
    EMAIL_BACKEND = env(
        "DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend"
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
