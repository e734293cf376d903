"""Programs and their versioned parameters, the facts the rules read (monthly statistics,
reports, attestations) and the determinations the batch writes (docs/domain.md §5)."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from facilities.activity import FacilityMoveEffects
from facilities.models import Facility
from portal.jobs import BackgroundJob, Phase, job_moves, job_state_field
from portal.wareki import to_wareki, to_wareki_month
from portal.workflow import WorkflowModel, move, state_field

APPLY_PERMISSION = "eligibility.apply_parameterversion"


class Program(models.Model):
    """A money program: its rule (`rule`) and its parameters (versioned, below)."""

    class Rule(models.TextChoices):
        COOPERATION = "cooperation", "協力金（施術所）"
        LUMP_SUM = "lump_sum", "一時金（医療機関・薬局）"
        DEVICE_SEJUTSU = "device_sejutsu", "補助金: 施術所の端末（実費・上限あり）"
        DEVICE_LIMITED = "device_limited", "補助金: 義務化対象外機関の端末（3/4・上限あり）"
        READER_EXPANSION = "reader_expansion", "補助金: 顔認証付きカードリーダー増設（1/2）"
        RECECOM = "rececom", "補助金: レセコン連携改修"
        # Not money: the obligation's dates (docs/domain.md §7), kept as a program's versioned
        # parameters so that they are read at a date like every other parameter.
        OBLIGATION = "obligation", "義務化の猶予（やむを得ない事由）"

    code = models.SlugField("プログラムコード", max_length=40, unique=True)
    name = models.CharField("名称", max_length=100)
    rule = models.CharField("判定ルール", max_length=20, choices=Rule.choices)
    is_open = models.BooleanField("判定対象", default=True)
    report_deadline = models.DateField("報告期限", null=True, blank=True)

    class Meta:
        verbose_name = "プログラム"
        verbose_name_plural = "プログラム"
        ordering = ["code"]
        permissions = [("run_program", "支給判定を今すぐ実行する")]

    def __str__(self) -> str:
        return self.name


class ParameterVersion(WorkflowModel, models.Model):
    """One version of a program's parameters, with the notice it comes from. A draft is
    previewed (which facilities' results change, by how much) and then applied by a second
    officer (not whoever drafted it or changed its parameters). The version in force on a
    date D is the most recently applied one whose effective_from is on or before D
    (docs/domain.md §5.4 "Parameters at a date"; `eligibility.engine.parameters_in_force`):
    superseded versions stay answerable for the past. Status (of today): 適用中 the one in
    force today, 適用待ち applied and in force from a later day, 過去の版 applied and in force
    no more (or never again: a later-applied version governs its dates)."""

    class Status(models.TextChoices):
        DRAFT = "draft", "下書き"
        SCHEDULED = "scheduled", "適用待ち"  # applied, in force from its effective_from
        ACTIVE = "active", "適用中"
        SUPERSEDED = "superseded", "過去の版"

    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField("版")
    effective_from = models.DateField("適用開始日")
    notice = models.CharField("根拠となる通知", max_length=300)
    params = models.JSONField("パラメータ")
    status = state_field("状態", choices=Status.choices, default=Status.DRAFT, max_length=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="作成者", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("登録日時", auto_now_add=True)
    applied_at = models.DateTimeField("適用日時", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "パラメータの版"
        verbose_name_plural = "パラメータの版"
        ordering = ["program", "-version"]
        permissions = [("apply_parameterversion", "パラメータの版を適用する")]
        constraints = [
            models.UniqueConstraint(fields=["program", "version"], name="parameter_version_unique"),
            models.UniqueConstraint(
                fields=["program"], condition=Q(status="active"), name="one_active_version"
            ),
            # Two applied versions may start on the same day (the later applied governs it,
            # the earlier one is a past version): only one of them can still be waiting.
            models.UniqueConstraint(
                fields=["program", "effective_from"], condition=Q(status="scheduled"),
                name="one_scheduled_version_per_effective_date",
            ),
            models.CheckConstraint(condition=Q(status="draft") | Q(applied_at__isnull=False),
                                   name="applied_version_has_applied_at"),
        ]

    def __str__(self) -> str:
        return f"{self.program.code} 第{self.version}版（{self.get_status_display()}）"

    # ---- moves (made only through portal.workflow.perform)

    @move(field="status", source=Status.DRAFT, target=Status.ACTIVE,
          permission=APPLY_PERMISSION, label="適用する")
    def apply(self, *, actor):
        self.applied_at = timezone.now()

    @move(field="status", source=Status.DRAFT, target=Status.SCHEDULED,
          permission=APPLY_PERMISSION, label="適用開始日から適用する（予約）")
    def schedule(self, *, actor):
        self.applied_at = timezone.now()

    @move(field="status", source=Status.SCHEDULED, target=Status.ACTIVE,
          permission=APPLY_PERMISSION, label="適用開始日になったので適用中にする", system=True)
    def take_effect(self, *, actor):
        pass

    @move(field="status", source=[Status.ACTIVE, Status.SCHEDULED], target=Status.SUPERSEDED,
          permission=APPLY_PERMISSION, label="過去の版にする", system=True)
    def supersede(self, *, actor):
        pass

    def move_refusal(self, name: str, user):
        """Four-eyes (docs/domain.md §5.4: applying a version takes a second officer): whoever
        drafted this version or changed its parameters afterwards (its history says who)
        neither applies it nor schedules it."""
        from portal.errors import NotPermitted

        if name not in ("apply", "schedule") or user is None:
            return None
        if user.pk in self.authors():
            return NotPermitted("「パラメータの版の適用」は、この版を作成した方・パラメータを変更した方とは"
                                "別の方が行ってください（二者確認）。")
        return None

    def authors(self) -> set[int]:
        """Who drafted this version or changed its parameters (user ids), from its history."""
        authors = {self.created_by_id} - {None}
        previous = None
        for record in self.history.order_by("history_date", "history_id"):
            if record.history_user_id is not None and (
                    previous is None or record.params != previous.params):
                authors.add(record.history_user_id)
            previous = record
        return authors


OFFICIAL_LABEL = "公式（取込）"
PROVISIONAL_LABEL = "暫定（窓口の確認）"


def figure_used(official: str, counter: str) -> models.Case:
    """The figure the rules read (docs/decisions.md D8.1): the imported one where the month is
    imported, else the counter's, provisional."""
    return models.Case(models.When(imported_at__isnull=False, then=models.F(official)),
                       default=models.F(counter))


class MonthlyStatistic(models.Model):
    """One facility's month: レセプト件数, マイナ保険証利用人数, 利用件数 (docs/domain.md §5.2, §6.3).
    docs/decisions.md D8.1: the imported figures (receipts, card_users, usage_count, written only
    by the statistics import, which stamps `imported_at`) are the official figure of their
    month; the counter's confirmations are counted beside them (counter_*, written only by
    `eligibility.services.count_confirmation`), never overwritten or deleted by an import,
    and are the month's figure, provisional, until the month is imported."""

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="statistics")
    month = models.DateField("年月")  # the first day of the month
    receipts = models.PositiveIntegerField("レセプト件数", default=0)
    card_users = models.PositiveIntegerField("利用人数（公式・取込）", default=0)
    usage_count = models.PositiveIntegerField("利用件数（公式・取込）", default=0)
    imported_at = models.DateTimeField("取込日時", null=True, blank=True)  # None: not imported
    # db_default: rows written by COPY or SQL that name only the official columns count 0.
    counter_card_users = models.PositiveIntegerField("利用人数（暫定・窓口の確認）", default=0,
                                                     db_default=0)
    counter_usage_count = models.PositiveIntegerField("利用件数（暫定・窓口の確認）", default=0,
                                                      db_default=0)

    class Meta:
        verbose_name = "月次統計"
        verbose_name_plural = "月次統計"
        ordering = ["facility", "month"]
        permissions = [("import_monthlystatistic", "月次統計を取り込む")]
        constraints = [
            models.UniqueConstraint(fields=["facility", "month"], name="statistic_month_unique"),
            models.CheckConstraint(condition=Q(month__day=1), name="statistic_first_of_month"),
        ]

    def __str__(self) -> str:
        return f"{self.facility.code} {self.month:%Y-%m}"

    @property
    def official(self) -> bool:
        return self.imported_at is not None

    @property
    def users(self) -> int:
        """利用人数 as the rules read it (official where imported, else provisional)."""
        return self.card_users if self.official else self.counter_card_users

    @property
    def uses(self) -> int:
        """利用件数 as the rules read it (official where imported, else provisional)."""
        return self.usage_count if self.official else self.counter_usage_count

    @property
    def source_label(self) -> str:
        return OFFICIAL_LABEL if self.official else PROVISIONAL_LABEL

    @property
    def month_label(self) -> str:
        """令和6年6月."""
        return to_wareki_month(self.month)


class ActivityReport(models.Model):
    """取組の実施報告 (協力金, docs/domain.md §5.1): ① お声掛け and ② チラシ配付 or ポスター掲示, with the
    dates done. One per facility and program."""

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="reports")
    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT, related_name="reports")
    voice = models.BooleanField("① 患者等へのお声掛け", default=False)
    flyer = models.BooleanField("② チラシの配付", default=False)
    poster = models.BooleanField("② ポスターの掲示", default=False)
    activity_from = models.DateField("実施期間（開始）")
    activity_to = models.DateField("実施期間（終了）")
    receipt_number = models.CharField("受付番号", max_length=20, unique=True, null=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申請者", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "取組の実施報告"
        verbose_name_plural = "取組の実施報告"
        constraints = [
            models.UniqueConstraint(fields=["facility", "program"], name="one_report_per_program"),
            models.CheckConstraint(
                condition=Q(activity_from__lte=models.F("activity_to")), name="report_dates_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facility.code} {self.program.code}"


class Attestation(models.Model):
    """The facility's attestation for the lump sum (docs/domain.md §5.2 ②③)."""

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="attestations")
    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT, related_name="attestations")
    poster = models.BooleanField("共通ポスターを受付に掲示した", default=False)
    informed = models.BooleanField("患者へのお声掛け・チラシ配付を行った", default=False)
    receipt_number = models.CharField("受付番号", max_length=20, unique=True, null=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="申請者", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    submitted_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField("更新日時", auto_now=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "実施の確認（一時金）"
        verbose_name_plural = "実施の確認（一時金）"
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "program"], name="one_attestation_per_program"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.facility.code} {self.program.code}"


class Determination(models.Model):
    """A facility's result for a program: eligible or not, amount, and why. A result put
    into a payout (payout_locked) is never replaced by a later run."""

    # No index of their own: (facility, program) and (program, eligible) lead with them.
    facility = models.ForeignKey(
        Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="determinations",
        db_index=False,
    )
    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT,
                                related_name="determinations", db_index=False)
    parameter_version = models.ForeignKey(ParameterVersion, verbose_name="パラメータの版", on_delete=models.PROTECT)
    eligible = models.BooleanField("支給対象")
    amount = models.PositiveIntegerField("金額（円）")
    # The facts the rule read (JSON of the rule's facts) and the cell it chose.
    facts = models.JSONField("判定に用いた事実", null=True, blank=True)
    details = models.JSONField("判定の区分", default=dict)
    # The reason texts as decided (each criterion met ✓ or not ✗, and the amount), worded
    # by the rule under `parameter_version` when the result was written; never worded again
    # when a page shows them (docs/domain.md §5.4: a result keeps the reasons it was decided with).
    stored_reasons = models.JSONField("判定理由（判定時の文面）", default=list, blank=True,
                                      db_column="reasons")
    determined_at = models.DateTimeField("判定日時")
    payout_locked = models.BooleanField("支払処理済み", default=False)

    class Meta:
        verbose_name = "支給判定"
        verbose_name_plural = "支給判定"
        ordering = ["program", "facility"]
        constraints = [
            models.UniqueConstraint(
                fields=["facility", "program"], name="one_determination_per_program"
            ),
            models.CheckConstraint(
                condition=Q(eligible=True) | Q(amount=0), name="ineligible_means_zero"
            ),
        ]
        indexes = [models.Index(fields=["program", "eligible"])]

    def __str__(self) -> str:
        return f"{self.facility.code} {self.program.code}: {self.amount}"

    @property
    def reasons(self) -> list[str]:
        """The reason texts the facility reads, as they were worded when this result was
        decided (the batch stores them with each row it writes)."""
        return list(self.stored_reasons or [])

    @reasons.setter
    def reasons(self, texts: list[str]) -> None:
        self.stored_reasons = list(texts)

    @property
    def decision_label(self) -> str:
        """令和7年8月1日の判定、第2版: when the result was decided, under which version."""
        day = timezone.localdate(self.determined_at)
        return f"{to_wareki(day)}の判定、第{self.parameter_version.version}版"


class EligibilityRun(models.Model):
    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT, related_name="runs")
    parameter_version = models.ForeignKey(ParameterVersion, verbose_name="パラメータの版", on_delete=models.PROTECT)
    started_at = models.DateTimeField("開始日時", auto_now_add=True)
    finished_at = models.DateTimeField("終了日時", null=True, blank=True)
    facilities = models.PositiveIntegerField("判定した施設数", default=0)
    eligible = models.PositiveIntegerField(default=0)
    total_amount = models.PositiveBigIntegerField("支給総額（円）", default=0)
    skipped_locked = models.PositiveIntegerField("支払処理済みで据え置いた数", default=0)
    # Where the time went (seconds each phase was busy): gathering the facts, the rule,
    # writing the results that changed.
    facts_seconds = models.FloatField("事実の収集（秒）", default=0)
    rule_seconds = models.FloatField("判定（秒）", default=0)
    write_seconds = models.FloatField("書き込み（秒）", default=0)
    written = models.PositiveIntegerField("書き込んだ結果の数", default=0)
    # Paid (payout-locked) results whose amount changed: the adjustments (調整) proposed.
    adjustments_proposed = models.PositiveIntegerField("提案した調整の数", default=0)

    class Meta:
        verbose_name = "判定バッチの実行"
        verbose_name_plural = "判定バッチの実行"
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.program.code} {self.started_at:%Y-%m-%d %H:%M}"


class PendingDetermination(models.Model):
    """A facility whose facts changed since its results were determined: written in the
    transaction that changed the fact, consumed by the re-determination task. One row per
    facility, so that many quick changes make one run, and the facility's results page can
    say that a re-determination is on its way instead of showing a stale verdict."""

    facility = models.OneToOneField(
        Facility, verbose_name="施設", on_delete=models.CASCADE, related_name="pending_determination"
    )
    requested_at = models.DateTimeField("依頼日時")

    class Meta:
        verbose_name = "再判定待ち"
        verbose_name_plural = "再判定待ち"

    def __str__(self) -> str:
        return f"{self.facility.code} {self.requested_at:%Y-%m-%d %H:%M}"


class PreviewState(models.TextChoices):
    QUEUED = "queued", "確認待ち"
    RUNNING = "running", "確認中"
    DONE = "done", "確認済み"
    FAILED = "failed", "確認できませんでした"


class ParameterPreview(BackgroundJob):
    """「適用前の確認」 of a draft version: which facilities' results would change under its
    parameters and by how much, against the results stored then. Computed by a background
    task (a background job, portal/jobs.py: progress and history on the row) and kept for the
    apply step, tied to the version and to the hash of the parameters it was computed with:
    once they are edited it no longer holds."""

    PHASES = (Phase(PreviewState.QUEUED, PreviewState.RUNNING, PreviewState.DONE),)
    FAILED = PreviewState.FAILED

    version = models.ForeignKey(ParameterVersion, verbose_name="パラメータの版",
                                on_delete=models.CASCADE, related_name="previews")
    params_hash = models.CharField("確認したパラメータのハッシュ", max_length=64)
    state = job_state_field(PreviewState.choices, default=PreviewState.QUEUED)
    facilities = models.PositiveIntegerField("判定した施設数", default=0)
    changed = models.PositiveIntegerField("結果が変わる施設", default=0)
    newly_eligible = models.PositiveIntegerField("新たに支給対象", default=0)
    no_longer_eligible = models.PositiveIntegerField("対象外になる", default=0)
    locked_changes = models.PositiveIntegerField("支払処理済みのため変わらない施設", default=0)
    total_difference = models.BigIntegerField("支給額の増減の合計（円）", default=0)
    # Paid results (payout_locked) whose amount would change: they are not changed, an
    # adjustment (調整) of the difference is proposed instead (docs/domain.md §5.4). Against the
    # determination's amount; up and down apart.
    paid_up_count = models.PositiveIntegerField("支払済みで増額になる施設", default=0)
    paid_up_yen = models.PositiveBigIntegerField("支払済みの増額の合計（円）", default=0)
    paid_down_count = models.PositiveIntegerField("支払済みで減額になる施設", default=0)
    paid_down_yen = models.PositiveBigIntegerField("支払済みの減額の合計（円）", default=0)
    # The largest changes (facility, code, name, before and after), as the page lists them.
    rows = models.JSONField("結果が変わる施設（増減の大きい順）", default=list)
    # A preview is only a look: whoever started it may leave (the job's other kinds protect
    # their creator, whose work they hold).
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="依頼した人",
                                   null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    start, finish, fail = job_moves(*PHASES, failed=FAILED)

    class Meta(BackgroundJob.Meta):
        verbose_name = "適用前の確認"
        verbose_name_plural = "適用前の確認"
        constraints = [models.CheckConstraint(condition=Q(done__lte=models.F("total")),
                                              name="preview_done_within_total")]

    def __str__(self) -> str:
        return f"{self.version} の適用前の確認 #{self.pk}"


# ----------------------------------------------------------------- adjustments (調整)

REVIEW_ADJUSTMENT_PERMISSION = "eligibility.review_adjustment"
DECIDE_ADJUSTMENT_PERMISSION = "eligibility.decide_adjustment"
PAY_ADJUSTMENT_PERMISSION = "eligibility.pay_adjustment"


class AdjustmentState(models.TextChoices):
    """Internal names with the administrators' labels; the facility's are below."""

    PROPOSED = "proposed", "提案（審査待ち）"
    REVIEWED = "reviewed", "審査済み（決定待ち）"
    APPROVED = "approved", "承認済み"  # positive: payable; negative: to net or to recover
    REJECTED = "rejected", "不採用"
    WITHDRAWN = "withdrawn", "取り下げ（再判定で置き換え）"
    PAYING = "paying", "支払手続中"
    PAID = "paid", "振込済"
    NETTED = "netted", "支払と相殺済み"
    RECOVERY = "recovery", "返還請求"


FACILITY_ADJUSTMENT_LABELS = {
    AdjustmentState.PROPOSED: "審査中",
    AdjustmentState.REVIEWED: "審査中",
    AdjustmentState.APPROVED: "決定",
    AdjustmentState.REJECTED: "見送り",
    AdjustmentState.WITHDRAWN: "取り下げ",
    AdjustmentState.PAYING: "決定（振込の手続中）",
    AdjustmentState.PAID: "振込済",
    AdjustmentState.NETTED: "次回の支払と相殺",
    AdjustmentState.RECOVERY: "返還のお願い",
}
# States in which an adjustment's difference is decided and counts (settled or to be
# settled): the amount a facility is owed is its paid result plus these differences
# (docs/domain.md §5.4). A proposal waiting for its decision does not count yet; a rejected or
# withdrawn one never does.
COUNTED_ADJUSTMENT_STATES = (
    AdjustmentState.APPROVED, AdjustmentState.PAYING, AdjustmentState.PAID,
    AdjustmentState.NETTED, AdjustmentState.RECOVERY,
)
OPEN_ADJUSTMENT_STATES = (AdjustmentState.PROPOSED, AdjustmentState.REVIEWED)


class Adjustment(FacilityMoveEffects, WorkflowModel, models.Model):
    """調整 (docs/domain.md §5.4): the difference between what a facility was paid for a program's
    result (frozen in a payout) and what the result is now, after a parameter version, a fact
    or statistics changed it. Proposed by the eligibility batch, reviewed and approved by two
    different people; a positive one is paid as its own payment line, a negative one netted
    against the facility's next payment of the same program or claimed back (返還請求). It keeps
    the result it was decided with (verdict, facts, reasons, parameter version)."""

    activity_prefix = "adjustment"
    facility_state_labels = FACILITY_ADJUSTMENT_LABELS

    facility = models.ForeignKey(Facility, verbose_name="施設", on_delete=models.PROTECT,
                                 related_name="adjustments")
    program = models.ForeignKey(Program, verbose_name="プログラム", on_delete=models.PROTECT,
                                related_name="adjustments")
    determination = models.ForeignKey(Determination, verbose_name="支払済みの支給判定",
                                      on_delete=models.PROTECT, related_name="adjustments")
    parameter_version = models.ForeignKey(ParameterVersion, verbose_name="再判定のパラメータの版",
                                          on_delete=models.PROTECT, related_name="+")
    paid_amount = models.PositiveIntegerField("これまでの支給額（円）")
    new_amount = models.PositiveIntegerField("再判定の金額（円）")
    difference = models.IntegerField("差額（円）")  # new_amount − paid_amount, never 0
    eligible = models.BooleanField("再判定で支給対象")
    cause = models.CharField("理由", max_length=200)
    facts = models.JSONField("再判定に用いた事実", null=True, blank=True)
    details = models.JSONField("再判定の区分", default=dict)
    reasons = models.JSONField("再判定の理由（判定時の文面）", default=list)
    state = state_field("状態", choices=AdjustmentState.choices,
                        default=AdjustmentState.PROPOSED)
    proposed_at = models.DateTimeField("提案日時")
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="審査者", null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    reviewed_at = models.DateTimeField("審査日時", null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="決定者", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField("決定日時", null=True, blank=True)
    settled_at = models.DateTimeField("精算日時", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "調整"
        verbose_name_plural = "調整"
        ordering = ["-proposed_at", "-pk"]
        permissions = [
            ("review_adjustment", "調整を審査する"),
            ("decide_adjustment", "調整を決定する（審査者以外）"),
            ("pay_adjustment", "調整を支払・相殺・返還請求に回す"),
        ]
        constraints = [
            models.CheckConstraint(condition=~Q(difference=0), name="adjustment_not_zero"),
            models.CheckConstraint(
                condition=Q(difference=models.F("new_amount") - models.F("paid_amount")),
                name="adjustment_difference_exact"),
            # At most one adjustment of a result waiting for its decision.
            models.UniqueConstraint(fields=["facility", "program"],
                                    condition=Q(state__in=["proposed", "reviewed"]),
                                    name="one_open_adjustment_per_program"),
        ]
        indexes = [models.Index(fields=["program", "state"])]

    def __str__(self) -> str:
        return f"{self.facility.code} {self.program.code} 調整 {self.difference:+,}円"

    @property
    def direction(self) -> str:
        return "pay" if self.difference > 0 else "recover"

    @property
    def direction_label(self) -> str:
        return "追加のお支払い" if self.difference > 0 else "返還"

    @property
    def difference_yen(self) -> str:
        """The difference with its sign, as the pages and e-mails write it: +50,000円."""
        return f"{self.difference:+,}円"

    @property
    def facility_state_label(self) -> str:
        from portal.workflow import facility_state_label

        return facility_state_label(self)

    def email_context(self) -> dict:
        return {"adjustment": self}

    def move_refusal(self, name: str, user):
        """The reviewer never decides (docs/domain.md §5.4), said in the reviewer's terms."""
        from portal.errors import NotPermitted

        if name in ("approve", "reject") and self.reviewed_by_id is not None \
                and self.reviewed_by_id == getattr(user, "pk", None):
            return NotPermitted("この調整を審査した方は決定できません（二者確認）。"
                                "審査した方とは別の決定権者が決定してください。")
        return None

    # ---- moves (made only through portal.workflow.perform)

    @move(source=AdjustmentState.PROPOSED, target=AdjustmentState.REVIEWED,
          permission=REVIEW_ADJUSTMENT_PERMISSION, label="審査する", visible_to_facility=False)
    def review(self, *, actor):
        self.reviewed_by, self.reviewed_at = actor, timezone.now()

    @move(source=AdjustmentState.REVIEWED, target=AdjustmentState.APPROVED,
          permission=DECIDE_ADJUSTMENT_PERMISSION, label="決定する", four_eyes=("review",),
          email="adjustment_state_changed")
    def approve(self, *, actor):
        self.decided_by, self.decided_at = actor, timezone.now()

    @move(source=[AdjustmentState.PROPOSED, AdjustmentState.REVIEWED],
          target=AdjustmentState.REJECTED, permission=DECIDE_ADJUSTMENT_PERMISSION,
          label="不採用とする", four_eyes=("review",), visible_to_facility=False)
    def reject(self, *, actor):
        self.decided_by, self.decided_at = actor, timezone.now()

    @move(source=[AdjustmentState.PROPOSED, AdjustmentState.REVIEWED],
          target=AdjustmentState.WITHDRAWN, permission=PAY_ADJUSTMENT_PERMISSION,
          label="再判定により取り下げる", system=True, visible_to_facility=False)
    def withdraw(self, *, actor):
        pass

    @move(source=AdjustmentState.APPROVED, target=AdjustmentState.PAYING,
          permission=PAY_ADJUSTMENT_PERMISSION, label="支払バッチに入れる", system=True)
    def enter_payout(self, *, actor):
        pass

    @move(source=AdjustmentState.PAYING, target=AdjustmentState.APPROVED,
          permission=PAY_ADJUSTMENT_PERMISSION, label="支払バッチから外す（バッチの取消）",
          system=True, visible_to_facility=False)
    def leave_payout(self, *, actor):
        pass

    @move(source=AdjustmentState.PAYING, target=AdjustmentState.PAID,
          permission=PAY_ADJUSTMENT_PERMISSION, label="振込済みにする", system=True,
          email="adjustment_state_changed")
    def mark_paid(self, *, actor):
        self.settled_at = timezone.now()

    @move(source=AdjustmentState.APPROVED, target=AdjustmentState.NETTED,
          permission=PAY_ADJUSTMENT_PERMISSION, label="次回の支払と相殺する", system=True,
          email="adjustment_state_changed")
    def net(self, *, actor):
        self.settled_at = timezone.now()

    @move(source=AdjustmentState.APPROVED, target=AdjustmentState.RECOVERY,
          permission=PAY_ADJUSTMENT_PERMISSION, label="返還請求に回す", system=True)
    def claim_back(self, *, actor):
        self.settled_at = timezone.now()

    @move(source=[AdjustmentState.NETTED, AdjustmentState.RECOVERY],
          target=AdjustmentState.APPROVED, permission=PAY_ADJUSTMENT_PERMISSION,
          label="相殺を取り消す（支払バッチの取消）", system=True,
          email="adjustment_state_changed")
    def reopen(self, *, actor):
        """The run that netted it was cancelled before any money moved: what it netted is
        owed again (a recovery already noticed stays; payouts counts it)."""
        self.settled_at = None
