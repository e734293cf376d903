"""Settings shared by every environment; values come from the environment (django-environ).

Without DATABASE_URL the portal runs on SQLite; without CELERY_BROKER_URL Celery tasks run
in-process (eagerly), so a newcomer needs no services at all.
"""

import os
from pathlib import Path

import environ
from celery.schedules import crontab
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
env = environ.Env()

SECRET_KEY = env("DJANGO_SECRET_KEY", default="dev-only-insecure-key-change-me")
DEBUG = env.bool("DJANGO_DEBUG", default=False)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "portal.admin_site.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_celery_beat",
    "simple_history",
    "django_fsm_log",
    "portal",
    "facilities",
    "eligibility",
    "incentives",
    "subsidies",
    "payouts",
    "cardreader",
    "todos",
    "obligation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "portal.middleware.RejectNulBytes",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Answers to a signed-in user are `private, no-store` (it reads request.user and sees
    # the answers of every middleware below).
    "portal.middleware.PrivateResponsesNotStored",
    "django.contrib.messages.middleware.MessageMiddleware",
    # An ended session said on the log-in page, the page and what was typed kept.
    "portal.session_end.SessionEndedNotice",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "portal.admin_access.AdminRequiresTwoFactor",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "portal.urls"
CSRF_FAILURE_VIEW = "portal.error_views.csrf_failure"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.contact.contact_processor",  # 問い合わせ先 and the portal's address
            ],
            "builtins": ["portal.templatetags.wareki", "portal.templatetags.yen",
                         "portal.templatetags.fields", "portal.templatetags.text"],
        },
    }
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
# A read replica (streaming replication of the primary), optional: the public list and the
# administrators' count pages read from it (portal/db_routers.py); everything else uses default.
if env("DATABASE_REPLICA_URL", default=""):
    DATABASES["replica"] = env.db("DATABASE_REPLICA_URL")
DATABASE_ROUTERS = ["portal.db_routers.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "portal.User"
AUTHENTICATION_BACKENDS = [
    "portal.auth_backends.PermissionsInOneQuery",  # permissions only: portal/auth_backends.py
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Argon2id first (portal/passwords.py: why these parameters); the others only read the hashes
# made before, which are rehashed with Argon2id at each user's next log-in.
PASSWORD_HASHERS = [
    "portal.passwords.PortalArgon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
# The paper form's rule (seed 003): half-width letters and digits, 8 to 100 characters.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "portal.passwords.PortalPasswordRuleValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The portal's own rate limits, one scheme (portal/ratelimit.py,
# docs/architecture.md#rate-limits): scope -> rates ("5/h,20/d"), counted in the default cache. A scope not named here
# takes portal.ratelimit.DEFAULT_RATES; each is set in the environment as RATE_LIMIT_<SCOPE>
# (RATE_LIMIT_COUNTER_CALL=300/m); `manage.py check` refuses an unknown scope or a bad rate.
# allauth's log-in, sign-up and password-reset limits are ACCOUNT_RATE_LIMITS below, counted
# in the same cache.
RATE_LIMITS = {name.removeprefix("RATE_LIMIT_").lower(): value
               for name, value in os.environ.items() if name.startswith("RATE_LIMIT_")}
# django-allauth: e-mail is the log-in; verification is mandatory; failed log-ins are limited.
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_CONFIRM_EMAIL_ON_GET = False
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_RATE_LIMITS = {
    "login_failed": "10/m/ip,5/5m/key",
    "signup": "20/m/ip",
    "confirm_email": "1/3m/key",
    "reset_password": "20/m/ip,5/m/key",
}
# The portal's name in e-mails and pages; links in e-mails go to PORTAL_BASE_URL when set
# (https://portal.example.jp), else to the host the user came to. Never a host and port as
# the sender's name (allauth's default greeting), which reads like phishing.
PORTAL_NAME = env("PORTAL_NAME", default="オンライン資格確認ポータル")
PORTAL_BASE_URL = env("PORTAL_BASE_URL", default="")
ACCOUNT_ADAPTER = "portal.account_adapter.AccountAdapter"
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"【{PORTAL_NAME}】"
ACCOUNT_DEFAULT_HTTP_PROTOCOL = env("ACCOUNT_DEFAULT_HTTP_PROTOCOL", default="http")
# Sign-up spends the same password-hashing work whether the address is new or registered.
ACCOUNT_FORMS = {
    "signup": "portal.account_forms.SignupForm",
    "login": "portal.account_forms.LoginForm",
    "reset_password": "portal.account_forms.ResetPasswordForm",
    "reset_password_from_key": "portal.account_forms.ResetPasswordKeyForm",
    "add_email": "portal.account_forms.AddEmailForm",
    "change_password": "portal.account_forms.ChangePasswordForm",
}
# Reverse proxies in front of the portal that append to X-Forwarded-For (0: none, the
# client is REMOTE_ADDR). The rate limits and the facility-link log read the same address.
ALLAUTH_TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes"]
MFA_FORMS = {
    "authenticate": "portal.account_forms.AuthenticateForm",
    "reauthenticate": "portal.account_forms.ReauthenticateForm",
    "activate_totp": "portal.account_forms.ActivateTOTPForm",
}
MFA_TOTP_ISSUER = "オンライン資格確認ポータル"
# A staff account sets up two-factor only through an invitation e-mailed to it, valid this
# many hours (portal/invitations.py).
TWO_FACTOR_INVITATION_HOURS = env.int("TWO_FACTOR_INVITATION_HOURS", default=72)
LOGIN_REDIRECT_URL = "dashboard"
LOGIN_URL = "account_login"

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語")]
# Japanese for the third-party pages that ship none (django-celery-beat: locale/ja).
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# Content-Security-Policy on every page (django-csp): scripts and styles only from the
# portal's own static files, no inline code (a view may set a stricter header of its own).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],  # data: for the two-factor set-up QR code
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env("DJANGO_STATIC_ROOT", default=str(BASE_DIR / "staticfiles"))
# Uploaded private files live outside the static/public tree and are served only by views.
PRIVATE_STORAGE_ROOT = Path(env("PRIVATE_STORAGE_ROOT", default=str(BASE_DIR / "var" / "private")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Files attached to one subsidy claim, in all (each file is at most 10 MB).
CLAIM_MAX_FILES = env.int("CLAIM_MAX_FILES", default=30)
CLAIM_MAX_BYTES = env.int("CLAIM_MAX_BYTES", default=100 * 1024 * 1024)

# Requests: uploads are small forms and receipts; anything bigger is refused early.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 200
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    vars().update(env.email_url("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="no-reply@portal.example.jp")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# Celery: Redis in production; in-process when no broker is configured.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="")
CELERY_TASK_ALWAYS_EAGER = not CELERY_BROKER_URL
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=CELERY_BROKER_URL or None)
CELERY_TIMEZONE = TIME_ZONE
# With a broker, the eligibility batch's facilities are split into this many id ranges, each
# a Celery task on whichever worker is free (a chord; eligibility/tasks.py). 1: one process.
ELIGIBILITY_BATCH_TASKS = env.int("ELIGIBILITY_BATCH_TASKS", default=8)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Installed into django-celery-beat's tables when beat starts; administrators may edit them.
CELERY_BEAT_SCHEDULE = {
    "rebuild-public-list-weekly": {
        "task": "facilities.tasks.rebuild_public_list",
        "schedule": crontab(minute=0, hour=5, day_of_week="mon"),
    },
    "run-eligibility-nightly": {
        "task": "eligibility.tasks.run_eligibility",
        "schedule": crontab(minute=30, hour=2),
    },
    # Facilities still marked for re-determination (normally taken within seconds by the
    # task their change queued; this catches one whose task was lost).
    "redetermine-pending-sweep": {
        "task": "eligibility.tasks.redetermine_pending",
        "schedule": crontab(minute="*/10"),
    },
    # Every 施術所's compliance status (an exemption whose date passed is seen here).
    "compute-compliance-nightly": {
        "task": "obligation.tasks.compute_compliance",
        "schedule": crontab(minute=0, hour=3),
    },
    # Requests to become a facility's staff that nobody confirmed before their expiry.
    "expire-link-requests-nightly": {
        "task": "facilities.tasks.expire_link_requests",
        "schedule": crontab(minute=15, hour=3),
    },
    "send-reminders-weekly": {
        "task": "todos.tasks.send_reminders",
        "schedule": crontab(minute=0, hour=8, day_of_week="mon"),
    },
    # Payout runs of every program with something payable, on the 1st and the 15th (the
    # transfer date some bank business days later). The schedule is a starting point:
    # administrators change it in the admin (定期実行, django-celery-beat).
    "create-payout-runs": {
        "task": "payouts.tasks.create_scheduled_runs",
        "schedule": crontab(minute=0, hour=6, day_of_month="1,15"),
    },
}

# Linking a user to a facility: wrong codes and bank digits are limited per user, per client
# address and per facility (RATE_LIMITS below: facility_link_*; the facility is told when its
# limit is reached).
# Right digits make a request: the facility's staff approve it within REQUEST_DAYS; a facility
# without staff is sent a code by post, valid CODE_DAYS from its letter, CODE_MAX_FAILURES tries.
FACILITY_LINK_REQUEST_DAYS = env.int("FACILITY_LINK_REQUEST_DAYS", default=14)
FACILITY_LINK_CODE_DAYS = env.int("FACILITY_LINK_CODE_DAYS", default=30)
FACILITY_LINK_CODE_MAX_FAILURES = env.int("FACILITY_LINK_CODE_MAX_FAILURES", default=5)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", default="INFO")},
    # One line per task run is noise when tasks run in-process.
    "loggers": {"celery.app.trace": {"level": env("CELERY_TRACE_LOG_LEVEL", default="WARNING")}},
}
