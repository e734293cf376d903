"""振込先口座 (docs/domain.md §5.3): where a facility's money is paid. Every change is kept in the
history; a payout copies the account it pays to, so a later change never alters it."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from facilities.activity import FacilityMoveEffects
from facilities.models import Facility
from portal.workflow import WorkflowModel, move, state_field


class AccountType(models.TextChoices):
    ORDINARY = "1", "普通"
    CURRENT = "2", "当座"
    SAVINGS = "4", "貯蓄"


class BankAccount(models.Model):
    facility = models.OneToOneField(
        Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="bank_account"
    )
    bank_code = models.CharField("金融機関コード", max_length=4)
    bank_name = models.CharField("金融機関名", max_length=100)
    branch_code = models.CharField("支店コード", max_length=3)
    branch_name = models.CharField("支店名", max_length=100)
    account_type = models.CharField("預金種目", max_length=1, choices=AccountType.choices)
    account_number = models.CharField("口座番号", max_length=7)
    holder_name = models.CharField("口座名義（カナ）", max_length=30)
    # The bank's and branch's kana as the transfer file writes them (half-width 全銀 characters,
    # checked at registration so that a payout never meets a name it cannot encode).
    bank_kana = models.CharField("金融機関名（カナ）", max_length=15, blank=True)
    branch_kana = models.CharField("支店名（カナ）", max_length=15, blank=True)
    japan_post_kigo = models.CharField("ゆうちょ記号", max_length=5, blank=True)
    japan_post_bango = models.CharField("ゆうちょ番号", max_length=8, blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="更新者", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "振込先口座"
        permissions = [("view_account_number", "口座番号を全桁表示する（支払担当）")]
        verbose_name_plural = "振込先口座"
        constraints = [
            models.CheckConstraint(
                condition=Q(bank_code__regex=r"^[0-9]{4}$")
                & Q(branch_code__regex=r"^[0-9]{3}$")
                & Q(account_number__regex=r"^[0-9]{7}$"),
                name="bank_account_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.bank_name} {self.branch_name} {self.get_account_type_display()} ****{self.account_number[-3:]}"

    @property
    def masked_number(self) -> str:
        return "****" + self.account_number[-3:]


# ------------------------------------------------------------------------------- consignor


class Consignor(models.Model):
    """The portal's side of the transfer (振込依頼人): one row, kept by administrators; the
    header record of every transfer file is written from it."""

    class ConsignorAccountType(models.TextChoices):
        ORDINARY = "1", "普通"
        CURRENT = "2", "当座"
        OTHER = "9", "その他"

    code = models.CharField("振込依頼人コード（10桁）", max_length=10)
    name = models.CharField("振込依頼人名（半角カナ）", max_length=40)
    bank_code = models.CharField("仕向金融機関コード", max_length=4)
    bank_name = models.CharField("仕向金融機関名（半角カナ）", max_length=15, blank=True)
    branch_code = models.CharField("仕向支店コード", max_length=3)
    branch_name = models.CharField("仕向支店名（半角カナ）", max_length=15, blank=True)
    account_type = models.CharField("預金種目", max_length=1,
                                    choices=ConsignorAccountType.choices)
    account_number = models.CharField("口座番号", max_length=7)
    # docs/domain.md §5.4: a 返還請求's due date is its notice date plus this (a parameter kept here,
    # beside the account the facility pays into; the code has no default of its own).
    recovery_due_days = models.PositiveSmallIntegerField(
        "返還の納付期限（通知日からの日数）", default=30,
        help_text="返還請求の納付期限は、通知日にこの日数を加えた日です（1か月: 30日）。")
    recovery_contact = models.CharField(
        "返還のお問い合わせ先", max_length=200, blank=True,
        help_text="返還請求の通知書に記載するお問い合わせ先（窓口名・電話番号）。")
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="更新者", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "振込依頼人（仕向口座）"
        verbose_name_plural = "振込依頼人（仕向口座）"
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="one_consignor"),
            models.CheckConstraint(
                condition=Q(code__regex=r"^[0-9]{10}$") & Q(bank_code__regex=r"^[0-9]{4}$")
                & Q(branch_code__regex=r"^[0-9]{3}$")
                & Q(account_number__regex=r"^[0-9]{7}$"),
                name="consignor_digits",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}（{self.code}）"

    def clean(self):
        from django.core.exceptions import ValidationError

        from .zengin import ZENGIN_CHARACTERS, zengin_text

        errors = {}
        for name, length in (("name", 40), ("bank_name", 15), ("branch_name", 15)):
            text = zengin_text(getattr(self, name))
            refused = "".join(dict.fromkeys(ch for ch in text if ch not in ZENGIN_CHARACTERS))
            if refused:
                errors[name] = (f"振込データに書けない文字があります: {refused}"
                                "（半角カナ・英大文字・数字と一部の記号で入力してください）。")
            elif len(text) > length:
                errors[name] = f"半角で{length}文字以内にしてください（{len(text)}文字あります）。"
            else:
                setattr(self, name, text)
        for name, length in (("code", 10), ("bank_code", 4), ("branch_code", 3),
                             ("account_number", 7)):
            value = getattr(self, name)
            if not (value.isascii() and value.isdigit() and len(value) == length):
                errors[name] = f"数字{length}桁で入力してください。"
        if errors:
            raise ValidationError(errors)


# ------------------------------------------------------------------------------ payout runs

RELEASE_PERMISSION = "payouts.release_payoutrun"
CREATE_PERMISSION = "payouts.add_payoutrun"
FILE_PERMISSION = "payouts.write_transfer_file"
RESULTS_PERMISSION = "payouts.import_bank_results"


class PayoutRun(WorkflowModel, models.Model):
    """One transfer of one program's payables on one day. Built (lines frozen from the
    payables), checked, released by a second payout officer, written as a 全銀 file, and
    settled by the bank's results.

    Four-eyes (docs/domain.md §5.4): a run an officer created is checked by its creator (it goes
    straight to 承認待ち); a run the schedule built (no creator) waits 確認待ち until one
    payout officer checks it. Whoever created, finished building or checked a run never
    releases it."""

    class State(models.TextChoices):
        BUILDING = "building", "作成中"
        TO_CHECK = "to_check", "確認待ち"
        CREATED = "created", "承認待ち"
        EMPTY = "empty", "支払対象なし"
        RELEASED = "released", "承認済み（振込予定）"
        SETTLED = "settled", "振込結果取込済み"
        CANCELLED = "cancelled", "取消"

    program = models.ForeignKey("eligibility.Program", verbose_name="プログラム",
                                on_delete=models.PROTECT, related_name="payout_runs")
    transfer_date = models.DateField("振込指定日")
    state = state_field("状態", choices=State.choices, default=State.BUILDING)
    line_count = models.PositiveIntegerField("件数", default=0)
    total_amount = models.PositiveBigIntegerField("合計金額（円）", default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="作成者", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="確認者", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
        help_text="スケジュールで作成された支払バッチを確認した支払担当者（支払担当者が作成した"
        "支払バッチは、作成者が確認者を兼ねます）。",
    )
    checked_at = models.DateTimeField("確認日時", null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="承認者", null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    released_at = models.DateTimeField("承認日時", null=True, blank=True)
    file_sha256 = models.CharField("振込データのSHA-256", max_length=64, blank=True)
    file_written_at = models.DateTimeField("振込データの初回出力日時", null=True, blank=True)
    settled_at = models.DateTimeField("結果取込完了日時", null=True, blank=True)
    history = HistoricalRecords(excluded_fields=["line_count", "total_amount"])

    class Meta:
        verbose_name = "支払バッチ"
        verbose_name_plural = "支払バッチ"
        ordering = ["-created_at"]
        permissions = [
            ("release_payoutrun", "支払バッチを確認・承認・取り消す（承認は作成者・確認者以外）"),
            ("write_transfer_file", "振込データ（全銀）を出力する"),
            ("import_bank_results", "振込結果を取り込む"),
        ]
        constraints = [
            # Two creations of the same program at once build one run together.
            models.UniqueConstraint(fields=["program"], condition=Q(state="building"),
                                    name="one_run_building_per_program"),
        ]

    def __str__(self) -> str:
        # The date as the admin writes every date (Django's DATE_FORMAT for ja): one format
        # on the run's pages.
        day = self.transfer_date
        return f"支払バッチ{self.pk} {self.program.name} {day.year}年{day.month}月{day.day}日"

    # The moves whose actors may not release the run (the workflow's rule looks at the latest
    # of them only; move_refusal at every one).
    BEFORE_RELEASE = ("finish", "finish_to_check", "verify")

    def move_refusal(self, name: str, user):
        """Four-eyes beyond the workflow's own rule: whoever created the run, finished
        building it (another officer's request may have finished it) or checked it never
        releases it."""
        from django_fsm_log.models import StateLog

        from portal.errors import NotPermitted

        if name != "release" or user is None:
            return None
        earlier = user.pk in (self.created_by_id, self.checked_by_id) or StateLog.objects.for_(
            self).filter(transition__in=self.BEFORE_RELEASE, by_id=user.pk).exists()
        if earlier:
            return NotPermitted("「承認する（振込を確定する）」は、前の段階を担当した方とは"
                                "別の方が行ってください（二者確認）。支払バッチを作成・確認した"
                                "方は承認できません。")
        return None

    # ---- moves (made only through portal.workflow.perform)

    @move(source=State.BUILDING, target=State.CREATED, permission=CREATE_PERMISSION,
          label="作成を終える", system=True, visible_to_facility=False)
    def finish(self, *, actor, line_count: int, total_amount: int):
        self.line_count, self.total_amount = line_count, total_amount

    @move(source=State.BUILDING, target=State.TO_CHECK, permission=CREATE_PERMISSION,
          label="作成を終える（確認待ち）", system=True, visible_to_facility=False)
    def finish_to_check(self, *, actor, line_count: int, total_amount: int):
        """The schedule's run (no creator): a payout officer checks it before release."""
        self.line_count, self.total_amount = line_count, total_amount

    @move(source=State.TO_CHECK, target=State.CREATED, permission=RELEASE_PERMISSION,
          label="確認する", visible_to_facility=False)
    def verify(self, *, actor):
        """確認 (not `check`: Django's models have a check() of their own)."""
        from django.utils import timezone

        self.checked_by, self.checked_at = actor, timezone.now()

    @move(source=State.BUILDING, target=State.EMPTY, permission=CREATE_PERMISSION,
          label="支払対象なしで終える", system=True, visible_to_facility=False)
    def finish_empty(self, *, actor):
        pass

    @move(source=State.CREATED, target=State.RELEASED, permission=RELEASE_PERMISSION,
          label="承認する（振込を確定する）", four_eyes=BEFORE_RELEASE,
          visible_to_facility=False)
    def release(self, *, actor):
        from django.utils import timezone

        self.released_by, self.released_at = actor, timezone.now()

    @move(source=[State.TO_CHECK, State.CREATED], target=State.CANCELLED,
          permission=RELEASE_PERMISSION,
          label="取り消す（支払対象に戻す）", visible_to_facility=False)
    def cancel(self, *, actor):
        pass

    @move(source=State.RELEASED, target=State.SETTLED, permission=RESULTS_PERMISSION,
          label="振込結果の取込を完了する", visible_to_facility=False)
    def settle(self, *, actor):
        from django.utils import timezone

        self.settled_at = timezone.now()


class FailureReason(models.TextChoices):
    NO_ACCOUNT = "no_account", "口座なし"
    CLOSED = "closed", "解約済"
    NAME_MISMATCH = "name_mismatch", "名義相違"
    OTHER = "other", "その他"


# What the facility is asked to do after each 振込不能 (its page, its e-mail, its history).
FIX_ADVICE = {
    FailureReason.NO_ACCOUNT: "登録された口座が見つかりませんでした。金融機関・支店・口座番号を"
    "通帳で確かめ、振込先口座を登録し直してください。",
    FailureReason.CLOSED: "登録された口座は解約されています。お使いの口座を振込先口座として"
    "登録し直してください。",
    FailureReason.NAME_MISMATCH: "口座名義が金融機関の記録と一致しませんでした。通帳に記載の"
    "名義（カナ）のとおりに振込先口座を登録し直してください。",
    FailureReason.OTHER: "金融機関で振り込めませんでした。振込先口座の内容を確かめ、"
    "登録し直してください。",
}


def is_line_facility_staff(line, user) -> bool:
    from facilities.activity import is_facility_staff

    return is_facility_staff(line, user)


class PaymentLine(WorkflowModel, models.Model):
    """One payment: one source record (an eligibility result, an approved claim or an
    approved positive adjustment) paid to the bank account as it stood when the run was
    built. Its number is 顧客コード1 of the transfer record. `gross_amount` is the source's
    amount, `deducted` what was netted against it (an approved negative adjustment of the
    same program, docs/domain.md §5.4), `amount` what is transferred. A line netted to nothing is
    相殺済み: never in the file, its source paid by the netting when the run is released.

    State changes are workflow moves (history in StateLog). A run's lines move together:
    `portal.workflow.perform_many` checks the move once and writes one StateLog per line in
    bulk (a run has up to hundreds of thousands of lines)."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "承認待ち"
        RELEASED = "released", "振込予定"
        PAID = "paid", "振込済"
        FAILED = "failed", "振込不能"
        REISSUED = "reissued", "口座修正済み（再振込待ち）"
        CANCELLED = "cancelled", "取消"
        NETTED = "netted", "相殺済み（振込なし）"

    # States in which the line still stands for its source: the source is not payable again.
    LIVE_STATES = (State.SCHEDULED, State.RELEASED, State.PAID, State.FAILED, State.NETTED)
    # States whose lines are transferred (in the file, the run's count and total).
    TRANSFER_STATES = (State.SCHEDULED, State.RELEASED, State.PAID, State.FAILED,
                       State.REISSUED)

    run = models.ForeignKey(PayoutRun, verbose_name="支払バッチ", on_delete=models.PROTECT,
                            related_name="lines")
    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.PROTECT,
                                 related_name="payment_lines")
    program = models.ForeignKey("eligibility.Program", verbose_name="プログラム",
                                on_delete=models.PROTECT, related_name="+")
    source_kind = models.CharField("支払の元", max_length=20)
    source_id = models.BigIntegerField("元の番号")
    gross_amount = models.PositiveIntegerField("支払の元の金額（円）")
    deducted = models.PositiveIntegerField("相殺額（円）", default=0)
    amount = models.PositiveIntegerField("振込金額（円）")
    state = state_field("状態", choices=State.choices, default=State.SCHEDULED)
    # The account as it stood when the run was built (a later change never alters this line).
    bank_code = models.CharField("金融機関コード", max_length=4)
    bank_name = models.CharField("金融機関名", max_length=100)
    bank_kana = models.CharField("金融機関名（カナ）", max_length=15, blank=True)
    branch_code = models.CharField("支店コード", max_length=3)
    branch_name = models.CharField("支店名", max_length=100)
    branch_kana = models.CharField("支店名（カナ）", max_length=15, blank=True)
    account_type = models.CharField("預金種目", max_length=1, choices=AccountType.choices)
    account_number = models.CharField("口座番号", max_length=7)
    holder_name = models.CharField("口座名義（カナ）", max_length=30)
    failure_reason = models.CharField("振込不能の理由", max_length=20, blank=True,
                                      choices=FailureReason.choices)
    result_at = models.DateTimeField("結果の取込日時", null=True, blank=True)

    class Meta:
        verbose_name = "支払明細"
        verbose_name_plural = "支払明細"
        ordering = ["run", "pk"]
        constraints = [
            # Exactly once: a source record stands in one live line at most.
            models.UniqueConstraint(
                fields=["source_kind", "source_id"],
                condition=Q(state__in=["scheduled", "released", "paid", "failed", "netted"]),
                name="one_live_line_per_source",
            ),
            # Never below 1 yen in the file; a line netted to nothing is 相殺済み (0 yen).
            models.CheckConstraint(condition=Q(amount__gte=1) | Q(state="netted", amount=0),
                                   name="line_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount=models.F("gross_amount") - models.F("deducted")),
                name="line_amount_is_gross_less_deducted"),
            models.CheckConstraint(
                condition=Q(state="failed", failure_reason__gt="")
                | (~Q(state="failed") & ~Q(state="reissued") & Q(failure_reason=""))
                | Q(state="reissued"),
                name="failure_reason_with_failure",
            ),
        ]
        indexes = [models.Index(fields=["facility", "state"])]

    def __str__(self) -> str:
        return f"支払明細{self.pk} {self.amount:,}円"

    @property
    def masked_number(self) -> str:
        return "****" + self.account_number[-3:]

    # ---- moves (a run's lines: portal.workflow.perform_many; one line: perform)

    @move(source=State.SCHEDULED, target=State.NETTED, permission=CREATE_PERMISSION,
          label="全額を相殺する", system=True)
    def net_fully(self, *, actor):
        pass

    @move(source=State.SCHEDULED, target=State.RELEASED, permission=RELEASE_PERMISSION,
          label="振込予定にする")
    def release(self, *, actor):
        pass

    @move(source=State.RELEASED, target=State.PAID, permission=RESULTS_PERMISSION,
          label="振込済にする")
    def mark_paid(self, *, actor, result_at=None):
        self.result_at = result_at

    @move(source=State.RELEASED, target=State.FAILED, permission=RESULTS_PERMISSION,
          label="振込不能にする")
    def mark_failed(self, *, actor, failure_reason: str = FailureReason.OTHER,
                    result_at=None):
        self.failure_reason, self.result_at = failure_reason, result_at

    @move(source=State.FAILED, target=State.REISSUED, permission=is_line_facility_staff,
          label="口座の修正により再振込を待つ")
    def reissue(self, *, actor):
        pass

    @move(source=[State.SCHEDULED, State.NETTED], target=State.CANCELLED,
          permission=RELEASE_PERMISSION, label="取り消す（支払バッチの取消）")
    def cancel(self, *, actor):
        pass


# ------------------------------------------------------------- netting and recoveries


class Netting(models.Model):
    """相殺 (docs/domain.md §5.4): part (or all) of an approved negative adjustment deducted from a
    payment line of the same facility and program. Undone when the run is cancelled or the
    line's transfer fails and is paid again (the money never arrived, so neither did the
    deduction): the adjustment is owed again and the next run nets it."""

    run = models.ForeignKey(PayoutRun, verbose_name="支払バッチ", on_delete=models.PROTECT,
                            related_name="nettings")
    line = models.ForeignKey(PaymentLine, verbose_name="支払明細", on_delete=models.PROTECT,
                             related_name="nettings")
    adjustment = models.ForeignKey("eligibility.Adjustment", verbose_name="調整",
                                   on_delete=models.PROTECT, related_name="nettings")
    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.PROTECT,
                                 related_name="+")
    amount = models.PositiveIntegerField("相殺額（円）")
    created_at = models.DateTimeField("相殺日時", auto_now_add=True)
    undone_at = models.DateTimeField("取消日時", null=True, blank=True)

    class Meta:
        verbose_name = "相殺"
        verbose_name_plural = "相殺"
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["line", "adjustment"], name="one_netting_per_line"),
            models.CheckConstraint(condition=Q(amount__gte=1), name="netting_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"相殺 {self.amount:,}円（支払明細{self.line_id}・調整{self.adjustment_id}）"


RECOVERY_PERMISSION = "payouts.change_recovery"


class Recovery(FacilityMoveEffects, WorkflowModel, models.Model):
    """返還請求 (docs/domain.md §5.4): what an approved negative adjustment leaves after netting,
    claimed back from the facility with a notice (PDF): amount, reason, the result before and
    after, the due date (notice date + the consignor row's `recovery_due_days`) and the
    account to pay into. 請求 → 納付済, or 請求 → 督促 → 納付済."""

    activity_prefix = "recovery"

    class State(models.TextChoices):
        CLAIMED = "claimed", "請求"
        REMINDED = "reminded", "督促"
        PAID = "paid", "納付済"

    facility_state_labels = {State.CLAIMED: "返還のお願い", State.REMINDED: "返還の督促",
                             State.PAID: "納付済"}

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.PROTECT,
                                 related_name="recoveries")
    program = models.ForeignKey("eligibility.Program", verbose_name="プログラム",
                                on_delete=models.PROTECT, related_name="recoveries")
    adjustment = models.ForeignKey("eligibility.Adjustment", verbose_name="調整",
                                   on_delete=models.PROTECT, related_name="recoveries")
    run = models.ForeignKey(PayoutRun, verbose_name="請求した支払バッチ", null=True, blank=True,
                            on_delete=models.PROTECT, related_name="recoveries")
    amount = models.PositiveIntegerField("返還額（円）")
    reason = models.CharField("理由", max_length=200)
    amount_before = models.PositiveIntegerField("これまでの支給額（円）")
    amount_after = models.PositiveIntegerField("再判定の金額（円）")
    netted = models.PositiveIntegerField("支払と相殺した額（円）", default=0)
    notice_number = models.CharField("通知番号", max_length=20, unique=True)
    notice_date = models.DateField("通知日")
    due_date = models.DateField("納付期限")
    state = state_field("状態", choices=State.choices, default=State.CLAIMED)
    reminded_at = models.DateTimeField("督促日時", null=True, blank=True)
    reminded_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="督促した人",
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    paid_on = models.DateField("納付日", null=True, blank=True)
    confirmed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="納付を確認した人",
                                     null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField("作成日時", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "返還請求"
        verbose_name_plural = "返還請求"
        ordering = ["-notice_date", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1), name="recovery_amount_positive"),
            # A run claims an adjustment back once, whoever builds it and however often.
            models.UniqueConstraint(fields=["adjustment", "run"],
                                    name="one_recovery_per_adjustment_and_run"),
        ]
        indexes = [models.Index(fields=["facility", "state"])]

    def __str__(self) -> str:
        return f"返還請求 {self.notice_number} {self.amount:,}円"

    def email_context(self) -> dict:
        return {"recovery": self}

    @property
    def facility_state_label(self) -> str:
        from portal.workflow import facility_state_label

        return facility_state_label(self)

    # ---- moves (made only through portal.workflow.perform)

    @move(source=State.CLAIMED, target=State.REMINDED, permission=RECOVERY_PERMISSION,
          label="督促する", email="recovery_state_changed")
    def remind(self, *, actor):
        from django.utils import timezone

        self.reminded_at, self.reminded_by = timezone.now(), actor

    @move(source=[State.CLAIMED, State.REMINDED], target=State.PAID,
          permission=RECOVERY_PERMISSION, label="納付を確認する",
          email="recovery_state_changed")
    def confirm_payment(self, *, actor, paid_on):
        self.paid_on, self.confirmed_by = paid_on, actor
