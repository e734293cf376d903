"""Subsidy claims with their items and receipts, and their review (docs/domain.md §6)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from eligibility.models import Program
from facilities.activity import FacilityMoveEffects, is_facility_staff
from facilities.models import Facility
from portal.workflow import WorkflowModel, facility_state_label, move, state_field


class ClaimState(models.TextChoices):
    """Internal names with the administrators' labels; the facility's are below."""

    DRAFT = "draft", "下書き"
    SUBMITTED = "submitted", "提出済み（審査待ち）"
    UNDER_REVIEW = "under_review", "審査中"
    RETURNED = "returned", "差戻し中"
    RESUBMITTED = "resubmitted", "再提出済み（審査待ち）"
    APPROVED = "approved", "交付決定"
    REJECTED = "rejected", "不交付"
    PAYING = "paying", "支払手続中"
    PAID = "paid", "振込済"


FACILITY_CLAIM_LABELS = {
    ClaimState.DRAFT: "下書き",
    ClaimState.SUBMITTED: "提出済み",
    ClaimState.UNDER_REVIEW: "審査中",
    ClaimState.RETURNED: "差戻し（修正をお願いしています）",
    ClaimState.RESUBMITTED: "再提出済み",
    ClaimState.APPROVED: "交付決定",
    ClaimState.REJECTED: "不交付",
    ClaimState.PAYING: "交付決定（振込の手続中）",
    ClaimState.PAID: "振込済",
}
REVIEW_PERMISSION = "subsidies.review_claim"
DECIDE_PERMISSION = "subsidies.decide_claim"
PAY_PERMISSION = "subsidies.pay_claim"
EDITABLE_STATES = (ClaimState.DRAFT, ClaimState.RETURNED)


class FreeReaderGrant(models.Model):
    """How many face-recognition card readers a facility received free (administrator data)."""

    facility = models.OneToOneField(Facility, verbose_name="施設", on_delete=models.CASCADE,
                                    related_name="free_reader_grant")
    free_readers = models.PositiveSmallIntegerField("無償提供を受けた台数")
    history = HistoricalRecords()

    class Meta:
        verbose_name = "顔認証付きカードリーダーの無償提供"
        verbose_name_plural = "顔認証付きカードリーダーの無償提供"
        constraints = [
            models.CheckConstraint(condition=Q(free_readers__gte=1, free_readers__lte=3),
                                   name="free_readers_1_to_3"),
        ]

    def __str__(self) -> str:
        return f"{self.facility}: {self.free_readers}台"


class Claim(FacilityMoveEffects, WorkflowModel, models.Model):
    """A subsidy claim (docs/domain.md §6); its state moves only through the workflow kernel."""

    activity_prefix = "claim"
    facility_state_labels = FACILITY_CLAIM_LABELS

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.PROTECT, related_name="claims")
    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT, related_name="claims")
    state = state_field("状態", choices=ClaimState.choices, default=ClaimState.DRAFT)
    receipt_number = models.CharField("受付番号", max_length=20, unique=True, null=True,
                                      blank=True)
    readers = models.PositiveSmallIntegerField("増設台数", null=True, blank=True)
    computed_amount = models.PositiveIntegerField("算定額（円）", null=True, blank=True)
    calculation = models.TextField("算定の根拠", blank=True)
    approved_amount = models.PositiveIntegerField("交付決定額（円）", null=True, blank=True)
    decision_reason = models.TextField("減額・不交付の理由", blank=True)
    return_reason = models.TextField("差戻しの理由", blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="作成者", null=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    submitted_at = models.DateTimeField("提出日時", null=True, blank=True)
    decided_at = models.DateTimeField("決定日時", null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="審査・決定者", null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    paid_at = models.DateTimeField("支払日時", null=True, blank=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="審査の担当者",
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    history = HistoricalRecords()

    class Meta:
        verbose_name = "補助金の申請"
        verbose_name_plural = "補助金の申請"
        ordering = ["-created_at"]
        permissions = [
            ("review_claim", "補助金の申請を審査する（審査開始・差戻し）"),
            ("decide_claim", "補助金の交付・不交付を決定する"),
            ("pay_claim", "補助金を支払バッチに入れる・振込済みにする"),
        ]
        constraints = [
            # One live claim per facility and program: a subsidy cannot be paid twice.
            models.UniqueConstraint(fields=["facility", "program"],
                                    condition=~Q(state="rejected"),
                                    name="one_live_claim_per_program"),
            models.CheckConstraint(
                condition=Q(approved_amount__isnull=True)
                | Q(approved_amount__lte=F("computed_amount")),
                name="approved_not_above_computed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number or '下書き'} {self.program.name}"

    @property
    def is_editable(self) -> bool:
        return self.state in EDITABLE_STATES

    @property
    def total_cost(self) -> int:
        return sum(item.total for item in self.items.all())

    @property
    def facility_state_label(self) -> str:
        return facility_state_label(self)

    def email_context(self) -> dict:
        return {"claim": self}

    # ---- moves (made only through portal.workflow.perform)

    @move(source=ClaimState.DRAFT, target=ClaimState.SUBMITTED, permission=is_facility_staff,
          label="提出する", email="claim_state_changed")
    def submit(self, *, actor, computed_amount: int, calculation: str, submitted_at,
               receipt_number: str):
        self.computed_amount, self.calculation = computed_amount, calculation
        self.submitted_at, self.receipt_number = submitted_at, receipt_number

    @move(source=ClaimState.RETURNED, target=ClaimState.RESUBMITTED,
          permission=is_facility_staff, label="再提出する", email="claim_state_changed")
    def resubmit(self, *, actor, computed_amount: int, calculation: str, submitted_at,
                 receipt_number: str):
        self.computed_amount, self.calculation = computed_amount, calculation
        self.submitted_at, self.receipt_number = submitted_at, receipt_number

    @move(source=[ClaimState.SUBMITTED, ClaimState.RESUBMITTED], target=ClaimState.UNDER_REVIEW,
          permission=REVIEW_PERMISSION, label="審査を開始する", email="claim_state_changed")
    def start_review(self, *, actor):
        if self.assigned_to_id is None:  # who takes it into review is its reviewer
            self.assigned_to = actor

    @move(source=ClaimState.UNDER_REVIEW, target=ClaimState.RETURNED,
          permission=REVIEW_PERMISSION, label="差し戻す", email="claim_state_changed")
    def send_back(self, *, actor, reason: str):
        self.return_reason = reason

    @move(source=ClaimState.UNDER_REVIEW, target=ClaimState.APPROVED,
          permission=DECIDE_PERMISSION, label="交付を決定する", four_eyes=("start_review",),
          email="claim_state_changed")
    def approve(self, *, actor, amount: int, reason: str):
        self.approved_amount, self.decision_reason = amount, reason
        self.decided_by, self.decided_at = actor, timezone.now()

    @move(source=ClaimState.UNDER_REVIEW, target=ClaimState.REJECTED,
          permission=DECIDE_PERMISSION, label="不交付とする", four_eyes=("start_review",),
          email="claim_state_changed")
    def reject(self, *, actor, reason: str):
        self.decision_reason = reason
        self.decided_by, self.decided_at = actor, timezone.now()

    # Payment: made by the payouts app only (a payout run takes the claim; the bank's result
    # pays it), never from the claim's own page.

    @move(source=ClaimState.APPROVED, target=ClaimState.PAYING, permission=PAY_PERMISSION,
          label="支払バッチに入れる", system=True)
    def enter_payout(self, *, actor):
        pass

    @move(source=ClaimState.PAYING, target=ClaimState.APPROVED, permission=PAY_PERMISSION,
          label="支払バッチから外す（バッチの取消）", system=True, visible_to_facility=False)
    def leave_payout(self, *, actor):
        pass

    @move(source=ClaimState.PAYING, target=ClaimState.PAID, permission=PAY_PERMISSION,
          label="振込済みにする", system=True, email="claim_state_changed")
    def mark_paid(self, *, actor):
        self.paid_at = timezone.now()


class ClaimItem(models.Model):
    claim = models.ForeignKey(Claim, verbose_name="補助金の申請", on_delete=models.CASCADE, related_name="items")
    description = models.CharField("品名・内容", max_length=200)
    quantity = models.PositiveIntegerField("数量")
    unit_price = models.PositiveIntegerField("単価（税抜・円）")
    tax = models.PositiveIntegerField("消費税（円）", default=0)
    vendor = models.CharField("購入先", max_length=200)
    purchase_date = models.DateField("購入日")
    return_note = models.TextField("修正のお願い（審査担当者から）", blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "申請の明細"
        verbose_name_plural = "申請の明細"
        ordering = ["claim", "pk"]
        constraints = [models.CheckConstraint(condition=Q(quantity__gte=1),
                                              name="item_quantity_positive")]

    def __str__(self) -> str:
        return self.description

    @property
    def total(self) -> int:
        return self.quantity * self.unit_price + self.tax


class Document(models.Model):
    """An uploaded receipt (領収書) or invoice/delivery note, stored outside every public path
    under a random name and served only through an authorised view."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt", "領収書"
        INVOICE = "invoice", "請求書・納品書"

    claim = models.ForeignKey(Claim, verbose_name="補助金の申請", on_delete=models.CASCADE, related_name="documents")
    item = models.ForeignKey(ClaimItem, verbose_name="明細", null=True, blank=True, on_delete=models.CASCADE,
                             related_name="documents")
    kind = models.CharField("種類", max_length=10, choices=Kind.choices)
    stored_name = models.CharField(max_length=80, unique=True, editable=False)
    original_name = models.CharField("元のファイル名", max_length=200)
    content_type = models.CharField("ファイル形式", max_length=40)
    size = models.PositiveIntegerField("サイズ（バイト）")
    sha256 = models.CharField("SHA-256", max_length=64)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="登録者", null=True,
                                    on_delete=models.SET_NULL, related_name="+")
    uploaded_at = models.DateTimeField("登録日時", auto_now_add=True)

    class Meta:
        verbose_name = "添付書類"
        verbose_name_plural = "添付書類"
        ordering = ["uploaded_at"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.original_name}"
