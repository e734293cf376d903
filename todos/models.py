"""What the to-do list remembers per user: the last visit (for 「前回のご利用以降」), whether the
user wants the weekly reminder, and which weeks' reminders were sent (one a week at most)."""

from django.conf import settings
from django.db import models


class LastVisit(models.Model):
    """`visited_at` is the latest page view of マイページ or a facility's top page;
    `previous_visited_at` is where the visit before the current one ended. A visit is page
    views with gaps shorter than `todos.services.VISIT_GAP`, so a reload or a move between
    マイページ and a facility page keeps showing the same changes."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name="ユーザー",
                                on_delete=models.CASCADE, related_name="last_visit")
    visited_at = models.DateTimeField("最終閲覧日時")
    previous_visited_at = models.DateTimeField("前回の訪問の最終閲覧日時", null=True, blank=True)

    class Meta:
        verbose_name = "最終訪問"
        verbose_name_plural = "最終訪問"

    def __str__(self) -> str:
        return f"{self.user}: {self.visited_at:%Y-%m-%d %H:%M}"


class ReminderPreference(models.Model):
    """A user without a row receives reminders (the default)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name="ユーザー",
                                on_delete=models.CASCADE, related_name="reminder_preference")
    receives_reminders = models.BooleanField("期限が近い手続きのお知らせメールを受け取る",
                                             default=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)

    class Meta:
        verbose_name = "お知らせメールの設定"
        verbose_name_plural = "お知らせメールの設定"

    def __str__(self) -> str:
        return f"{self.user}: {'受け取る' if self.receives_reminders else '停止中'}"


class ReminderSent(models.Model):
    """One row per user and week (the week's Monday): the reminder of that week was sent."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="ユーザー",
                             on_delete=models.CASCADE, related_name="+")
    week = models.DateField("週（月曜日）")
    item_count = models.PositiveSmallIntegerField("件数")
    sent_at = models.DateTimeField("送信日時", auto_now_add=True)

    class Meta:
        verbose_name = "お知らせメールの送信"
        verbose_name_plural = "お知らせメールの送信"
        constraints = [
            models.UniqueConstraint(fields=["user", "week"], name="one_reminder_per_week"),
        ]

    def __str__(self) -> str:
        return f"{self.user}: {self.week:%Y-%m-%d}"
