"""Writes of the to-do list: the user's visits, the reminder preference, and the weekly
reminder e-mail (idempotent per user and week)."""

import logging
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from facilities.models import Membership
from portal.notifications import notify

from . import selectors
from .models import LastVisit, ReminderPreference, ReminderSent

logger = logging.getLogger(__name__)

# Page views closer together than this are one visit: a reload, or going from マイページ to a
# facility's page, keeps showing the same 「前回のご利用以降」 changes.
VISIT_GAP = timedelta(minutes=30)
UNSUBSCRIBE_SALT = "todos.reminders.unsubscribe"


def record_visit(*, user, now: datetime | None = None) -> datetime | None:
    """Record a page view and answer when the user's previous visit ended (None on the first
    visit): the changes since then are what is new to the user."""
    now = now or timezone.now()
    with transaction.atomic():
        visit = LastVisit.objects.select_for_update().filter(user=user).first()
        if visit is None:
            try:
                with transaction.atomic():
                    LastVisit.objects.create(user=user, visited_at=now)
            except IntegrityError:  # a parallel first page view made it
                return None
            return None
        if now - visit.visited_at >= VISIT_GAP:
            visit.previous_visited_at = visit.visited_at
        visit.visited_at = max(now, visit.visited_at)
        visit.save(update_fields=["visited_at", "previous_visited_at"])
        return visit.previous_visited_at


def receives_reminders(user) -> bool:
    preference = ReminderPreference.objects.filter(user=user).first()
    return preference is None or preference.receives_reminders


def set_reminder_preference(*, user, receives: bool) -> ReminderPreference:
    preference, _ = ReminderPreference.objects.update_or_create(
        user=user, defaults={"receives_reminders": receives})
    logger.info("reminder preference of user %s: %s", user.pk, "on" if receives else "off")
    return preference


# ---------------------------------------------------------------- the unsubscribe link


def unsubscribe_token(user) -> str:
    """Signed with the secret key: names the user and cannot be made for another one."""
    return signing.dumps({"user": user.pk}, salt=UNSUBSCRIBE_SALT, compress=True)


def user_for_unsubscribe_token(token: str):
    """The user the token was made for, or None for a forged or damaged token."""
    try:
        payload = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    user_id = payload.get("user") if isinstance(payload, dict) else None
    if not isinstance(user_id, int):
        return None
    return get_user_model().objects.filter(pk=user_id, is_active=True).first()


def unsubscribe(*, token: str) -> bool:
    user = user_for_unsubscribe_token(token)
    if user is None:
        return False
    set_reminder_preference(user=user, receives=False)
    return True


# Where `scripts/serve` runs, for reminders sent without PORTAL_BASE_URL (development).
DEVELOPMENT_BASE_URL = "http://127.0.0.1:8000"


def portal_url(path: str) -> str:
    """An absolute link for an e-mail sent outside any request (PORTAL_BASE_URL)."""
    return (settings.PORTAL_BASE_URL or DEVELOPMENT_BASE_URL).rstrip("/") + path


# ---------------------------------------------------------------- the weekly reminder


def week_of(day: date) -> date:
    """The Monday that starts the week of `day`."""
    return day - timedelta(days=day.weekday())


def send_reminders(*, today: date | None = None) -> int:
    """E-mail every facility user who has something due within DUE_SOON_DAYS days, once a
    week at most, unless the user turned the reminder off. Returns how many were sent;
    running it again in the same week sends nothing more."""
    today = today or timezone.localdate()
    week = week_of(today)
    User = get_user_model()
    users = (
        User.objects.filter(is_active=True, pk__in=Membership.objects.values("user_id"))
        .exclude(reminder_preference__receives_reminders=False)
        .exclude(pk__in=ReminderSent.objects.filter(week=week).values("user_id"))
        .order_by("pk")
    )
    sent = 0
    for user in users.iterator():
        todos = selectors.todos_for(user=user, today=today)
        due = selectors.due_soon(todos, today)
        if not due:
            continue
        if _send_reminder(user=user, week=week, today=today, todos=todos, due=due):
            sent += 1
    logger.info("reminders of the week of %s: %d sent", week.isoformat(), sent)
    return sent


def _send_reminder(*, user, week: date, today: date, todos, due) -> bool:
    try:
        with transaction.atomic():
            ReminderSent.objects.create(user=user, week=week, item_count=len(due))
            unsubscribe_url = portal_url(
                reverse("todos:unsubscribe", args=[unsubscribe_token(user)]))
            notify(to=[user.email], name="reminder", context={
                "user": user, "due": due, "portal_name": settings.PORTAL_NAME,
                "others": [t for t in todos if t.is_open and t not in due],
                "days": selectors.DUE_SOON_DAYS, "today": today,
                "dashboard_url": portal_url(reverse("dashboard")),
                "settings_url": portal_url(reverse("todos:reminders")),
                "unsubscribe_url": unsubscribe_url,
            }, headers={
                # One click in the mail program (RFC 8058) posts to the same signed link.
                "List-Unsubscribe": f"<{unsubscribe_url}>",
                "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            })
    except IntegrityError:  # sent meanwhile by another run of the same week
        return False
    return True
