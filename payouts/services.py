"""Payout services: the facility's bank account, payout runs and their lines, the transfer
file and the bank's results (docs/domain.md §5.3, §5.4)."""

import csv
import hashlib
import io
from dataclasses import dataclass
from datetime import date

from django.db import IntegrityError, connection, transaction
from django.db.models import Count, Exists, F, OuterRef, Sum
from django.utils import timezone

from eligibility.models import Program
from facilities.activity import record_activities, record_activity
from facilities.models import Facility
from facilities.selectors import facility_emails
from portal.errors import IllegalTransition, NotPermitted, ServiceError
from portal.notifications import notify
from portal.wareki import to_wareki
from portal.workflow import perform, perform_many

from . import zengin
from .banking import NormalizedAccount, mask_account_number
from .calendar import check_transfer_date
from .models import (
    CREATE_PERMISSION,
    FILE_PERMISSION,
    FIX_ADVICE,
    RESULTS_PERMISSION,
    BankAccount,
    Consignor,
    FailureReason,
    PaymentLine,
    PayoutRun,
)
from .sources import SOURCES, source_for, sources_for


def save_bank_account(
    *, user, facility: Facility, account: NormalizedAccount, kigo: str = "", bango: str = ""
) -> BankAccount:
    """Register or change the facility's 振込先口座; the history keeps every version and
    every staff member is told (the number masked)."""
    with transaction.atomic():
        existing = BankAccount.objects.select_for_update().filter(facility=facility).first()
        bank_account = existing or BankAccount(facility=facility)
        bank_account.bank_code, bank_account.bank_name = account.bank.code, account.bank.name
        bank_account.branch_code = account.branch.code
        bank_account.branch_name = account.branch.name
        bank_account.account_type = account.account_type
        bank_account.account_number = account.account_number
        bank_account.holder_name = account.holder_name
        bank_account.bank_kana, bank_account.branch_kana = account.bank_kana, account.branch_kana
        bank_account.japan_post_kigo, bank_account.japan_post_bango = kigo, bango
        bank_account.updated_by = user
        bank_account.save()
        masked = mask_account_number(account.account_number)
        record_activity(
            facility=facility, actor=user,
            verb="bank_account_changed" if existing else "bank_account_registered",
            summary=f"振込先口座を{'変更' if existing else '登録'}しました: {account.bank.name} "
            f"{account.branch.name} {masked}",
            target=bank_account,
        )
        reissued = reissue_failed_lines(facility=facility, actor=user)
        notify(to=facility_emails(facility), name="bank_account_changed",
               context={"facility": facility, "account": bank_account, "masked": masked,
                        "changed": existing is not None, "actor": user,
                        "reissued": reissued})
    return bank_account


# ------------------------------------------------------------------------------ payout runs
#
# Exactly once: a source record stands in one live payment line at most (the database's
# unique constraint `one_live_line_per_source`); payables are claimed in chunks with row locks
# (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL), each chunk in its own transaction with the
# source's lock (`take`); a run is built by whoever asks for it (two requests at once build
# the same run: `one_run_building_per_program`), and building is resumed where it stopped.

FILL_CHUNK = 5000
ID_CHUNK = 10000
NOTIFY_CHUNK = 500


def _check_date(transfer_date: date) -> None:
    check_transfer_date(transfer_date)
    if transfer_date < timezone.localdate():
        raise ServiceError(f"振込指定日（{to_wareki(transfer_date)}）が過ぎています。",
                           "transfer_date")


def _require(actor, permission: str, what: str) -> None:
    """actor=None: the schedule (building a run only)."""
    if actor is not None and not actor.has_perm(permission):
        raise NotPermitted(f"「{what}」を行う権限がありません。")


def _require_person(actor, permission: str, what: str) -> None:
    """Writing the file and importing the results are a person's, never the schedule's."""
    if actor is None or not actor.has_perm(permission):
        raise NotPermitted(f"「{what}」を行う権限がありません。")


def _building_run(program: Program, transfer_date: date, actor) -> PayoutRun:
    existing = PayoutRun.objects.filter(program=program, state=PayoutRun.State.BUILDING).first()
    if existing is None:
        try:
            with transaction.atomic():
                return PayoutRun.objects.create(program=program, transfer_date=transfer_date,
                                                created_by=actor)
        except IntegrityError:  # created at the same moment by another request: join it
            existing = PayoutRun.objects.get(program=program, state=PayoutRun.State.BUILDING)
    if existing.transfer_date != transfer_date:
        raise ServiceError(
            f"{program.name}の支払バッチ{existing.pk}（振込指定日 "
            f"{to_wareki(existing.transfer_date)}）を作成中です。同じ振込指定日で作成を続けるか、"
            "作成が終わってから新しく作成してください。", "transfer_date")
    return existing


def _hold_building(run: PayoutRun) -> bool:
    """Inside a chunk's transaction: the run is still being built, and stays so until the
    chunk commits (a shared lock: chunks of several workers go on side by side; finishing the
    run waits for them)."""
    with connection.cursor() as cursor:
        table = connection.ops.quote_name(PayoutRun._meta.db_table)
        share = " FOR SHARE" if connection.vendor == "postgresql" else ""
        # The table name is the model's own, quoted; the id is a parameter.
        cursor.execute(f"SELECT state FROM {table} WHERE id = %s{share}", [run.pk])  # noqa: S608
        row = cursor.fetchone()
    return row is not None and row[0] == PayoutRun.State.BUILDING


def _live_line(kind: str):
    return PaymentLine.objects.filter(source_kind=kind, source_id=OuterRef("pk"),
                                      state__in=PaymentLine.LIVE_STATES)


def payable_records(source, program: Program | None = None):
    """The source's payable records with no live payment line, of facilities that have a
    bank account."""
    return (source.payable(program).filter(facility__bank_account__isnull=False)
            .exclude(Exists(_live_line(source.kind))))


ACCOUNT_FIELDS = ("bank_code", "bank_name", "bank_kana", "branch_code", "branch_name",
                  "branch_kana", "account_type", "account_number", "holder_name")


def _chunks(items: list, size: int = ID_CHUNK):
    """A long list of ids in pieces a statement can take (PostgreSQL binds at most 65,535
    parameters)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _fill_chunk(run: PayoutRun, source, actor, after: int = 0) -> int:
    """Claim up to FILL_CHUNK payables (of pk above `after`) into the run; the highest pk
    claimed (0: none left)."""
    with transaction.atomic():
        if not _hold_building(run):
            return 0
        rows = payable_records(source, run.program).filter(pk__gt=after).order_by("pk")
        if connection.features.has_select_for_update_skip_locked:
            rows = rows.select_for_update(skip_locked=True, of=("self",))
        rows = list(rows.values_list("pk", "facility_id", "payable_amount")[:FILL_CHUNK])
        if not rows:
            return 0
        accounts = {
            values[0]: values[1:] for values in BankAccount.objects.filter(
                facility_id__in={facility_id for _, facility_id, _ in rows}
            ).values_list("facility_id", *ACCOUNT_FIELDS)
        }
        PaymentLine.objects.bulk_create(
            [PaymentLine(run=run, facility_id=facility_id, program_id=run.program_id,
                         source_kind=source.kind, source_id=pk, amount=amount,
                         gross_amount=amount,
                         **dict(zip(ACCOUNT_FIELDS, accounts[facility_id], strict=True)))
             for pk, facility_id, amount in rows],
            batch_size=FILL_CHUNK,
            ignore_conflicts=True,  # the unique constraint is the last word on "once"
        )
        source.take([pk for pk, _, _ in rows], actor=actor)
    return rows[-1][0]


def _fill(run: PayoutRun, source, actor) -> None:
    """Every payable into the run, chunk by chunk in pk order; then once more from the start
    for the rows that were locked elsewhere (skipped) while we passed them."""
    while True:
        after = 0
        claimed_any = False
        while last := _fill_chunk(run, source, actor, after):
            after, claimed_any = last, True
        if not claimed_any:
            return


FINISH_ATTEMPTS = 5


def _finish(run: PayoutRun, actor, *, last_attempt: bool = True) -> PayoutRun | None:
    """Finish the run under its exclusive lock (no chunk is open then: each holds the run
    FOR SHARE). None when payables are left that a chunk skipped while another worker held
    them and that worker died (its chunk rolled back): the caller fills again first."""
    with transaction.atomic():
        locked = PayoutRun.objects.select_for_update().get(pk=run.pk)
        if locked.state != PayoutRun.State.BUILDING:
            return locked  # finished by another worker building the same run
        if not last_attempt and any(
                payable_records(source, locked.program).exists()
                for source in sources_for(locked.program)):
            return None
        # docs/domain.md §5.4: what the program's facilities owe is netted against their lines now,
        # or claimed back; in this transaction, so once whoever finishes the run.
        from .netting import net_and_claim_back

        net_and_claim_back(locked, actor)
        totals = locked.lines.filter(state=PaymentLine.State.SCHEDULED).aggregate(
            count=Count("pk"), total=Sum("amount"))
        if not totals["count"]:
            return perform(locked, "finish_empty", actor=actor,
                           summary="支払の対象がありませんでした。")
        # A run an officer created is checked by its creator; the schedule's run (nobody
        # created it) waits for one officer's check before another releases it.
        move = "finish" if locked.created_by_id else "finish_to_check"
        finished = perform(locked, move, actor=actor, line_count=totals["count"],
                           total_amount=totals["total"],
                           summary=f"{totals['count']:,}件 {totals['total']:,}円で作成しました。")
        _tell_officers(finished, name="payout_run_created")
        return finished


def _tell_officers(run: PayoutRun, *, name: str) -> None:
    """The payout officers who may make the run's next move (checking a scheduled run: any;
    releasing: all but whoever created or checked it) are told it waits."""
    from django.contrib.auth import get_user_model

    from portal.roles import PAYOUT_OFFICER

    officers = (get_user_model().objects.filter(is_active=True, is_staff=True)
                .filter(groups__name=PAYOUT_OFFICER)
                .exclude(pk__in=[pk for pk in (run.created_by_id, run.checked_by_id) if pk])
                .values_list("email", flat=True).distinct())
    notify(to=list(officers), name=name, context={"run": run})


def create_run(*, program: Program, transfer_date: date, actor=None) -> PayoutRun:
    """Build (or resume building) the program's run: every payable frozen into a payment line
    with the bank account as it stands now. actor=None: the schedule. Safe to call again after
    any failure, and from two workers at once; a run with nothing payable ends 支払対象なし."""
    _require(actor, CREATE_PERMISSION, "支払バッチの作成")
    _check_date(transfer_date)
    source_for(program)  # refused for a program payouts does not pay
    from .netting import recovery_refusal

    if (problem := recovery_refusal(program)) is not None:
        raise ServiceError(problem, "program")
    run = _building_run(program, transfer_date, actor)
    return _build(run, actor)


def _build(run: PayoutRun, actor) -> PayoutRun:
    """Fill, then finish; filled again when payables were left by a worker that died while
    holding them. Rows held by something else for longer (the eligibility batch) are left
    for the next run after a few attempts."""
    for attempt in range(FINISH_ATTEMPTS):
        for source in sources_for(run.program):
            _fill(run, source, actor)
        finished = _finish(run, actor, last_attempt=attempt == FINISH_ATTEMPTS - 1)
        if finished is not None:
            return finished
    raise AssertionError("unreachable: the last attempt always finishes")


def resume_building_runs() -> list[PayoutRun]:
    """Runs left 作成中 by a worker that died: built to the end."""
    finished = []
    for run in PayoutRun.objects.filter(state=PayoutRun.State.BUILDING).select_related(
            "program", "created_by"):
        finished.append(_build(run, run.created_by))
    return finished


def has_payables(program: Program) -> bool:
    """Something to pay (or, docs/domain.md §5.4, something owed to net or claim back)."""
    from .netting import owed_adjustments

    try:
        sources = sources_for(program)
    except ServiceError:
        return False
    return (any(payable_records(source, program).exists() for source in sources)
            or owed_adjustments(program).exists())


def run_totals(run: PayoutRun) -> dict:
    """What is checked before release: count and sum, by prefecture (from the lines)."""
    lines = run.lines.filter(state__in=PaymentLine.TRANSFER_STATES)
    overall = lines.aggregate(count=Count("pk"), total=Sum("amount"))
    by_prefecture = list(lines.values("facility__prefecture").annotate(
        count=Count("pk"), total=Sum("amount")).order_by("facility__prefecture"))
    by_state = list(lines.values("state").annotate(count=Count("pk"), total=Sum("amount"))
                    .order_by("state"))
    return {"count": overall["count"] or 0, "total": overall["total"] or 0,
            "by_prefecture": by_prefecture, "by_state": by_state}


def _record_lines(lines, *, verb: str, summary, actor) -> None:
    """One history entry per line (in bulk: facilities.activity.record_activities), for the
    facility's history page. `lines`: a queryset of lines (read in batches)."""
    from django.contrib.contenttypes.models import ContentType

    line_type = ContentType.objects.get_for_model(PaymentLine)
    names = dict(Program.objects.values_list("pk", "name"))

    def rows():
        for values in lines.values_list("pk", "facility_id", "state", "amount", "program_id",
                                        "failure_reason").iterator(chunk_size=ID_CHUNK):
            line = PaymentLine(pk=values[0], facility_id=values[1], state=values[2],
                               amount=values[3], program_id=values[4],
                               failure_reason=values[5])
            yield {"facility_id": line.facility_id, "actor": actor, "target_type": line_type,
                   "target_id": line.pk, "verb": verb,
                   "summary": summary(line, names[line.program_id]), "to_state": line.state}

    record_activities(rows())


def _notify_after_commit(line_ids: list[int], event: str) -> None:
    from .tasks import notify_lines

    for start in range(0, len(line_ids), NOTIFY_CHUNK):
        chunk = line_ids[start:start + NOTIFY_CHUNK]
        transaction.on_commit(lambda chunk=chunk: notify_lines.delay(chunk, event))


def check_run(*, run: PayoutRun, actor) -> PayoutRun:
    """A payout officer checks a run the schedule built (its count and total, by prefecture):
    another officer may then release it (docs/domain.md §5.4: the checker never releases)."""
    _check_date(run.transfer_date)

    def effect(locked: PayoutRun) -> str:
        return (f"確認しました: {locked.line_count:,}件 {locked.total_amount:,}円、"
                f"振込指定日 {to_wareki(locked.transfer_date)}")

    checked = perform(run, "verify", actor=actor, effect=effect)
    _tell_officers(checked, name="payout_run_checked")
    return checked


def unchecked(run: PayoutRun) -> str | None:
    """Why the run cannot be released yet: it waits for its check (None: it does not). Said
    before the workflow's own refusal (「確認待ち」のため…できません), with what to do."""
    if PayoutRun.objects.filter(pk=run.pk, state=PayoutRun.State.TO_CHECK).exists():
        return (f"支払バッチ{run.pk}はスケジュールで作成されたため、承認の前に支払担当者の確認"
                "（「確認する」）が必要です。確認した方とは別の支払担当者が承認してください。")
    return None


def release_run(*, run: PayoutRun, actor) -> PayoutRun:
    """A second payout officer releases a checked run: its lines become 振込予定."""
    if (problem := unchecked(run)) is not None:
        raise IllegalTransition(problem)
    _check_date(run.transfer_date)

    def effect(locked: PayoutRun) -> str:
        totals = locked.lines.filter(state=PaymentLine.State.SCHEDULED).aggregate(
            count=Count("pk"), total=Sum("amount"))
        if (totals["count"] or 0, totals["total"] or 0) != (locked.line_count,
                                                             locked.total_amount):
            raise ServiceError("支払明細が作成時の件数・金額と一致しません。承認できません。")
        # Under the run's lock: its lines change under it only.
        ids = perform_many(PaymentLine, locked.lines.filter(state=PaymentLine.State.SCHEDULED),
                           "release", actor=actor, summary=f"支払バッチ{locked.pk}の承認")
        # A line netted to nothing: its source is paid by the netting, final now that the
        # run can no longer be cancelled (docs/domain.md §5.4).
        _pay_sources(locked.lines.filter(state=PaymentLine.State.NETTED), actor)
        date_text = to_wareki(locked.transfer_date)
        _record_lines(
            locked.lines.filter(state=PaymentLine.State.RELEASED),
            verb="payment_released", actor=actor,
            summary=lambda line, program: f"{program} {line.amount:,}円を{date_text}に"
            "振り込む予定です。")
        _notify_after_commit(ids, "released")
        return (f"承認しました: {locked.line_count:,}件 {locked.total_amount:,}円、"
                f"振込指定日 {date_text}")

    return perform(run, "release", actor=actor, effect=effect)


def cancel_run(*, run: PayoutRun, actor) -> PayoutRun:
    """A run not yet released is withdrawn: its records are payable again as before."""

    def effect(locked: PayoutRun) -> str:
        from .netting import undo_nettings

        # Nettings first: the lines get their source's amount back (a recovery already
        # noticed stays; the adjustment owes only the rest).
        undo_nettings(locked.nettings.filter(undone_at__isnull=True), actor)
        locked.lines.filter(deducted__gt=0).update(amount=F("gross_amount"), deducted=0)
        lines = locked.lines.filter(state__in=[PaymentLine.State.SCHEDULED,
                                               PaymentLine.State.NETTED])
        by_kind: dict[str, list[int]] = {}
        ids = []
        for pk, kind, source_id in lines.values_list("pk", "source_kind", "source_id"):
            by_kind.setdefault(kind, []).append(source_id)
            ids.append(pk)
        count = len(perform_many(PaymentLine, ids, "cancel", actor=actor,
                                 summary=f"支払バッチ{locked.pk}の取消"))
        for kind, source_ids in by_kind.items():
            for chunk in _chunks(source_ids):
                SOURCES[kind].give_back(chunk, actor=actor)
        return f"取り消しました（{count:,}件を支払対象に戻しました）。"

    return perform(run, "cancel", actor=actor, effect=effect)


def _pay_sources(lines, actor) -> None:
    """The sources of these lines were paid (by the bank, or by a netting)."""
    by_kind: dict[str, list[int]] = {}
    for kind, source_id in lines.values_list("source_kind", "source_id"):
        by_kind.setdefault(kind, []).append(source_id)
    for kind, ids in by_kind.items():
        for chunk in _chunks(ids):
            SOURCES[kind].paid(chunk, actor=actor)


def describe_line(line: PaymentLine) -> str:
    return SOURCES[line.source_kind].describe([line.source_id]).get(line.source_id, "")


def notify_lines(line_ids: list[int], event: str) -> int:
    """One e-mail per facility about its lines (the numbers of accounts masked)."""
    from facilities.models import Membership

    lines = list(PaymentLine.objects.filter(pk__in=line_ids).select_related(
        "program", "run", "facility").order_by("facility_id", "pk"))
    recipients: dict[int, list[str]] = {}
    for facility_id, email in Membership.objects.filter(
            facility_id__in={line.facility_id for line in lines},
            user__is_active=True).values_list("facility_id", "user__email"):
        recipients.setdefault(facility_id, []).append(email)
    by_facility: dict[int, list[PaymentLine]] = {}
    for line in lines:
        by_facility.setdefault(line.facility_id, []).append(line)
    for facility_id, facility_lines in by_facility.items():
        notify(to=recipients.get(facility_id, []), name=f"payment_{event}",
               context={"facility": facility_lines[0].facility, "lines": facility_lines,
                        "advice": FIX_ADVICE})
    return len(by_facility)


# ---------------------------------------------------------------------------- the file


def transfer_file(*, run: PayoutRun, actor) -> bytes:
    """The run's 全銀協 総合振込 file, written by a payout officer. The same run gives the
    same bytes every time; the first writing is recorded on the run (its SHA-256), and a
    later one that differs is refused."""
    _require_person(actor, FILE_PERMISSION, "振込データの出力")
    run.refresh_from_db()
    if run.state not in (PayoutRun.State.RELEASED, PayoutRun.State.SETTLED):
        raise ServiceError(f"支払バッチ{run.pk}は「{run.get_state_display()}」のため、"
                           "振込データは出力できません（承認後に出力できます）。")
    settings_row = Consignor.objects.first()
    if settings_row is None:
        raise ServiceError("振込依頼人（仕向口座）が設定されていません。管理画面で設定してください。")
    header = zengin.Consignor(
        code=settings_row.code, name=settings_row.name, transfer_date=run.transfer_date,
        bank_code=settings_row.bank_code, bank_name=settings_row.bank_name,
        branch_code=settings_row.branch_code, branch_name=settings_row.branch_name,
        account_type=settings_row.account_type, account_number=settings_row.account_number)
    lines = (
        zengin.TransferLine(
            bank_code=bank_code, bank_name=bank_kana, branch_code=branch_code,
            branch_name=branch_kana, account_type=account_type, account_number=number,
            holder_name=holder, amount=amount, customer_code_1=pk)
        for pk, bank_code, bank_kana, branch_code, branch_kana, account_type, number, holder,
        amount in run.lines.filter(state__in=PaymentLine.TRANSFER_STATES).order_by("pk")
        .values_list("pk", "bank_code", "bank_kana", "branch_code", "branch_kana",
                     "account_type", "account_number", "holder_name", "amount")
        .iterator(chunk_size=10000)
    )
    data = zengin.transfer_file(header, list(lines))
    digest = hashlib.sha256(data).hexdigest()
    with transaction.atomic():
        locked = PayoutRun.objects.select_for_update().get(pk=run.pk)
        if not locked.file_sha256:
            PayoutRun.objects.filter(pk=run.pk).update(file_sha256=digest,
                                                       file_written_at=timezone.now())
        elif locked.file_sha256 != digest:
            raise ServiceError(
                "振込データが最初に出力したものと一致しません（振込依頼人の設定が変わった"
                "可能性があります）。出力を止めました。")
    return data


# --------------------------------------------------------------------- the bank's results

RESULT_CODES = {
    "0": None,  # 振込済
    "1": FailureReason.NO_ACCOUNT,
    "2": FailureReason.CLOSED,
    "3": FailureReason.NAME_MISMATCH,
    "9": FailureReason.OTHER,
}
RESULT_HEADER = ("顧客コード1", "結果コード")
MAX_RESULT_ROWS = 1_000_000


@dataclass
class ResultsSummary:
    paid: int = 0
    failed: int = 0
    unchanged: int = 0
    settled: bool = False


class ResultErrors(ServiceError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        shown = errors[:20]
        more = f"（ほか{len(errors) - 20}件）" if len(errors) > 20 else ""
        super().__init__("振込結果を取り込めませんでした。何も変更していません。\n"
                         + "\n".join(shown) + more, "file")


def _decode(data: bytes) -> str:
    for encoding in ("utf-8-sig", "cp932"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ResultErrors(["文字コードが読めません（UTF-8 または Shift_JIS の CSV にしてください）。"])


def parse_results(data: bytes) -> dict[int, str]:
    """The bank's results CSV → {顧客コード1: 結果コード}; every error is reported at once
    with its row number."""
    try:
        rows = list(csv.reader(io.StringIO(_decode(data).replace("\x00", ""))))
    except csv.Error:  # no CSV at all (a lone CR inside a field, an overlong field)
        raise ResultErrors(["CSVとして読めません（改行や引用符の形が正しくないか、1つの欄が"
                            "長すぎます）。"]) from None
    if not rows:
        raise ResultErrors(["ファイルが空です。"])
    header = tuple(cell.strip() for cell in rows[0][:2])
    if header != RESULT_HEADER:
        raise ResultErrors([f"1行目は見出し「{','.join(RESULT_HEADER)}」にしてください。"])
    if len(rows) - 1 > MAX_RESULT_ROWS:
        raise ResultErrors([f"行が多すぎます（{MAX_RESULT_ROWS:,}行まで）。"])
    errors: list[str] = []
    results: dict[int, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != 2:
            errors.append(f"{number}行目: 列は「顧客コード1」「結果コード」の2つです。")
            continue
        code_text, result = row[0].strip(), row[1].strip()
        if not (code_text.isascii() and code_text.isdigit() and len(code_text) <= 10):
            errors.append(f"{number}行目: 顧客コード1「{code_text[:20]}」は10桁までの数字です。")
            continue
        if result not in RESULT_CODES:
            errors.append(f"{number}行目: 結果コード「{result[:10]}」は 0（振込済）・1（口座なし）・"
                          "2（解約済）・3（名義相違）・9（その他）のいずれかです。")
            continue
        code = int(code_text)
        if code in results and results[code] != result:
            errors.append(f"{number}行目: 顧客コード1 {code} の結果が2度、異なる内容で書かれています。")
            continue
        results[code] = result
    if errors:
        raise ResultErrors(errors)
    if not results:
        raise ResultErrors(["結果の行がありません。"])
    return results


def results_refusal(run: PayoutRun) -> str | None:
    """Why the bank's results of the run cannot be imported now (None: they can). Results
    exist only for a file the bank was given, and no sooner than its transfer date: a
    facility never reads 振込済 before the money can have arrived (docs/domain.md §5.4)."""
    if run.state not in (PayoutRun.State.RELEASED, PayoutRun.State.SETTLED):
        return (f"支払バッチ{run.pk}は「{run.get_state_display()}」のため、振込結果は取り込めません"
                "（承認後に取り込めます）。")
    if not run.file_sha256:
        return ("振込データがまだ作成されていません。振込データを出力して金融機関に送り、振込指定日"
                "以降に結果を取り込んでください。")
    if timezone.localdate() < run.transfer_date:
        return f"振込指定日（{to_wareki(run.transfer_date)}）より前には結果を取り込めません。"
    return None


def import_results(*, run: PayoutRun, data: bytes, actor) -> ResultsSummary:
    """Record the bank's result of each line. All or nothing: any error changes nothing.
    Importing the same results again changes nothing; a result different from one already
    recorded is refused. Paid lines pay their sources; failed ones tell the facility what to
    fix. When every line has its result the run is settled. Only once the run's file was
    written and its transfer date has come (results_refusal)."""
    _require_person(actor, RESULTS_PERMISSION, "振込結果の取込")
    if (problem := results_refusal(PayoutRun.objects.get(pk=run.pk))) is not None:
        raise ServiceError(problem, "file")  # before reading the file; again under the lock
    results = parse_results(data)
    summary = ResultsSummary()
    with transaction.atomic():
        locked = PayoutRun.objects.select_for_update().get(pk=run.pk)
        if (problem := results_refusal(locked)) is not None:
            raise ServiceError(problem, "file")
        current: dict[int, str] = {}
        reasons: dict[int, str] = {}
        for chunk in _chunks(sorted(results)):
            for pk, state, reason in locked.lines.filter(pk__in=chunk).values_list(
                    "pk", "state", "failure_reason"):
                current[pk], reasons[pk] = state, reason
        errors = []
        paid_ids: list[int] = []
        failed: dict[str, list[int]] = {}
        for code, result in sorted(results.items()):
            state = current.get(code)
            if state is None:
                errors.append(f"顧客コード1 {code} はこの支払バッチの明細ではありません。")
                continue
            reason = RESULT_CODES[result]
            already = ((state == PaymentLine.State.PAID and reason is None)
                       or (state in (PaymentLine.State.FAILED, PaymentLine.State.REISSUED)
                           and reasons[code] == reason))
            if already:
                summary.unchanged += 1
            elif state != PaymentLine.State.RELEASED:
                errors.append(f"顧客コード1 {code} は既に「{PaymentLine.State(state).label}」"
                              "として取り込まれています。")
            elif reason is None:
                paid_ids.append(code)
            else:
                failed.setdefault(reason, []).append(code)
        if errors:
            raise ResultErrors(errors)
        # The lines this import changes are those with its timestamp.
        now = timezone.now()
        if paid_ids:
            perform_many(PaymentLine, paid_ids, "mark_paid", actor=actor, result_at=now,
                         summary="振込結果の取込（振込済）")
            changed = locked.lines.filter(state=PaymentLine.State.PAID, result_at=now)
            _pay_sources(changed, actor)
            _record_lines(
                changed, verb="payment_paid", actor=actor,
                summary=lambda line, program: f"{program} {line.amount:,}円を振り込みました"
                "（振込済）。支払通知書をご覧いただけます。")
            summary.paid = len(paid_ids)
            _notify_after_commit(paid_ids, "paid")
        failed_ids = [pk for ids in failed.values() for pk in ids]
        for reason, ids in failed.items():
            perform_many(PaymentLine, ids, "mark_failed", actor=actor, failure_reason=reason,
                         result_at=now, summary=f"振込結果の取込（振込不能: {reason}）")
        if failed_ids:
            _record_lines(
                locked.lines.filter(state=PaymentLine.State.FAILED, result_at=now),
                verb="payment_failed", actor=actor,
                summary=lambda line, program: f"{program} {line.amount:,}円を振り込めません"
                f"でした（振込不能: {line.get_failure_reason_display()}）。"
                f"{FIX_ADVICE[line.failure_reason]}")
            summary.failed = len(failed_ids)
            _notify_after_commit(failed_ids, "failed")
        if locked.state == PayoutRun.State.RELEASED and not locked.lines.filter(
                state=PaymentLine.State.RELEASED).exists():
            perform(locked, "settle", actor=actor)
            summary.settled = True
    return summary




CORRECTABLE_FIELDS = ("bank_code", "branch_code", "account_type", "account_number",
                      "holder_name")


def reissue_failed_lines(*, facility: Facility, actor) -> int:
    """The facility corrected its account: its failed payments are payable again (the next
    run pays them to the corrected account)."""
    account = BankAccount.objects.get(facility=facility)
    now = tuple(getattr(account, name) for name in CORRECTABLE_FIELDS)
    # Only a changed account is a correction: the same account would fail the same way.
    ids = [pk for pk, *frozen in PaymentLine.objects.select_for_update().filter(
        facility=facility, state=PaymentLine.State.FAILED).values_list(
        "pk", *CORRECTABLE_FIELDS) if tuple(frozen) != now]
    if not ids:
        return 0
    perform_many(PaymentLine, ids, "reissue", actor=actor, summary="振込先口座の修正")
    # The money never arrived, so neither did what was netted against it: the adjustment is
    # owed again and the next run (which pays the source again) nets it (docs/domain.md §5.4).
    from .models import Netting
    from .netting import undo_nettings

    undo_nettings(Netting.objects.filter(line_id__in=ids, undone_at__isnull=True), None)
    _record_lines(
        PaymentLine.objects.filter(pk__in=ids),
        verb="payment_reissued", actor=actor,
        summary=lambda line, program: f"振込先口座が修正されたため、{program} "
        f"{line.amount:,}円を次回の支払で振り込みます。")
    return len(ids)
