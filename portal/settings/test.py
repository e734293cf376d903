"""Test settings: PostgreSQL when DATABASE_URL is set (CI), SQLite otherwise; fast hashing."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DATABASES, env

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
CELERY_TASK_ALWAYS_EAGER = True
PRIVATE_STORAGE_ROOT = BASE_DIR / "var" / "test-private"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
ALLOWED_HOSTS = ["*"]
# Rate limits are tested explicitly; the ordinary tests must not trip them.
ACCOUNT_RATE_LIMITS = {"login_failed": "1000/m/ip,1000/5m/key", "confirm_email": False,
                       "login": "1000/m/ip", "signup": "1000/m/ip",
                       "reset_password": "1000/m/ip,1000/m/key"}
SERVICES_REQUIRED = env.bool("CI", default=False)
# With DATABASE_REPLICA_URL set, the replica is the test database itself (a mirror).
if "replica" in DATABASES:
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
