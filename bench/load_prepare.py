"""bench/load.py's database: the synthetic national dataset, the demo, and staff users for a
sample of the dataset's 施術所, each at the go-live step (start application accepted), with
their results determined. Run by bench/load.py in a child process (Django is not loaded in
the process that runs locust); writes the plan (users, facilities) as JSON.

Usage: python bench/load_prepare.py DATABASE_URL FACILITIES STAFF PLAN_PATH
"""

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

from django_setup import ROOT, setup_django

STAFF_DOMAIN = "load.example.jp"


def prepare(database_url: str, facilities: int, staff: int) -> dict:
    setup_django(database_url)
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db.models import Q

    from eligibility import services as eligibility_services
    from eligibility.models import Program
    from facilities import services
    from facilities.models import ApplicationKind, Facility
    from incentives.selectors import report_period

    User = get_user_model()
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    if not User.objects.filter(email__endswith="@" + STAFF_DOMAIN).exists():
        call_command("generate_dataset", "--facilities", str(facilities))
        call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115 - logins not shown
        print(f"  dataset and demo in {time.perf_counter() - started:.0f} s", flush=True)
    admin = User.objects.get(email="admin@example.jp")
    # One password for every load user, hashed once (the hash is what a log-in checks).
    password = secrets.token_urlsafe(12).replace("-", "a").replace("_", "b")
    encoded = make_password(password)
    plan = {"password": password, "users": []}
    sample = (Facility.objects.filter(kind__in=["judo", "acupuncture", "ama"],
                                      name__startswith="合成施設", main_facility__isnull=True)
              .exclude(Q(subordinates__isnull=False)).order_by("pk")[:staff])
    for index, facility in enumerate(sample):
        email = f"staff{index:04d}@{STAFF_DOMAIN}"
        user, created = User.objects.get_or_create(email=email,
                                                   defaults={"full_name": f"負荷試験 担当{index}"})
        user.password = encoded
        user.save(update_fields=["password"])
        EmailAddress.objects.update_or_create(user=user, email=email,
                                              defaults={"verified": True, "primary": True})
        if created:
            services.add_staff(user=user, facility=facility)  # trusted setup, no request
            application = services.submit_usage_application(
                user=user, facility=facility, kind=ApplicationKind.START, token=uuid.uuid4(),
                data=services.ApplicationInput(
                    contact_name=user.full_name, founder_name="負荷 太郎",
                    phone="03-1234-5678", email=email, staff_count=2, device_count=1),
            )
            services.accept_application(application=application, actor=admin)
        plan["users"].append({"email": email, "facility": facility.pk})
    ids = [item["facility"] for item in plan["users"]]
    for program in eligibility_services.open_batch_programs():
        eligibility_services.run_eligibility(program=program, facility_ids=ids)
    cooperation = Program.objects.get(code="cooperation-2025")
    # The bench's own database only: the report deadline is lifted so that the load test's
    # reports are taken (past it the page shows the report read-only and stores nothing).
    cooperation.report_deadline = None
    cooperation.save(update_fields=["report_deadline"])
    window = services.usage_window()
    plan["golive"] = [(window[0] + timedelta(days=day)).isoformat() for day in (10, 11)]
    for user in User.objects.filter(email__endswith="@" + STAFF_DOMAIN):
        for facility in Facility.objects.filter(pk__in=ids, memberships__user=user):
            services.set_golive_date(user=user, facility=facility,
                                     golive_date=date.fromisoformat(plan["golive"][0]))
    period = report_period(cooperation)
    plan["period"] = [period.period_start.isoformat(), period.period_end.isoformat()]
    plan["cooperation"] = cooperation.code
    print(f"  {len(ids)} staff users ready in {time.perf_counter() - started:.0f} s", flush=True)
    return plan


def prepare_in_child(database_url: str, facilities: int, staff: int, plan_path: Path) -> dict:
    """`prepare` in a child process (Django is not loaded in the caller); the plan."""
    subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), database_url, str(facilities),
         str(staff), str(plan_path)],
        cwd=ROOT / "bench", env={**os.environ, "DJANGO_SETTINGS_MODULE": "portal.settings.dev"},
        check=True)
    return json.loads(plan_path.read_text(encoding="utf-8"))


def production_env(database_url: str, cache_url: str, broker_url: str, workdir: str) -> dict:
    """The environment of a process on the bench's production settings (load_bench_settings:
    plain HTTP on localhost), its static files collected into `workdir`."""
    env = {**os.environ, "DATABASE_URL": database_url, "CACHE_URL": cache_url,
           "CELERY_BROKER_URL": broker_url, "DJANGO_SETTINGS_MODULE": "load_bench_settings",
           "DJANGO_SECRET_KEY": "bench-only-" + "x" * 40,
           "DJANGO_ALLOWED_HOSTS": "127.0.0.1", "DJANGO_SECURE_SSL_REDIRECT": "false",
           "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
           "DJANGO_STATIC_ROOT": str(Path(workdir) / "static"),
           "PRIVATE_STORAGE_ROOT": str(Path(workdir) / "private"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "bench"), str(ROOT)]),
           "DJANGO_LOG_LEVEL": "WARNING"}
    subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
                   cwd=ROOT, env=env, check=True)
    return env


if __name__ == "__main__":
    url, size, staff, path = sys.argv[1:5]
    result = prepare(url, int(size), int(staff))
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
