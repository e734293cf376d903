"""The counter's data (docs/domain.md §8): the issuing CAs administrators trust and their
revocation lists (CRLs), the insured-person registry a card certificate is looked up in, the device accounts' short-lived
tokens and one-time challenges, the log of every call to the counter API, and the distinct
card users of a facility's month.

What is never kept: a card's certificate, its holder's name in the log, and any 12-digit
number (a 個人番号 has 12 digits). The log and the monthly distinct users carry only a keyed
hash of the certificate's issuer and serial (`cardreader.services.serial_hash`)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from facilities.models import DeviceAccount, Facility

# A keyed hash as stored: base32 (lowercase, unpadded) of HMAC-SHA256, 52 characters. Not
# hex: 64 hex characters hold a run of 12 decimal digits in about one hash in fifteen, and
# such a run cannot be told from a 個人番号 by the scans that look for one.
HASH_LENGTH = 52
SERIAL_MAX_DIGITS = 49  # an X.509 serial is at most 20 octets


class TrustedIssuer(models.Model):
    """An issuing CA (the JPKI one for 利用者証明用電子証明書) whose card certificates the
    counter accepts. The PEM is checked when saved (one CA certificate); the subject, the
    validity and the fingerprint are read from it, never typed."""

    name = models.CharField("名称", max_length=100)
    certificate_pem = models.TextField(
        "CA証明書（PEM）",
        help_text="-----BEGIN CERTIFICATE----- から -----END CERTIFICATE----- までを1つ貼り付けてください。")
    subject = models.CharField("サブジェクト（RFC 4514）", max_length=500, editable=False)
    fingerprint = models.CharField("SHA-256 フィンガープリント", max_length=95, unique=True,
                                   editable=False)
    not_before = models.DateTimeField("CA証明書の有効期間の開始", null=True, editable=False)
    not_after = models.DateTimeField("CA証明書の有効期限", editable=False)
    is_active = models.BooleanField(
        "有効", default=True, help_text="外すと、このCAが発行したカードの証明書を受け付けません。")
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "信頼する発行元CA"
        verbose_name_plural = "信頼する発行元CA"
        ordering = ["subject", "pk"]
        constraints = [
            # A row whose PEM was never read (saved around the form) has no subject.
            models.CheckConstraint(condition=~Q(subject=""), name="trusted_issuer_subject_read"),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.subject}）"

    def clean(self) -> None:
        """The PEM must be one CA certificate (cA=TRUE, keyCertSign), valid now when it is
        added or kept active (an expired one may still be switched off); its subject,
        validity and fingerprint follow."""
        from django.core.exceptions import ValidationError
        from django.utils import timezone

        from .certificates import (
            CertificateRefused,
            check_issuer_validity,
            describe_issuer,
            load_issuer,
        )

        try:
            described = describe_issuer(self.certificate_pem or "")
            if self.pk is None or self.is_active:
                check_issuer_validity(load_issuer(described.pem), timezone.now())
        except CertificateRefused as refused:
            raise ValidationError({"certificate_pem": refused.message}) from None
        self.certificate_pem = described.pem
        self.subject = described.subject
        self.fingerprint = described.fingerprint
        self.not_before = described.not_before
        self.not_after = described.not_after
        duplicate = TrustedIssuer.objects.filter(fingerprint=self.fingerprint).exclude(pk=self.pk)
        if duplicate.exists():
            raise ValidationError({"certificate_pem": "このCA証明書はすでに登録されています。"})


class RevocationList(models.Model):
    """A CRL of a trusted CA, uploaded by システム管理 (cardreader.services.load_revocation_list):
    verified with the CA's key when uploaded and kept as it was signed (DER, zlib-compressed:
    the DER's dates are runs of 12 digits, which no stored value may hold). The CA's current
    CRL is the one with the latest thisUpdate; a card certificate whose serial it lists is
    refused. Rows are never changed."""

    issuer = models.ForeignKey(TrustedIssuer, verbose_name="発行元CA", on_delete=models.PROTECT,
                               related_name="revocation_lists")
    compressed = models.BinaryField("CRL（DER、zlib圧縮）", editable=False)
    fingerprint = models.CharField("SHA-256 フィンガープリント", max_length=95, unique=True,
                                   editable=False)
    this_update = models.DateTimeField("発行日時（thisUpdate）", editable=False)
    next_update = models.DateTimeField("次回更新予定日時（nextUpdate）", editable=False)
    revoked_count = models.PositiveIntegerField("失効した証明書の数", editable=False)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登録者", null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+",
                                    editable=False)
    uploaded_at = models.DateTimeField("登録日時", auto_now_add=True)

    class Meta:
        verbose_name = "失効リスト（CRL）"
        verbose_name_plural = "失効リスト（CRL）"
        ordering = ["-this_update", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "this_update"],
                                    name="revocation_list_once_per_issue"),
            models.CheckConstraint(condition=Q(next_update__gt=models.F("this_update")),
                                   name="revocation_list_next_after_this"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer.name} {self.this_update:%Y-%m-%d %H:%M}"


class CopayRatio(models.IntegerChoices):
    TEN = 10, "1割"
    TWENTY = 20, "2割"
    THIRTY = 30, "3割"


class InsuredPerson(models.Model):
    """One row of the insured-person registry: a card's authentication certificate (its
    issuer's DN as RFC 4514 text and its serial in decimal) → the insurance qualification.
    Imported by administrators (cardreader/imports.py); marked lost (資格喪失) with a date."""

    issuer = models.CharField("証明書の発行者（RFC 4514）", max_length=500)
    serial = models.CharField("証明書のシリアル番号（10進）", max_length=SERIAL_MAX_DIGITS)
    insurer_number = models.CharField("保険者番号", max_length=8)
    symbol = models.CharField("記号", max_length=20, blank=True)
    number = models.CharField("番号", max_length=20)
    branch = models.CharField("枝番", max_length=2)
    name = models.CharField("氏名", max_length=100)
    name_kana = models.CharField("氏名（カナ）", max_length=100)
    birth_date = models.DateField("生年月日")
    copay_ratio = models.PositiveSmallIntegerField("一部負担金の割合", choices=CopayRatio.choices)
    valid_from = models.DateField("資格の有効開始日")
    valid_to = models.DateField("資格の有効終了日", null=True, blank=True,
                                help_text="空欄は終了日なし")
    lost_on = models.DateField("資格喪失日", null=True, blank=True,
                               help_text="この日から資格がありません（空欄は喪失していない）")
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "被保険者台帳"
        verbose_name_plural = "被保険者台帳"
        ordering = ["insurer_number", "symbol", "number", "branch"]
        permissions = [("import_insuredperson", "被保険者台帳を取り込む")]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "serial"], name="insured_person_certificate"),
            models.CheckConstraint(condition=Q(serial__regex=r"^[1-9][0-9]*$"),
                                   name="insured_person_serial_decimal"),
            # Never a 12-digit number (docs/domain.md §8): a serial of exactly 12 digits is refused.
            models.CheckConstraint(condition=~Q(serial__regex=r"^[0-9]{12}$"),
                                   name="insured_person_serial_not_12_digits"),
            models.CheckConstraint(condition=Q(insurer_number__regex=r"^[0-9]{8}$"),
                                   name="insured_person_insurer_8_digits"),
            models.CheckConstraint(condition=Q(branch__regex=r"^[0-9]{2}$"),
                                   name="insured_person_branch_2_digits"),
            models.CheckConstraint(condition=~Q(number=""), name="insured_person_number_given"),
            models.CheckConstraint(condition=Q(copay_ratio__in=[10, 20, 30]),
                                   name="insured_person_copay_ratio"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="insured_person_valid_to_after_from"),
            models.CheckConstraint(
                condition=Q(lost_on__isnull=True) | Q(lost_on__gte=models.F("valid_from")),
                name="insured_person_lost_after_from"),
        ]

    def __str__(self) -> str:
        return f"{self.insurer_number} {self.symbol}・{self.number}（{self.branch}）"


class DeviceToken(models.Model):
    """A bearer token of a device account (POST /api/counter/token), valid for minutes.
    Only its digest is kept: the clear token exists only in the answer that issued it."""

    device_account = models.ForeignKey(DeviceAccount, verbose_name="資格確認アカウント",
                                       on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=HASH_LENGTH, unique=True)
    created_at = models.DateTimeField("発行日時")
    expires_at = models.DateTimeField("有効期限", db_index=True)

    class Meta:
        verbose_name = "端末トークン"
        verbose_name_plural = "端末トークン"

    def __str__(self) -> str:
        return f"{self.device_account_id} {self.expires_at:%Y-%m-%d %H:%M}"


class Challenge(models.Model):
    """A one-time challenge for the card to sign in PIN mode: given to one device account,
    used at most once, for two minutes. Kept as its digest."""

    device_account = models.ForeignKey(DeviceAccount, verbose_name="資格確認アカウント",
                                       on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=HASH_LENGTH, unique=True)
    created_at = models.DateTimeField("発行日時")
    expires_at = models.DateTimeField("有効期限", db_index=True)
    used_at = models.DateTimeField("使用日時", null=True, blank=True)

    class Meta:
        verbose_name = "チャレンジ"
        verbose_name_plural = "チャレンジ"

    def __str__(self) -> str:
        return f"{self.device_account_id} {self.created_at:%Y-%m-%d %H:%M:%S}"


class Endpoint(models.TextChoices):
    TOKEN = "token", "トークン発行"
    CHALLENGE = "challenge", "チャレンジ発行"
    CONFIRM = "confirm", "資格確認"
    CHECK = "check", "窓口画面の確認"  # the counter page's checks (next, fail)


class Mode(models.TextChoices):
    PIN = "pin", "暗証番号"
    FACE = "face", "目視（顔確認）"


class Confirmation(models.Model):
    """One call to the counter API and how it ended: who (the device account and its
    facility, when known), when, the mode, the outcome code and the keyed hash of the card
    certificate's issuer and serial. Nothing about the person: no name, no certificate, no
    qualification."""

    endpoint = models.CharField("API", max_length=10, choices=Endpoint.choices,
                                default=Endpoint.CONFIRM)
    device_account = models.ForeignKey(DeviceAccount, verbose_name="資格確認アカウント",
                                       null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    facility = models.ForeignKey(Facility, verbose_name="施設", null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField("日時", db_index=True)
    day = models.DateField("日付（計上日）")
    mode = models.CharField("確認方法", max_length=4, choices=Mode.choices, blank=True)
    outcome = models.CharField("結果コード", max_length=40)
    http_status = models.PositiveSmallIntegerField("HTTPステータス")
    serial_hash = models.CharField("証明書のハッシュ", max_length=HASH_LENGTH, blank=True)
    client_request = models.PositiveIntegerField("端末の要求番号", null=True, blank=True)
    counted = models.BooleanField("利用件数に計上", default=False)

    class Meta:
        verbose_name = "資格確認の記録"
        verbose_name_plural = "資格確認の記録"
        ordering = ["-at", "-pk"]
        indexes = [models.Index(fields=["device_account", "at"]),
                   models.Index(fields=["facility", "day"])]
        constraints = [
            # docs/domain.md §8: a card counts at most once per facility per day in 利用件数; a
            # confirmation of it again that day (a retry, a replayed certificate) is
            # answered but counted nothing.
            models.UniqueConstraint(
                fields=["facility", "day", "serial_hash"], condition=Q(counted=True),
                name="confirmation_counted_once_per_day"),
            models.CheckConstraint(condition=~Q(counted=True) | Q(facility__isnull=False),
                                   name="confirmation_counted_has_facility"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.get_endpoint_display()} {self.outcome}"


class CardUse(models.Model):
    """A card user seen at a facility in a month (利用人数 counts each once): the keyed hash
    of the certificate, never the certificate."""

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE,
                                 related_name="+")
    month = models.DateField("年月")  # the first day of the month
    user_hash = models.CharField("証明書のハッシュ", max_length=HASH_LENGTH)
    created_at = models.DateTimeField("初回確認日時", auto_now_add=True)

    class Meta:
        verbose_name = "カード利用者（月別）"
        verbose_name_plural = "カード利用者（月別）"
        constraints = [
            models.UniqueConstraint(fields=["facility", "month", "user_hash"],
                                    name="card_use_once_per_month"),
            models.CheckConstraint(condition=Q(month__day=1), name="card_use_first_of_month"),
        ]

    def __str__(self) -> str:
        return f"{self.facility_id} {self.month:%Y-%m}"

