"""The obligation of 施術所 to introduce online qualification and its exemptions (docs/domain.md §7):
exemption declarations, 併設 pairings, survey answers received by post or e-mail, explanation
session requests, each 施術所's computed compliance status, the follow-up ladder and the bulk
letters. Declarations, pairings and session requests move only through the workflow kernel
(`portal.workflow.perform`); the services in obligation/services.py make every change."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from simple_history.models import HistoricalRecords

from facilities.activity import FacilityMoveEffects, is_facility_staff
from facilities.models import Facility
from facilities.prefectures import PREFECTURES
from portal.jobs import BackgroundJob, Phase, job_moves, job_state_field
from portal.workflow import WorkflowModel, facility_state_label, move, state_field

from .rules import ExemptionReason

REVIEW_PERMISSION = "obligation.review_exemption"
ANNEX_PERMISSION = "obligation.manage_annex"
SESSION_PERMISSION = "obligation.schedule_session"
FOLLOW_UP_PERMISSION = "obligation.follow_up"

REASON_CHOICES = [(code, label) for code, label in ExemptionReason.LABELS.items()]


# ---------------------------------------------------------------- exemption declaration


class DeclarationState(models.TextChoices):
    DECLARED = "declared", "申告済み（確認待ち）"
    ACCEPTED = "accepted", "受理"
    RETURNED = "returned", "差戻し"
    WITHDRAWN = "withdrawn", "取下げ"


FACILITY_DECLARATION_LABELS = {
    DeclarationState.DECLARED: "申告済み（確認をお待ちください）",
    DeclarationState.ACCEPTED: "受理されました",
    DeclarationState.RETURNED: "差戻し（内容をご確認ください）",
    DeclarationState.WITHDRAWN: "取り下げました",
}
LIVE_DECLARATION_STATES = (DeclarationState.DECLARED, DeclarationState.ACCEPTED)


class ExemptionDeclaration(FacilityMoveEffects, WorkflowModel, models.Model):
    """やむを得ない事由の申告. Made only when `determine_exemption` accepts it (the form
    refuses otherwise); an administrator then accepts (受理) or returns it (差戻し)."""

    activity_prefix = "exemption"
    facility_state_labels = FACILITY_DECLARATION_LABELS

    facility = models.ForeignKey(Facility, verbose_name="施術所", on_delete=models.PROTECT,
                                 related_name="exemption_declarations")
    state = state_field("状態", choices=DeclarationState.choices,
                        default=DeclarationState.DECLARED)
    receipt_number = models.CharField("受付番号", max_length=20, unique=True, null=True,
                                      blank=True)
    reason = models.CharField("事由", max_length=3, choices=REASON_CHOICES)
    planned_date = models.DateField("廃止・休止または受領委任の終了の予定日", null=True,
                                    blank=True)
    contact_name = models.CharField("担当者名", max_length=100)
    phone = models.CharField("電話番号", max_length=20, blank=True)
    determination = models.TextField("判定の根拠", blank=True)
    return_reason = models.TextField("差戻しの理由", blank=True)
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申告者", null=True,
                                     blank=True, on_delete=models.SET_NULL, related_name="+")
    submission_token = models.UUIDField(unique=True, null=True, blank=True, editable=False)
    submitted_at = models.DateTimeField("申告日時", auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="確認者", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField("確認日時", null=True, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "やむを得ない事由の申告"
        verbose_name_plural = "やむを得ない事由の申告"
        ordering = ["-submitted_at", "-pk"]
        permissions = [("review_exemption", "やむを得ない事由の申告を確認する（受理・差戻し）")]
        constraints = [
            # One live declaration per 施術所: a second must wait for the first to be returned
            # or withdrawn (two simultaneous submissions: the second fails here).
            models.UniqueConstraint(fields=["facility"],
                                    condition=Q(state__in=["declared", "accepted"]),
                                    name="one_live_exemption_per_facility"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number or '-'} 事由{self.reason}"

    @property
    def facility_state_label(self) -> str:
        return facility_state_label(self)

    @property
    def valid_until(self):
        """The last day the exemption holds: the planned date for 2 and 3, none for 1."""
        if self.reason in ExemptionReason.WITH_PRACTITIONERS:
            return None
        return self.planned_date

    def email_context(self) -> dict:
        return {"declaration": self}

    # ---- moves (made only through portal.workflow.perform)

    @move(source=DeclarationState.DECLARED, target=DeclarationState.ACCEPTED,
          permission=REVIEW_PERMISSION, label="受理する", email="exemption_state_changed")
    def accept(self, *, actor, decided_at):
        self.decided_by, self.decided_at = actor, decided_at

    @move(source=DeclarationState.DECLARED, target=DeclarationState.RETURNED,
          permission=REVIEW_PERMISSION, label="差し戻す", email="exemption_state_changed")
    def send_back(self, *, actor, reason: str, decided_at):
        self.return_reason = reason
        self.decided_by, self.decided_at = actor, decided_at

    @move(source=[DeclarationState.DECLARED, DeclarationState.ACCEPTED],
          target=DeclarationState.WITHDRAWN, permission=is_facility_staff, label="取り下げる",
          email="exemption_state_changed")
    def withdraw(self, *, actor):
        pass


class DeclaredPractitioner(models.Model):
    """One practitioner listed on a 1-1 / 1-2 declaration (as typed; kept with it)."""

    declaration = models.ForeignKey(ExemptionDeclaration, verbose_name="申告",
                                    on_delete=models.CASCADE, related_name="practitioners")
    name = models.CharField("氏名", max_length=100)
    birth_date = models.DateField("生年月日")
    full_time = models.BooleanField("常勤", default=True)
    visually_impaired = models.BooleanField("視覚障害", default=False)

    class Meta:
        verbose_name = "申告された施術者"
        verbose_name_plural = "申告された施術者"
        ordering = ["declaration", "pk"]

    def __str__(self) -> str:
        return self.name


# ---------------------------------------------------------------- 併設 (annex) pairing


class PairingState(models.TextChoices):
    PROPOSED = "proposed", "相手の確認待ち"
    ACTIVE = "active", "成立"
    DECLINED = "declined", "辞退"
    WITHDRAWN = "withdrawn", "取下げ"
    DISSOLVED = "dissolved", "解除"


LIVE_PAIRING_STATES = (PairingState.PROPOSED, PairingState.ACTIVE)


def is_responding_staff(pairing, user) -> bool:
    """Staff of the side that did not propose (it confirms or declines)."""
    from facilities.models import Membership

    return bool(user is not None and user.is_authenticated and Membership.objects.filter(
        user=user, facility_id=pairing.responding_facility_id).exists())


def is_proposing_staff(pairing, user) -> bool:
    from facilities.models import Membership

    return bool(user is not None and user.is_authenticated and Membership.objects.filter(
        user=user, facility_id=pairing.proposed_by_facility_id).exists())


def may_dissolve(pairing, user) -> bool:
    """Either side's staff, or an administrator with the annex permission."""
    from facilities.models import Membership

    if user is None or not user.is_authenticated:
        return False
    if user.has_perm(ANNEX_PERMISSION):
        return True
    return Membership.objects.filter(
        user=user, facility_id__in=[pairing.main_id, pairing.subordinate_id]).exists()


class AnnexPairing(WorkflowModel, models.Model):
    """A 併設申告: one 施術所 proposes the pair (main, subordinate); the other one's staff
    confirm it. Once active the subordinate's `main_facility` is the main one and it is
    covered by the main one's introduction (docs/domain.md §7). No chains: a main is nobody's
    subordinate and a subordinate is nobody's main (checked under row locks)."""

    main = models.ForeignKey(Facility, verbose_name="主たる施術所", on_delete=models.PROTECT,
                             related_name="annex_as_main")
    subordinate = models.ForeignKey(Facility, verbose_name="従たる施術所（併設）",
                                    on_delete=models.PROTECT, related_name="annex_as_subordinate")
    proposed_by_facility = models.ForeignKey(Facility, verbose_name="申告した施術所",
                                             on_delete=models.PROTECT, related_name="+")
    state = state_field("状態", choices=PairingState.choices, default=PairingState.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="申告者", null=True,
                                    blank=True, on_delete=models.SET_NULL, related_name="+")
    proposed_at = models.DateTimeField("申告日時", auto_now_add=True)
    answered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="確認・辞退した人",
                                    null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    answered_at = models.DateTimeField("確認・辞退日時", null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="解除した人", null=True,
                                 blank=True, on_delete=models.SET_NULL, related_name="+")
    ended_at = models.DateTimeField("解除日時", null=True, blank=True)
    end_reason = models.TextField("解除の理由", blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "併設申告"
        verbose_name_plural = "併設申告"
        ordering = ["-proposed_at", "-pk"]
        permissions = [("manage_annex", "併設申告を解除する（管理者）")]
        constraints = [
            models.CheckConstraint(condition=~Q(main=F("subordinate")),
                                   name="annex_not_with_itself"),
            models.CheckConstraint(
                condition=Q(proposed_by_facility=F("main"))
                | Q(proposed_by_facility=F("subordinate")),
                name="annex_proposed_by_a_side"),
            # One live pairing per subordinate (two simultaneous proposals: one fails here).
            models.UniqueConstraint(fields=["subordinate"],
                                    condition=Q(state__in=["proposed", "active"]),
                                    name="one_live_annex_per_subordinate"),
        ]

    def __str__(self) -> str:
        return f"{self.main.name} ← {self.subordinate.name}（{self.get_state_display()}）"

    @property
    def responding_facility_id(self) -> int:
        return (self.subordinate_id if self.proposed_by_facility_id == self.main_id
                else self.main_id)

    def after_move(self, *, move, actor, summary: str) -> None:
        from .services import annex_after_move

        annex_after_move(self, move=move, actor=actor, summary=summary)

    # ---- moves (made only through portal.workflow.perform)

    @move(source=PairingState.PROPOSED, target=PairingState.ACTIVE,
          permission=is_responding_staff, label="併設を確認する", email="annex_state_changed")
    def confirm(self, *, actor, answered_at):
        self.answered_by, self.answered_at = actor, answered_at

    @move(source=PairingState.PROPOSED, target=PairingState.DECLINED,
          permission=is_responding_staff, label="辞退する", email="annex_state_changed")
    def decline(self, *, actor, answered_at):
        self.answered_by, self.answered_at = actor, answered_at

    @move(source=PairingState.PROPOSED, target=PairingState.WITHDRAWN,
          permission=is_proposing_staff, label="取り下げる", email="annex_state_changed")
    def withdraw(self, *, actor, ended_at):
        self.ended_by, self.ended_at = actor, ended_at

    @move(source=PairingState.ACTIVE, target=PairingState.DISSOLVED, permission=may_dissolve,
          label="併設を解除する", email="annex_state_changed")
    def dissolve(self, *, actor, ended_at, reason: str = ""):
        self.ended_by, self.ended_at, self.end_reason = actor, ended_at, reason


# ---------------------------------------------------------------- survey answers


class SurveyAnswer(models.Model):
    """An answer to the exemption survey (2025-01-24) received by post or e-mail, entered by
    an administrator; matched to the facility by its 登録記号番号 when one is found."""

    class Channel(models.TextChoices):
        POST = "post", "郵送"
        EMAIL = "email", "電子メール"

    class Reason(models.TextChoices):
        ELDERLY = "1", "1 施術者が高齢（70歳以上）・視覚障害"
        CLOSING = "2", "2 令和7年12月2日までに廃止・休止する予定"
        ENDING = "3", "3 令和7年12月2日までに受領委任の取扱いをやめる予定"

    name = models.CharField("施術所名", max_length=200)
    address = models.CharField("所在地", max_length=300)
    registration_code = models.CharField("登録記号番号", max_length=24, db_index=True)
    email = models.EmailField("メールアドレス", blank=True)
    reason = models.CharField("事由", max_length=1, choices=Reason.choices)
    channel = models.CharField("受付方法", max_length=10, choices=Channel.choices,
                               default=Channel.POST)
    received_on = models.DateField("受付日")
    facility = models.ForeignKey(Facility, verbose_name="照合した施術所", null=True, blank=True,
                                 on_delete=models.SET_NULL, related_name="survey_answers")
    note = models.TextField("メモ", blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="入力者", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    entered_at = models.DateTimeField("入力日時", auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = "調査票の回答（郵送・メール）"
        verbose_name_plural = "調査票の回答（郵送・メール）"
        ordering = ["-received_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.name}（{self.registration_code}）事由{self.reason}"


# ---------------------------------------------------------------- explanation sessions


class SessionState(models.TextChoices):
    REQUESTED = "requested", "申込済み（日程調整中）"
    SCHEDULED = "scheduled", "日程決定"
    HELD = "held", "実施済み"
    CANCELLED = "cancelled", "取消"


class SessionRequest(WorkflowModel, models.Model):
    """説明会（Web）の参加申込書 (seed 004, 別紙4): an association applies; administrators
    schedule the session and the applicant is e-mailed at each step."""

    receipt_number = models.CharField("受付番号", max_length=20, unique=True, null=True,
                                      blank=True)
    organisation = models.CharField("団体名", max_length=200)
    address = models.CharField("住所", max_length=300)
    contact_furigana = models.CharField("ふりがな", max_length=100)
    contact_name = models.CharField("担当者氏名", max_length=100)
    phone = models.CharField("電話番号", max_length=20)
    email = models.EmailField("メールアドレス")
    preferred_date = models.DateField("希望日")
    preferred_start = models.TimeField("希望開始時刻")
    preferred_end = models.TimeField("希望終了時刻")
    attendees = models.PositiveIntegerField("参加予定人数")
    occupation = models.CharField("参加される方の属性（職業）", max_length=200)
    topics = models.TextField("説明を受けたい内容", blank=True)
    notes = models.TextField("備考（希望するWeb会議の方式など）", blank=True)
    state = state_field("状態", choices=SessionState.choices, default=SessionState.REQUESTED)
    scheduled_start = models.DateTimeField("開催日時（開始）", null=True, blank=True)
    scheduled_end = models.DateTimeField("開催日時（終了）", null=True, blank=True)
    meeting_info = models.TextField("参加方法（URL・ID等）", blank=True)
    cancel_reason = models.TextField("取消の理由", blank=True)
    submission_token = models.UUIDField(unique=True, null=True, blank=True, editable=False)
    requested_at = models.DateTimeField("申込日時", auto_now_add=True)
    handled_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="担当者", null=True,
                                   blank=True, on_delete=models.SET_NULL, related_name="+")
    history = HistoricalRecords()

    class Meta:
        verbose_name = "説明会の申込"
        verbose_name_plural = "説明会の申込"
        ordering = ["-requested_at", "-pk"]
        permissions = [("schedule_session", "説明会の日程を決める・実施済み・取消にする")]
        constraints = [
            models.CheckConstraint(condition=Q(preferred_end__gt=F("preferred_start")),
                                   name="session_preferred_end_after_start"),
            models.CheckConstraint(condition=Q(attendees__gte=1),
                                   name="session_attendees_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.receipt_number or '-'} {self.organisation}"

    def after_move(self, *, move, actor, summary: str) -> None:
        from .services import session_after_move

        session_after_move(self, move=move, actor=actor, summary=summary)

    @move(source=[SessionState.REQUESTED, SessionState.SCHEDULED],
          target=SessionState.SCHEDULED, permission=SESSION_PERMISSION,
          label="日程を決める", email="session_scheduled")
    def schedule(self, *, actor, start, end, meeting_info: str):
        self.scheduled_start, self.scheduled_end = start, end
        self.meeting_info, self.handled_by = meeting_info, actor

    @move(source=SessionState.SCHEDULED, target=SessionState.HELD,
          permission=SESSION_PERMISSION, label="実施済みにする")
    def mark_held(self, *, actor):
        self.handled_by = actor

    @move(source=[SessionState.REQUESTED, SessionState.SCHEDULED],
          target=SessionState.CANCELLED, permission=SESSION_PERMISSION, label="取り消す",
          email="session_cancelled")
    def cancel(self, *, actor, reason: str):
        self.cancel_reason, self.handled_by = reason, actor


# ---------------------------------------------------------------- compliance and follow-up


class ComplianceState(models.TextChoices):
    INTRODUCED = "introduced", "導入済み"
    # A subordinate 施術所 that has not introduced itself: its duty is deemed met by its main
    # one's introduction (docs/domain.md §7, N1), which the label says (never 導入済み alone).
    COVERED = "covered", "導入義務を満たす（併設の主たる施術所が導入済み）"
    EXEMPT = "exempt", "やむを得ない事由あり"
    PENDING = "pending", "利用開始申請中"
    NOT_INTRODUCED = "not_introduced", "未導入"


class FollowUpKind(models.TextChoices):
    REQUEST_LETTER = "request_letter", "導入の依頼文書を送付"
    GUIDANCE_INVITATION = "guidance_invitation", "集団指導の案内を送付"
    GUIDANCE_ATTENDED = "guidance_attended", "集団指導に出席"
    GUIDANCE_ABSENT = "guidance_absent", "集団指導に欠席"
    SUSPENSION_CANDIDATE = "suspension_candidate", "受領委任の取扱い停止の候補"


class ComplianceStatus(models.Model):
    """Where one 施術所 stands (computed: obligation/compliance.py, nightly and whenever its
    facts change), with the explanation shown to administrators and to the facility."""

    facility = models.OneToOneField(Facility, verbose_name="施術所", primary_key=True,
                                    on_delete=models.CASCADE, related_name="compliance")
    prefecture = models.CharField("都道府県", max_length=2, choices=PREFECTURES, db_index=True)
    state = models.CharField("状況", max_length=20, choices=ComplianceState.choices,
                             db_index=True)
    exemption_reason = models.CharField("事由", max_length=3, blank=True)
    valid_until = models.DateField("事由の期限", null=True, blank=True)
    basis = models.TextField("根拠", blank=True)
    last_step = models.CharField("直近の対応", max_length=30, choices=FollowUpKind.choices,
                                 blank=True, db_index=True)
    last_step_at = models.DateTimeField("直近の対応日時", null=True, blank=True)
    computed_at = models.DateTimeField("算定日時")

    class Meta:
        verbose_name = "導入状況"
        verbose_name_plural = "導入状況"
        ordering = ["prefecture", "facility"]
        permissions = [("follow_up", "未導入の施術所への対応（依頼文書・集団指導）を記録する")]
        indexes = [models.Index(fields=["prefecture", "state"])]

    def __str__(self) -> str:
        return f"{self.facility_id}: {self.get_state_display()}"


class LetterBatchState(models.TextChoices):
    QUEUED = "queued", "作成待ち"
    RUNNING = "running", "作成中"
    DONE = "done", "作成完了"
    FAILED = "failed", "作成できませんでした"


class LetterBatch(BackgroundJob):
    """Letters for a filtered list of 施術所 (依頼文書 or 集団指導の案内), one PDF per
    facility in one ZIP and all of them as one PDF to print, made by a background task: a background job (portal/jobs.py), its
    progress and history on the row."""

    class Kind(models.TextChoices):
        REQUEST = "request_letter", "導入の依頼文書"
        GUIDANCE = "guidance_invitation", "集団指導の案内"

    PHASES = (Phase(LetterBatchState.QUEUED, LetterBatchState.RUNNING, LetterBatchState.DONE),)
    FAILED = LetterBatchState.FAILED

    kind = models.CharField("種類", max_length=30, choices=Kind.choices)
    state = job_state_field(LetterBatchState.choices, default=LetterBatchState.QUEUED)
    facility_ids = models.JSONField("対象の施術所", default=list)
    filter_description = models.TextField("対象の条件", blank=True)
    guidance_date = models.DateField("集団指導の開催日", null=True, blank=True)
    guidance_place = models.CharField("集団指導の会場", max_length=200, blank=True)
    stored_name = models.CharField("保存名", max_length=64, blank=True)
    # The same letters as one PDF to print, and where each facility's letter is in it.
    print_name = models.CharField("印刷用PDFの保存名", max_length=64, blank=True)
    page_ranges = models.JSONField("施術所ごとのページ", default=list, blank=True,
                                   help_text="[登録記号番号, 施術所名, 最初のページ, 最後のページ]")

    start, finish, fail = job_moves(*PHASES, failed=FAILED)

    class Meta(BackgroundJob.Meta):
        verbose_name = "文書の一括作成"
        verbose_name_plural = "文書の一括作成"
        constraints = [models.CheckConstraint(condition=Q(done__lte=F("total")),
                                              name="letter_batch_done_within_total")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}（{self.total}件）"


class FollowUpStep(models.Model):
    """One step of the ladder for a 施術所 not introduced: who, when, which letter."""

    facility = models.ForeignKey(Facility, verbose_name="施術所", on_delete=models.CASCADE,
                                 related_name="follow_up_steps")
    kind = models.CharField("対応", max_length=30, choices=FollowUpKind.choices)
    letter = models.ForeignKey(LetterBatch, verbose_name="文書", null=True, blank=True,
                               on_delete=models.PROTECT, related_name="steps")
    note = models.TextField("メモ", blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name="対応者", null=True,
                                blank=True, on_delete=models.SET_NULL, related_name="+")
    done_at = models.DateTimeField("対応日時")

    class Meta:
        verbose_name = "未導入の施術所への対応"
        verbose_name_plural = "未導入の施術所への対応"
        ordering = ["facility", "done_at", "pk"]
        constraints = [
            # A letter batch records its step once per facility (a task run twice adds none).
            models.UniqueConstraint(fields=["facility", "letter"],
                                    condition=Q(letter__isnull=False),
                                    name="one_step_per_facility_and_letter"),
        ]

    def __str__(self) -> str:
        return f"{self.facility_id}: {self.get_kind_display()}"
