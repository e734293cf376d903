"""Facilities, their staff, usage-start applications, device accounts, go-live dates and
the public list (docs/domain.md §2–§4)."""

import unicodedata

import jaconv
from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from portal.workflow import WorkflowModel, facility_state_label, move, state_field

from .activity import FacilityMoveEffects
from .codes import luhn_check_digit
from .kinds import MEDICAL_KINDS, SEJUTSU_KINDS
from .prefectures import PREFECTURE_NAMES, PREFECTURES


class FacilityKind(models.TextChoices):
    HOSPITAL = "hospital", "病院"
    CLINIC = "clinic", "医科診療所"
    DENTAL = "dental", "歯科診療所"
    PHARMACY = "pharmacy", "薬局"
    JUDO = "judo", "柔道整復 施術所"
    AMA = "ama", "あん摩マッサージ指圧 施術所"
    ACUPUNCTURE = "acupuncture", "はり・きゅう 施術所"
    AMA_ACUPUNCTURE = "ama_acupuncture", "あん摩マッサージ指圧・はり・きゅう 施術所"


# 点数表番号 (3rd digit of the 医療機関等コード) each medical kind must carry.
POINT_TABLE_FOR_KIND = {"hospital": "1", "clinic": "1", "dental": "3", "pharmacy": "4"}


class Facility(models.Model):
    """One facility of the master. `code` is the 医療機関等コード (medical kinds) or the
    登録記号番号 (施術所); `account_last4` is checked at linking and used for nothing else."""

    kind = models.CharField("種別", max_length=20, choices=FacilityKind.choices, db_index=True)
    code = models.CharField("医療機関等コード／登録記号番号", max_length=24, unique=True)
    name = models.CharField("医療機関等名", max_length=200)
    prefecture = models.CharField("都道府県", max_length=2, choices=PREFECTURES, db_index=True)
    postcode = models.CharField("郵便番号", max_length=8, blank=True, default="", db_default="",
                                help_text="数字7桁（例: 100-8916）。文書の宛先に〒として書きます。")
    address = models.CharField("所在地", max_length=300, blank=True)
    founder_name = models.CharField("開設者氏名", max_length=100, blank=True)
    phone = models.CharField("電話番号", max_length=20, blank=True)
    account_last4 = models.CharField("請求口座番号下4桁", max_length=4)
    paper_claims = models.BooleanField(
        "紙レセプト請求（オンライン資格確認の義務化対象外）", default=False
    )
    main_facility = models.ForeignKey(
        "self",
        verbose_name="主たる施術所（併設）",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="subordinates",
    )
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "施設"
        verbose_name_plural = "施設"
        ordering = ["code"]
        permissions = [("import_facility", "施設マスタを取り込む"),
                       ("export_facility", "施設マスタを書き出す（口座番号下4桁を含む）"),
                       ("view_account_last4", "請求口座番号下4桁を見る（施設マスタの管理）")]
        constraints = [
            models.CheckConstraint(
                condition=Q(main_facility__isnull=True) | ~Q(main_facility=models.F("id")),
                name="facility_not_own_main",
            ),
            models.CheckConstraint(
                condition=Q(account_last4__regex=r"^[0-9]{4}$"), name="facility_last4_digits"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    @property
    def is_sejutsu(self) -> bool:
        return self.kind in SEJUTSU_KINDS

    @property
    def prefecture_name(self) -> str:
        return PREFECTURE_NAMES.get(self.prefecture, "")

    @property
    def postal_address(self) -> str:
        """The address as written on an envelope: 〒 and the postcode (when the master has
        one), the prefecture, then the rest (portal/contact.py)."""
        from portal.contact import postal_address

        return postal_address(prefecture=self.prefecture_name, address=self.address,
                              postcode=self.postcode)

    @property
    def institution_code(self) -> str:
        """機関コード entered in the app. Medical kinds use their 医療機関等コード; a 施術所 has
        none, so it gets prefecture + 9 + a 6-digit serial + check digit (a Decision: 9 is no
        点数表番号, so these never collide with real codes)."""
        if self.kind in MEDICAL_KINDS:
            return self.code
        body = f"{self.prefecture}9{self.pk % 1_000_000:06d}"
        return body + str(luhn_check_digit(body))


class Membership(models.Model):
    """A user serving a facility as its staff (担当者). One facility may have several staff;
    one person may serve several (annexed) facilities."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="ユーザー", on_delete=models.CASCADE, related_name="memberships"
    )
    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "施設担当者"
        verbose_name_plural = "施設担当者"
        constraints = [
            models.UniqueConstraint(fields=["user", "facility"], name="membership_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.facility}"


# What each recorded result of a link attempt means, in the admin's words ("": accepted).
LINK_ATTEMPT_RESULTS = [
    ("", "申請を受け付けた"),
    ("already_staff", "既に担当者"),
    ("not_found", "施設コードが見つからない"),
    ("last4_mismatch", "口座番号下4桁の不一致"),
    ("locked", "停止中（利用者の誤り回数）"),
    ("address_locked", "停止中（接続元の誤り回数）"),
    ("facility_locked", "停止中（施設への誤り回数）"),
]


class LinkAttempt(models.Model):
    """Every attempt to link a user to a facility (なりすまし防止). The digits typed are not kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="ユーザー", on_delete=models.CASCADE, related_name="link_attempts"
    )
    code_entered = models.CharField("入力された施設コード", max_length=24)
    facility = models.ForeignKey(Facility, verbose_name="施設", null=True, blank=True, on_delete=models.SET_NULL)
    succeeded = models.BooleanField("成功", default=False)
    reason = models.CharField("結果", max_length=40, blank=True, choices=LINK_ATTEMPT_RESULTS)
    ip_address = models.GenericIPAddressField("IPアドレス", null=True, blank=True)
    created_at = models.DateTimeField("登録日時", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "施設紐付けの試行"
        verbose_name_plural = "施設紐付けの試行"
        ordering = ["-created_at"]
        # The log is read by client address and time (the admin; the limits are the cache's).
        indexes = [models.Index(fields=["ip_address", "created_at"],
                                name="link_attempt_address_time")]

    def __str__(self) -> str:
        when = timezone.localtime(self.created_at) if self.created_at else None
        stamp = f"{when.year}年{when.month}月{when.day}日{when:%H:%M} " if when else ""
        return f"{stamp}{self.code_entered} {self.get_reason_display()}"


class LinkRoute(models.TextChoices):
    STAFF = "staff", "施設の担当者が承認"
    LETTER = "letter", "確認コードを郵送"


class LinkRequestState(models.TextChoices):
    PENDING = "pending", "確認待ち"
    LINKED = "linked", "登録済み"
    REFUSED = "refused", "承認されませんでした"
    WITHDRAWN = "withdrawn", "取下げ"
    CANCELLED = "cancelled", "取消し（実施機関）"
    EXPIRED = "expired", "期限切れ"


LINK_REQUEST_PERMISSION = "facilities.handle_linkrequest"


def is_requester(link_request, user) -> bool:
    return bool(user is not None and user.is_authenticated
                and link_request.user_id == user.pk)


def is_facility_staff_of_request(link_request, user) -> bool:
    """Staff of the facility asked (the requester is never one of them while it is pending)."""
    return bool(user is not None and user.is_authenticated
                and Membership.objects.filter(user=user,
                                              facility_id=link_request.facility_id).exists())


class LinkRequest(WorkflowModel, models.Model):
    """A user's request to become staff of a facility, made by its code and 請求口座番号下4桁
    (なりすまし防止). The digits alone make no staff: a facility with staff has one of them
    approve (route staff); a facility with none gets a one-time code by post at its address
    in the master, which the requester types in (route letter). Moves only through the
    workflow kernel; the code is kept as a hash only (`code_hash`), never in its history."""

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE,
                                 related_name="link_requests")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申請したユーザー",
                             on_delete=models.CASCADE, related_name="link_requests")
    route = models.CharField("確認の方法", max_length=10, choices=LinkRoute.choices)
    state = state_field("状態", choices=LinkRequestState.choices,
                        default=LinkRequestState.PENDING)
    created_at = models.DateTimeField("申請日時", auto_now_add=True)
    expires_at = models.DateTimeField("期限", db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="承認・取消しをした人",
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField("決定日時", null=True, blank=True)
    code_hash = models.CharField(max_length=200, blank=True)
    code_failures = models.PositiveSmallIntegerField("確認コードの誤入力", default=0)
    letter_issued_at = models.DateTimeField("通知書の作成日時", null=True, blank=True)
    letter_count = models.PositiveSmallIntegerField("通知書の作成回数", default=0)
    letter_sent_at = models.DateTimeField("通知書の発送日時", null=True, blank=True)
    letter_sent_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="発送した人",
                                       null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")
    ip_address = models.GenericIPAddressField("IPアドレス", null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["code_hash"])

    class Meta:
        verbose_name = "施設の確認（担当者の登録）の申請"
        verbose_name_plural = "施設の確認（担当者の登録）の申請"
        ordering = ["-created_at", "-pk"]
        permissions = [("handle_linkrequest",
                        "担当者の登録の申請を扱う（確認コードの通知書の作成・発送、取消し）")]
        constraints = [
            # One open request per user and facility (a double click finds the first).
            models.UniqueConstraint(fields=["user", "facility"],
                                    condition=Q(state="pending"),
                                    name="one_pending_link_request"),
        ]

    def __str__(self) -> str:
        return f"{self.facility.name} ← {self.user}（{self.get_state_display()}）"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_open(self) -> bool:
        return self.state == LinkRequestState.PENDING and not self.is_expired

    def move_refusal(self, name: str, user):
        """A request past its expiry is decided by nobody (the nightly job marks it); a code
        confirms only a request of the letter route whose letter was made."""
        from portal.errors import IllegalTransition

        if name == "expire":
            return None
        if self.state == LinkRequestState.PENDING and self.is_expired:
            return IllegalTransition("この申請は期限が切れています。必要であれば、もう一度"
                                     "施設の確認から申請してください。")
        if name == "confirm_code" and (self.route != LinkRoute.LETTER or not self.code_hash):
            return IllegalTransition("この申請は確認コードでは登録できません。")
        return None

    def after_move(self, *, move, actor, summary: str) -> None:
        from .services import link_request_after_move

        link_request_after_move(self, move=move, actor=actor, summary=summary)

    def _decided(self, actor) -> None:
        self.decided_by, self.decided_at = actor, timezone.now()

    # ---- moves (made only through portal.workflow.perform)

    @move(source=LinkRequestState.PENDING, target=LinkRequestState.LINKED,
          permission=is_facility_staff_of_request, label="承認する")
    def approve(self, *, actor):
        self._decided(actor)

    @move(source=LinkRequestState.PENDING, target=LinkRequestState.REFUSED,
          permission=is_facility_staff_of_request, label="承認しない")
    def refuse(self, *, actor):
        self._decided(actor)

    @move(source=LinkRequestState.PENDING, target=LinkRequestState.LINKED,
          permission=is_requester, label="確認コードで登録する")
    def confirm_code(self, *, actor):
        self._decided(actor)

    @move(source=LinkRequestState.PENDING, target=LinkRequestState.WITHDRAWN,
          permission=is_requester, label="申請を取り下げる")
    def withdraw(self, *, actor):
        self._decided(actor)

    @move(source=LinkRequestState.PENDING, target=LinkRequestState.CANCELLED,
          permission=LINK_REQUEST_PERMISSION, label="申請を取り消す（実施機関）")
    def cancel(self, *, actor):
        self._decided(actor)

    @move(source=LinkRequestState.PENDING, target=LinkRequestState.EXPIRED,
          permission=LINK_REQUEST_PERMISSION, label="期限切れにする", system=True)
    def expire(self, *, actor):
        self.decided_at = timezone.now()


class ApplicationKind(models.TextChoices):
    START = "start", "マイナ資格確認アプリ利用開始申請"
    CHANGE = "change", "マイナ資格確認アプリ利用終了・変更申請"


class ApplicationState(models.TextChoices):
    SUBMITTED = "submitted", "申請中"
    SECOND_CHECK = "second_check", "二次確認中"
    ACCEPTED = "accepted", "承認済み"
    RETURNED = "returned", "差戻し"


# The facility's labels: the internal second check reads as still under review.
FACILITY_VISIBLE_STATE = {
    ApplicationState.SUBMITTED: "申請中",
    ApplicationState.SECOND_CHECK: "申請中",
    ApplicationState.ACCEPTED: "承認済み",
    ApplicationState.RETURNED: "差戻し",
}
OPEN_STATES = (ApplicationState.SUBMITTED, ApplicationState.SECOND_CHECK)
REVIEW_PERMISSION = "facilities.review_usageapplication"


class EndAction(models.TextChoices):
    NONE = "", "終了予定日の指定なし"
    END = "end", "利用終了予定日を申請する"
    CHANGE = "change", "利用終了予定日を変更する"
    CANCEL = "cancel", "利用終了を取り消す"


class Channel(models.TextChoices):
    ONLINE = "online", "ポータルサイト"
    POST = "post", "郵送"


class UsageApplication(FacilityMoveEffects, WorkflowModel, models.Model):
    """利用開始申請 (kind start) and 利用終了・変更申請 (kind change), docs/domain.md §3. Its state
    moves only through the workflow kernel (`portal.workflow.perform`)."""

    activity_prefix = "application"
    facility_state_labels = FACILITY_VISIBLE_STATE

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.PROTECT, related_name="applications")
    kind = models.CharField("申請区分", max_length=10, choices=ApplicationKind.choices)
    channel = models.CharField(
        "受付方法", max_length=10, choices=Channel.choices, default=Channel.ONLINE
    )
    state = state_field("状態", choices=ApplicationState.choices,
                        default=ApplicationState.SUBMITTED)
    receipt_number = models.CharField("受付番号", max_length=20, unique=True, null=True)
    contact_name = models.CharField("担当者名", max_length=100)
    founder_name = models.CharField("開設者氏名", max_length=100)
    phone = models.CharField("電話番号", max_length=20)
    email = models.EmailField("メールアドレス")
    staff_count = models.PositiveSmallIntegerField("職員数", null=True, blank=True)
    device_count = models.PositiveSmallIntegerField("申請台数", null=True, blank=True)
    end_action = models.CharField(
        "利用終了", max_length=10, choices=EndAction.choices, blank=True, default=""
    )
    planned_end_date = models.DateField("利用終了予定年月日", null=True, blank=True)
    return_reason = models.TextField("差戻し理由", blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申請者",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    submission_token = models.UUIDField(unique=True, null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField("申請日時", auto_now_add=True)
    decided_at = models.DateTimeField("審査日時", null=True, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="審査の担当者", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="審査・決定者",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    history = HistoricalRecords()

    class Meta:
        verbose_name = "利用申請"
        verbose_name_plural = "利用申請"
        ordering = ["-submitted_at"]
        permissions = [("review_usageapplication", "利用申請を審査する（承認・差戻し・二次確認）")]
        constraints = [
            # One application of each kind under review per facility at a time.
            models.UniqueConstraint(
                fields=["facility", "kind"],
                condition=Q(state__in=["submitted", "second_check"]),
                name="one_open_application_per_kind",
            ),
            models.CheckConstraint(
                condition=Q(staff_count__isnull=True) | Q(staff_count__gte=1),
                name="application_staff_positive",
            ),
            models.CheckConstraint(
                condition=Q(device_count__isnull=True) | Q(device_count__gte=0),
                name="application_devices_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number or '-'} {self.get_kind_display()}"

    @property
    def facility_state_label(self) -> str:
        return facility_state_label(self)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def extra_recipients(self) -> list[str]:
        return [self.email]

    def email_context(self) -> dict:
        return {"application": self}

    def _decided(self, by) -> None:
        self.decided_by, self.decided_at = by, timezone.now()

    # ---- moves (made only through portal.workflow.perform)

    @move(source=ApplicationState.SUBMITTED, target=ApplicationState.SECOND_CHECK,
          permission=REVIEW_PERMISSION, label="二次確認に回す", visible_to_facility=False)
    def start_second_check(self, *, actor):
        self._decided(actor)

    @move(source=[ApplicationState.SUBMITTED, ApplicationState.SECOND_CHECK],
          target=ApplicationState.ACCEPTED, permission=REVIEW_PERMISSION, label="承認する",
          four_eyes=("start_second_check",), email="application_accepted")
    def accept(self, *, actor):
        self._decided(actor)

    @move(source=[ApplicationState.SUBMITTED, ApplicationState.SECOND_CHECK],
          target=ApplicationState.RETURNED, permission=REVIEW_PERMISSION, label="差し戻す",
          email="application_returned")
    def send_back(self, *, actor, reason: str):
        self._decided(actor)
        self.return_reason = reason


class DeviceAccount(models.Model):
    """資格確認アカウント: one per device. The initial password and the activation code are
    generated when staff download the settings PDF and exist in clear only in that PDF; the
    database keeps their hashes (a new download issues new ones)."""

    facility = models.ForeignKey(
        Facility, verbose_name="施設", on_delete=models.PROTECT, related_name="device_accounts"
    )
    application = models.ForeignKey(
        UsageApplication, verbose_name="利用申請", on_delete=models.PROTECT, related_name="device_accounts"
    )
    number = models.PositiveSmallIntegerField("端末番号")
    login_id = models.CharField("ID", max_length=20, unique=True)
    password_hash = models.CharField(max_length=200, blank=True)
    activation_code_hash = models.CharField(max_length=200, blank=True)
    credentials_issued_at = models.DateTimeField("設定情報の発行日時", null=True, blank=True)
    issue_count = models.PositiveSmallIntegerField("発行回数", default=0)
    is_active = models.BooleanField("有効", default=True)
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    ended_at = models.DateTimeField("利用終了日時", null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["password_hash", "activation_code_hash"])

    class Meta:
        verbose_name = "資格確認アカウント"
        verbose_name_plural = "資格確認アカウント"
        ordering = ["facility", "number"]
        constraints = [
            models.UniqueConstraint(fields=["facility", "number"], name="device_number_unique")
        ]

    def __str__(self) -> str:
        return self.login_id


class UsageStatus(models.TextChoices):
    NOT_APPLIED = "not_applied", "未申請"
    APPLIED = "applied", "申請中"
    AVAILABLE = "available", "利用可"
    ENDING = "ending", "利用可（終了予定あり）"
    ENDED = "ended", "利用終了"


class GoLive(models.Model):
    """運用開始日 (or the planned date), docs/domain.md §4; for paper applications the date the
    administrator registered it."""

    class Source(models.TextChoices):
        FACILITY = "facility", "施設が入力"
        POST = "post", "郵送申請の登録日"

    facility = models.OneToOneField(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="golive")
    date = models.DateField("運用開始日")
    source = models.CharField("登録元", max_length=10, choices=Source.choices, default=Source.FACILITY)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="更新者", null=True, blank=True, on_delete=models.SET_NULL
    )
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "運用開始日"
        verbose_name_plural = "運用開始日"

    def __str__(self) -> str:
        return f"{self.facility}: {self.date.isoformat()}"


def public_search_key(value: str) -> str:
    """Text as the public list's search compares it, for the stored column and the typed words
    alike: NFKC (full-width letters and digits, half-width kana), lower case, katakana as
    hiragana, without spaces or control characters — so あおば finds アオバ and ｱｵﾊﾞ."""
    text = jaconv.kata2hira(unicodedata.normalize("NFKC", value or "").lower())
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] != "C")


def public_list_search_text(*, name: str, prefecture: str, address: str) -> str:
    """What the public list's search looks in: the name, a line break (no search matches
    across it, as typed words lose their spaces and line breaks), then prefecture and address."""
    return (public_search_key(name) + "\n"
            + public_search_key(PREFECTURE_NAMES.get(prefecture, "") + address))


class PublicListEntry(models.Model):
    """The weekly snapshot of facilities that accept the My Number insurance card.

    `search_text` is the name, then a line break, then prefecture and address, each through
    `public_search_key` (the break keeps a search from matching across the two). On PostgreSQL
    migration 0006 gives it a GIN trigram index (pg_trgm), which the model cannot declare
    because SQLite has none; `code` has a prefix (pattern) index, (prefecture, code) orders the
    list and is its page key."""

    facility = models.OneToOneField(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=24)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=20, choices=FacilityKind.choices)
    prefecture = models.CharField(max_length=2, choices=PREFECTURES)
    address = models.CharField(max_length=300, blank=True)
    golive_date = models.DateField("運用開始日")
    search_text = models.TextField("検索用の文字列", blank=True, default="")

    class Meta:
        verbose_name = "公開リスト掲載"
        verbose_name_plural = "公開リスト掲載"
        ordering = ["prefecture", "code"]
        constraints = [
            models.UniqueConstraint(fields=["prefecture", "code"], name="public_list_order")
        ]
        indexes = [
            models.Index(fields=["code"], opclasses=["varchar_pattern_ops"],
                         name="public_list_code_prefix"),
        ]

    def __str__(self) -> str:
        return self.name


class PublicListBuild(models.Model):
    built_at = models.DateTimeField("更新日時", auto_now_add=True)
    entry_count = models.PositiveIntegerField("掲載件数")

    class Meta:
        verbose_name = "公開リスト更新"
        verbose_name_plural = "公開リスト更新"
        ordering = ["-built_at"]

    def __str__(self) -> str:
        return f"{self.built_at:%Y-%m-%d %H:%M} ({self.entry_count})"


class Activity(models.Model):
    """The history of everything that happened to a facility's objects: who, when, what.
    Entries with visible_to_facility=False (e.g. an internal second check) are for
    administrators only."""

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="activities")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作者", null=True, blank=True, on_delete=models.SET_NULL
    )
    target_type = models.ForeignKey(ContentType, verbose_name="対象の種類", null=True, on_delete=models.SET_NULL)
    target_id = models.PositiveBigIntegerField("対象のID", null=True)
    target = GenericForeignKey("target_type", "target_id")
    verb = models.CharField("操作", max_length=40)
    summary = models.TextField("内容")
    receipt_number = models.CharField("受付番号", max_length=20, blank=True)
    from_state = models.CharField("変更前の状態", max_length=20, blank=True)
    to_state = models.CharField("変更後の状態", max_length=20, blank=True)
    visible_to_facility = models.BooleanField("施設に表示", default=True)
    created_at = models.DateTimeField("登録日時", auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "履歴"
        verbose_name_plural = "履歴"
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["target_type", "target_id"])]

    def __str__(self) -> str:
        return self.summary
