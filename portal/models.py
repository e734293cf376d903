from django.conf import settings
from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models
from django.utils import timezone
from simple_history.models import HistoricalRecords

from .jobs import BackgroundJob, Phase, job_moves, job_state_field
from .workflow import move


class UserManager(BaseUserManager):
    use_in_migrations = True

    def _create_user(self, email: str, password: str | None, **extra_fields):
        if not email:
            raise ValueError("メールアドレスは必須です")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email: str, password: str | None = None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A person who logs in: facility staff or an administrator. The e-mail is the log-in."""

    username = None
    email = models.EmailField("メールアドレス", unique=True)
    full_name = models.CharField("氏名", max_length=100, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = UserManager()

    class Meta:
        verbose_name = "ユーザー"
        verbose_name_plural = "ユーザー"

    def __str__(self) -> str:
        return self.full_name or self.email


class ImportJobState(models.TextChoices):
    UPLOADED = "uploaded", "受付済み（確認待ち）"
    CHECKING = "checking", "内容を確認中"
    CHECKED = "checked", "確認済み（確定待ち）"
    CONFIRMED = "confirmed", "確定済み（取り込み待ち）"
    IMPORTING = "importing", "取り込み中"
    DONE = "done", "取り込み完了"
    FAILED = "failed", "取り込めませんでした"


def may_import(job: "ImportJob", user) -> bool:
    return user.has_perm(job.import_kind.import_permission)


class ImportJob(BackgroundJob):
    """One administrators' CSV import (facility master, monthly statistics): the file kept
    privately, its dry run kept for the confirm step, then the import, run in the background
    (portal/import_jobs.py). A background job (portal/jobs.py) of two phases, the dry run and
    the import; between them, confirming is the administrator's workflow move."""

    class Kind(models.TextChoices):
        FACILITY_MASTER = "facility_master", "施設マスタ"
        MONTHLY_STATISTICS = "monthly_statistics", "月次統計"

    PHASES = (Phase(ImportJobState.UPLOADED, ImportJobState.CHECKING, ImportJobState.CHECKED),
              Phase(ImportJobState.CONFIRMED, ImportJobState.IMPORTING, ImportJobState.DONE))
    FAILED = ImportJobState.FAILED
    OPEN_ENDED = True  # the dry run counts the lines as it reads them

    kind = models.CharField("種類", max_length=30, choices=Kind.choices)
    state = job_state_field(ImportJobState.choices, default=ImportJobState.UPLOADED)
    stored_name = models.CharField("保存名", max_length=64, unique=True)
    original_name = models.CharField("元のファイル名", max_length=255)
    size = models.PositiveBigIntegerField("大きさ（バイト）", default=0)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="確定した人",
                                     on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    new_count = models.PositiveIntegerField("新規", default=0)
    updated_count = models.PositiveIntegerField("更新", default=0)
    unchanged_count = models.PositiveIntegerField("変更なし", default=0)
    error_count = models.PositiveIntegerField("エラーの行", default=0)
    errors = models.JSONField("エラー（最初の100件）", default=list, blank=True)
    dry_run = models.JSONField("確認の結果", default=dict, blank=True)
    checked_at = models.DateTimeField("確認日時", null=True, blank=True)
    confirmed_at = models.DateTimeField("確定日時", null=True, blank=True)

    start, finish, fail = job_moves(*PHASES, failed=FAILED)

    class Meta(BackgroundJob.Meta):
        verbose_name = "CSV取り込み"
        verbose_name_plural = "CSV取り込み"

    def __str__(self) -> str:
        return f"{self.get_kind_display()}の取り込み #{self.pk}（{self.original_name}）"

    @property
    def import_kind(self):
        from .imports import import_kind

        return import_kind(self.kind)

    @property
    def lines_done(self) -> int:
        """The lines read so far (the job's `done`)."""
        return self.done

    @move(source=ImportJobState.CHECKED, target=ImportJobState.CONFIRMED,
          permission=may_import, label="取り込みを確定する")
    def confirm(self, *, actor):
        self.confirmed_by, self.confirmed_at = actor, timezone.now()
        self.done = 0


class TwoFactorInvitation(models.Model):
    """A one-time link e-mailed to a staff account's address: the only way such an account
    sets up its authenticator (portal/invitations.py). Only the token's SHA-256 is kept; a
    new invitation revokes the account's open one."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="アカウント",
                             on_delete=models.CASCADE, related_name="two_factor_invitations")
    token_hash = models.CharField("トークンのハッシュ", max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="送った人",
                                   on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField("送信日時", default=timezone.now)
    expires_at = models.DateTimeField("有効期限")
    used_at = models.DateTimeField("設定日時", null=True, blank=True)
    revoked_at = models.DateTimeField("取り消し日時", null=True, blank=True)

    class Meta:
        verbose_name = "二段階認証の招待"
        verbose_name_plural = "二段階認証の招待"
        constraints = [
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(used_at__isnull=True, revoked_at__isnull=True),
                name="one_open_two_factor_invitation_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.user}への二段階認証の招待"


class ContactPoint(models.Model):
    """問い合わせ先: the one office a facility calls or writes to, printed on every letter,
    notice and e-mail and shown on the pages that end a step (portal/contact.py). One row,
    kept by the system administrators; every change is kept in its history."""

    name = models.CharField("窓口名", max_length=100,
                            help_text="例: オンライン資格確認ポータル 問い合わせ窓口")
    phone = models.CharField("電話番号", max_length=20, help_text="例: 0120-000-000")
    hours = models.CharField("受付時間", max_length=100,
                             help_text="例: 平日 9:00〜17:00（土日祝日・年末年始を除く）")
    postcode = models.CharField("郵便番号", max_length=12,
                                help_text="数字7桁（例: 100-8916）。")
    address = models.CharField("住所", max_length=200,
                               help_text="都道府県から（例: 東京都千代田区霞が関1-2-2）。")
    url = models.URLField("ウェブサイト", blank=True,
                          help_text="問い合わせ窓口のページ。空欄のときはポータルのアドレスを記載します。")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="更新者", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "問い合わせ先"
        verbose_name_plural = "問い合わせ先"
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="one_contact_point")]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        from django.core.exceptions import ValidationError

        from .contact import normalise_postcode, starts_with_prefecture

        errors = {}
        if self.postcode:
            postcode = normalise_postcode(self.postcode)
            if postcode is None:
                errors["postcode"] = "郵便番号は数字7桁で入力してください（例: 100-8916）。"
            else:
                self.postcode = postcode
        if self.address and not starts_with_prefecture(self.address):
            errors["address"] = "住所は都道府県から入力してください（例: 東京都千代田区…）。"
        if errors:
            raise ValidationError(errors)

    @property
    def postal_address(self) -> str:
        from .contact import postal_address

        return postal_address(address=self.address, postcode=self.postcode)

    @classmethod
    def current(cls) -> "ContactPoint | None":
        return cls.objects.filter(pk=1).first()
