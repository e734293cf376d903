"""The permission matrix, generated: every admin URL (list, add, change, delete, history and
every custom page) and every admin action, for every role — anonymous, a facility's staff, a
staff account in no group, each administrators' group, the superuser, the payout officer
who created the payout run and the one who checked the scheduled run (four-eyes: everything
a payout officer may, but the release of that run) —
allowed or refused as the POLICY below declares. A model registered in the admin without a
line in POLICY fails the test, so nothing new reaches the admin without saying who may use it.

Allowed means the page answers 200; refused means a redirect to the log-in (not staff) or
403; a refused action changes nothing."""

from datetime import date

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.forms.models import model_to_dict
from django.test import Client
from django.urls import reverse

from portal import roles
from tests import samples
from tests.built_once import built_once
from tests.factories import (
    AdminFactory,
    FacilityFactory,
    accepted_facility,
    login_admin,
    make_admin,
    make_staff,
)

pytestmark = pytest.mark.django_db

R, A, P, V, S = (roles.REVIEWER, roles.APPROVER, roles.PAYOUT_OFFICER, roles.VIEWER,
                 roles.SYSTEM_ADMIN)
SU = "superuser"
ANONYMOUS, FACILITY_STAFF, NO_GROUP = "anonymous", "facility staff", "staff in no group"
# The payout officer who created the world's payout run: a payout officer in every respect
# (wherever P is allowed, so is it) except the moves FOUR_EYES refuses to the one who made
# the move before.
RUN_CREATOR = "payout officer who created the run"
# The payout officer who checked the world's scheduled run (payouts.payoutrun:checked).
RUN_CHECKER = "payout officer who checked the scheduled run"
ROLES = [ANONYMOUS, FACILITY_STAFF, NO_GROUP, R, A, P, V, S, SU, RUN_CREATOR, RUN_CHECKER]
ADMINS = {R, A, P, V, S, SU}
NOBODY: set[str] = set()

# model → (view, add, delete); change pages are views for whoever may view them.
POLICY: dict[str, tuple[set[str], set[str], set[str]]] = {
    "facilities.facility": (ADMINS, {S, SU}, {SU}),
    "facilities.membership": (ADMINS, {S, SU}, {S, SU}),
    "facilities.usageapplication": (ADMINS, {R, SU}, NOBODY),
    "facilities.deviceaccount": (ADMINS, NOBODY, NOBODY),
    "facilities.golive": (ADMINS, {SU}, NOBODY),
    "facilities.linkattempt": (ADMINS, NOBODY, NOBODY),
    # Made on the portal by the requester; letters and cancelling by 審査担当 (actions, moves).
    "facilities.linkrequest": (ADMINS, NOBODY, NOBODY),
    "facilities.activity": (ADMINS, NOBODY, NOBODY),
    "facilities.publiclistbuild": (ADMINS, NOBODY, NOBODY),
    "eligibility.program": (ADMINS, NOBODY, NOBODY),
    "eligibility.parameterversion": (ADMINS, {S, SU}, NOBODY),  # the one tested is in force
    "eligibility.monthlystatistic": (ADMINS, {S, SU}, {SU}),
    "eligibility.activityreport": (ADMINS, NOBODY, NOBODY),
    "eligibility.attestation": (ADMINS, NOBODY, NOBODY),
    "eligibility.determination": (ADMINS, NOBODY, NOBODY),
    "eligibility.eligibilityrun": (ADMINS, NOBODY, NOBODY),
    # Proposed by the batch only; changed only by its moves (review, decide).
    "eligibility.adjustment": (ADMINS, NOBODY, NOBODY),
    "subsidies.claim": (ADMINS, NOBODY, NOBODY),
    "subsidies.document": (ADMINS, NOBODY, NOBODY),
    "subsidies.freereadergrant": (ADMINS, {S, SU}, {S, SU}),
    "django_celery_beat.periodictask": ({S, SU}, {SU}, {SU}),
    "django_celery_beat.crontabschedule": ({S, SU}, {S, SU}, {SU}),
    "django_celery_beat.intervalschedule": ({SU}, {SU}, {SU}),
    "django_celery_beat.clockedschedule": ({SU}, {SU}, {SU}),
    "django_celery_beat.solarschedule": ({SU}, {SU}, {SU}),
    "auth.group": ({SU}, {SU}, {SU}),
    "portal.user": ({SU}, {SU}, {SU}),
    "account.emailaddress": ({SU}, {SU}, {SU}),
    "mfa.authenticator": ({SU}, {SU}, {SU}),
    "portal.importjob": ({S, SU}, NOBODY, NOBODY),  # read-only; made by the import pages
    "payouts.bankaccount": (ADMINS, NOBODY, NOBODY),  # the number masked but for 支払担当
    # Runs are made on their own page (PAGES below) and change only by their moves.
    "payouts.payoutrun": (ADMINS, NOBODY, NOBODY),
    "payouts.paymentline": (ADMINS, NOBODY, NOBODY),
    # 返還請求: made by a payout run (docs/domain.md §5.4); reminded and settled by its moves.
    "payouts.recovery": (ADMINS, NOBODY, NOBODY),
    # One row, which exists in the world: changed, never added again (S adds the first one:
    # tests/payouts/test_admin.py); changed by S and SU, read by P.
    "payouts.consignor": ({P, S, SU}, NOBODY, NOBODY),
    # 問い合わせ先: one row, which exists in the world (S adds the first one:
    # tests/portal/test_contact_point.py); changed by S and SU, read by every administrator.
    "portal.contactpoint": (ADMINS, NOBODY, NOBODY),
    # The counter: the CAs trusted (public certificates), the insured-person registry (names
    # and birth dates: システム管理 only), the log of counter calls (read-only, hashes only).
    "cardreader.trustedissuer": (ADMINS, {S, SU}, {SU}),
    # The CAs' CRLs: uploaded by システム管理 (the add page takes the file), never changed.
    "cardreader.revocationlist": (ADMINS, {S, SU}, {SU}),
    "cardreader.insuredperson": ({S, SU}, {S, SU}, {S, SU}),
    "cardreader.confirmation": (ADMINS, NOBODY, NOBODY),
    # The obligation (docs/domain.md §7): declarations and pairings change by their moves only,
    # sessions are requested on the public page, statuses are computed, steps and letter
    # batches are made by the actions on the statuses; survey answers are typed in by 審査担当.
    "obligation.exemptiondeclaration": (ADMINS, NOBODY, NOBODY),
    "obligation.annexpairing": (ADMINS, NOBODY, NOBODY),
    "obligation.surveyanswer": (ADMINS, {R, SU}, NOBODY),
    "obligation.sessionrequest": (ADMINS, NOBODY, NOBODY),
    "obligation.compliancestatus": (ADMINS, NOBODY, NOBODY),
    "obligation.followupstep": (ADMINS, NOBODY, NOBODY),
    "obligation.letterbatch": (ADMINS, NOBODY, NOBODY),
}

# Custom admin pages (URL name → who may open them, GET).
PAGES: dict[str, set[str]] = {
    "subsidies_claim_review": ADMINS,
    "subsidies_document_file": ADMINS,
    "eligibility_parameterversion_preview": {S, SU},
    "payouts_payoutrun_file": {P, SU},  # 振込データをダウンロード (of the released run)
    "payouts_payoutrun_results": {P, SU},  # 振込結果を取り込む (of the released run)
    "payouts_recovery_notice": ADMINS,  # 返還請求書 (PDF)
    "cardreader_insuredperson_lose": {S, SU},  # 資格喪失日の登録
    "obligation_sessionrequest_schedule": {R, SU},  # 説明会の日程を決める
    "obligation_letterbatch_download": ADMINS,  # the finished batch's ZIP
    "obligation_letterbatch_print_download": ADMINS,  # the same letters as one PDF to print
}

# The world's object a custom page is requested for, when not the model's own (the file and
# the results need a released run; the model's own is a run waiting for release).
PAGE_OBJECTS: dict[str, str] = {
    "payouts_payoutrun_file": "payouts.payoutrun:released",
    "payouts_payoutrun_results": "payouts.payoutrun:released",
}

# Custom admin pages without arguments (URL name → who may open them, GET).
LIST_PAGES: dict[str, set[str]] = {
    "facilities_facility_import": {S, SU},
    "facilities_facility_export": {S, SU},  # holds the account_last4 digits
    "eligibility_monthlystatistic_import": {S, SU},
    "eligibility_monthlystatistic_export": ADMINS,
    "facilities_usageapplication_csv": ADMINS,
    "subsidies_claim_csv": ADMINS,
    "eligibility_determination_csv": ADMINS,
    "eligibility_adjustment_csv": ADMINS,
    "payouts_payoutrun_create": {P, SU},  # 支払バッチを作成
    "payouts_recovery_csv": ADMINS,
    "cardreader_insuredperson_import": {S, SU},  # 被保険者台帳の取り込み
    "obligation_exemptiondeclaration_csv": ADMINS,
    "obligation_annexpairing_csv": ADMINS,
    "obligation_surveyanswer_csv": ADMINS,
    "obligation_sessionrequest_csv": ADMINS,
    "obligation_compliancestatus_csv": ADMINS,
    "obligation_compliancestatus_counts": ADMINS,  # prefecture × state
    "obligation_compliancestatus_counts_csv": ADMINS,
    "obligation_followupstep_csv": ADMINS,
    "obligation_compliancestatus_recompute": {R, SU},  # 状況を再計算 (follow_up holders)
}

# Pages above that take a form: a POST from a role that may not open them is refused too
# (and changes nothing).
FORM_PAGES = {"payouts_payoutrun_create", "payouts_payoutrun_results",
              "cardreader_insuredperson_lose", "cardreader_insuredperson_import",
              "obligation_sessionrequest_schedule", "obligation_compliancestatus_recompute"}

# Moves made from an object's own page (`<pk>/move/<name>/`): who may open the page for the
# object of _world() in its state (an accepted application; a submitted claim).
MOVE_PAGES: dict[str, dict[str, set[str]]] = {
    "facilities.usageapplication": {"accept": NOBODY, "send_back": NOBODY,
                                    "start_second_check": NOBODY},
    # A first-staff request waiting for its letter: the administrators only cancel it; the
    # other moves are the facility's staff's, the requester's or the nightly job's.
    "facilities.linkrequest": {"cancel": {R, SU}, "approve": NOBODY, "refuse": NOBODY,
                               "confirm_code": NOBODY, "withdraw": NOBODY, "expire": NOBODY},
    "subsidies.claim": {"start_review": {R, SU}, "mark_paid": NOBODY,
                        "approve": NOBODY},  # decided on the review page, not here
    # An officer's run waiting for release (its creator checked it: nothing to check);
    # building, settling are the services' own moves.
    "payouts.payoutrun": {"release": {P, SU}, "cancel": {P, SU}, "finish": NOBODY,
                          "finish_empty": NOBODY, "settle": NOBODY, "verify": NOBODY,
                          "finish_to_check": NOBODY},
    # A proposed adjustment: reviewed by 審査担当, or rejected by 決定権者 at once; it is
    # decided only once reviewed; withdrawn by the batch, paid by the payout runs.
    "eligibility.adjustment": {"review": {R, SU}, "approve": NOBODY, "reject": {A, SU},
                               "withdraw": NOBODY, "enter_payout": NOBODY, "net": NOBODY,
                               "claim_back": NOBODY},
    # A 返還請求 as a run notices it: reminded or settled by a payout officer.
    "payouts.recovery": {"remind": {P, SU}, "confirm_payment": {P, SU}},
    # A declaration waiting for its check (withdrawal is the facility's).
    "obligation.exemptiondeclaration": {"accept": {R, SU}, "send_back": {R, SU},
                                        "withdraw": NOBODY},
    # An active pairing: only its dissolution is an administrator's.
    "obligation.annexpairing": {"dissolve": {R, SU}, "confirm": NOBODY, "decline": NOBODY,
                                "withdraw": NOBODY},
    # A requested session (scheduled on its own page; not held before it is scheduled).
    "obligation.sessionrequest": {"cancel": {R, SU}, "schedule": NOBODY, "mark_held": NOBODY},
}

# Move pages of another object of the world than the model's own (world key → move → who):
# a run the schedule built, waiting for its check; another, checked by RUN_CHECKER.
OTHER_MOVE_PAGES: dict[str, dict[str, set[str]]] = {
    "payouts.payoutrun:scheduled": {"verify": {P, SU}, "release": NOBODY, "cancel": {P, SU}},
    "payouts.payoutrun:checked": {"verify": NOBODY, "release": {P, SU}, "cancel": {P, SU}},
    # A reviewed adjustment (its reviewer is none of the roles): decided by 決定権者.
    "eligibility.adjustment:reviewed": {"approve": {A, SU}, "reject": {A, SU},
                                        "review": NOBODY},
}

# What a role may not do although a payout officer may (the four-eyes rule): role → model →
# the pages (`what` of _urls).
FOUR_EYES: dict[str, dict[str, set[str]]] = {
    RUN_CREATOR: {"payouts.payoutrun": {"move release"}},
    RUN_CHECKER: {"payouts.payoutrun": {"move release of payouts.payoutrun:checked"}},
}

# The pages of one import job (their argument is a job): tests/portal/test_imports.py.
JOB_PAGES = {"facilities_facility_import_job", "facilities_facility_import_confirm",
             "eligibility_monthlystatistic_import_job",
             "eligibility_monthlystatistic_import_confirm"}

# Custom admin pages that only take a POST (URL name → who may post).
POST_PAGES: dict[str, set[str]] = {
    "eligibility_parameterversion_apply": {S, SU},
    "eligibility_parameterversion_preview_start": {S, SU},  # queues 適用前の確認 (a task)
    "portal_user_invite": {SU},  # 二段階認証の招待を送る (an e-mail to a staff account)
}

# Admin actions → who is offered them (Django's own delete_selected follows `delete`).
ACTIONS: dict[str, dict[str, set[str]]] = {
    "facilities.usageapplication": {"accept_selected": {R, SU}, "return_selected": {R, SU},
                                    "second_check_selected": {R, SU}, "assign_to_me": {R, SU}},
    # The letters of first-staff requests: a new code in a PDF; posted.
    "facilities.linkrequest": {"print_letters": {R, SU}, "mark_letters_sent": {R, SU}},
    "subsidies.claim": {"start_review_selected": {R, SU}, "assign_to_me": {R, SU}},
    "eligibility.program": {"run_selected": {S, SU}},
    "eligibility.parameterversion": {"copy_as_draft": {S, SU}},
    # Each through a confirmation page, then the workflow (the reviewer never decides).
    "eligibility.adjustment": {"review_selected": {R, SU}, "approve_selected": {A, SU},
                               "reject_selected": {A, SU}},
    "django_celery_beat.periodictask": {"enable_tasks": {S, SU}, "disable_tasks": {S, SU},
                                        "toggle_tasks": {S, SU}, "run_tasks": {S, SU}},
    "account.emailaddress": {"make_verified": {SU}},
    "payouts.recovery": {"remind_selected": {P, SU}, "confirm_selected": {P, SU}},
    "obligation.compliancestatus": {"request_letters": {R, SU}, "guidance_letters": {R, SU},
                                    "record_attended": {R, SU}, "record_absent": {R, SU},
                                    "mark_suspension_candidate": {R, SU}},
}

PDF = samples.PDF  # a real one-page PDF: receipts are parsed


def _world() -> dict[str, object]:
    """One object of every model registered in the admin."""
    from allauth.account.models import EmailAddress
    from allauth.mfa.models import Authenticator
    from django_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )

    from eligibility.models import (
        EligibilityRun,
        MonthlyStatistic,
        ParameterVersion,
        Program,
    )
    from eligibility.services import run_eligibility
    from facilities import services as facility_services
    from facilities.models import Activity, LinkAttempt
    from incentives.services import ReportInput, submit_activity_report, submit_attestation
    from subsidies import services as claim_services
    from subsidies.models import FreeReaderGrant

    facility, staff, _admin = accepted_facility(kind="judo")
    facility_services.set_golive_date(user=staff, facility=facility, golive_date=date(2025, 5, 1))
    cooperation = Program.objects.get(rule=Program.Rule.COOPERATION)
    report = submit_activity_report(user=staff, facility=facility, program=cooperation,
                                    data=ReportInput(True, True, False, date(2025, 5, 1),
                                                     date(2025, 6, 1)))
    clinic = FacilityFactory(kind="clinic")
    clinic_staff = make_staff(clinic)
    lump_sum = Program.objects.get(rule=Program.Rule.LUMP_SUM)
    attestation = submit_attestation(user=clinic_staff, facility=clinic, program=lump_sum,
                                     poster=True, informed=True)
    statistic = MonthlyStatistic.objects.create(facility=clinic, month=date(2023, 10, 1),
                                                receipts=100, card_users=5, usage_count=5)
    run_eligibility(program=cooperation)
    claim = claim_services.start_claim(user=staff, facility=facility,
                                       program=Program.objects.get(code="device-sejutsu"))
    item = claim_services.save_item(claim=claim, data=claim_services.ItemInput(
        "タブレット", 1, 42000, 4200, "家電店", date(2024, 11, 1)))
    document = claim_services.attach_document(claim=claim, item=item, kind="receipt",
                                              user=staff, upload=SimpleUploadedFile("r.pdf", PDF))
    claim = claim_services.submit_claim(claim=claim, user=staff)
    facility_services.rebuild_public_list()
    from payouts.banking import validate_account
    from payouts.services import save_bank_account

    bank_account = save_bank_account(user=staff, facility=facility, account=validate_account(
        "0001", "001", "1", "7654321", "ｱｵﾊﾞ"))
    from payouts import services as payout_services
    from portal.demo import contact_point
    from tests.payouts.helpers import eligible, lump_sum, officers, set_consignor, transfer_day

    consignor = set_consignor()
    first_creator, releaser = officers()
    eligible(FacilityFactory(kind="clinic"))
    released_run = payout_services.release_run(run=payout_services.create_run(
        program=lump_sum(), transfer_date=transfer_day(), actor=first_creator), actor=releaser)
    run_creator, _ = officers()
    eligible(FacilityFactory(kind="clinic"))
    waiting_run = payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                                             actor=run_creator)
    scheduled_runs = []
    for _ in range(2):  # runs the schedule built (no creator): one left to check, one checked
        eligible(FacilityFactory(kind="clinic"))
        scheduled_runs.append(payout_services.create_run(
            program=lump_sum(), transfer_date=transfer_day(), actor=None))
    scheduled_run, checked_run = scheduled_runs
    from tests.payouts.helpers import adjustment

    owing = FacilityFactory(kind="clinic")
    adjustment(owing, paid=200_000, new=150_000)
    eligible(FacilityFactory(kind="clinic"))
    payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(),
                               actor=officers()[0])
    from payouts.models import Recovery

    recovery = Recovery.objects.get()
    checked_run = payout_services.check_run(run=checked_run, actor=officers()[0])
    LinkAttempt.objects.create(user=staff, code_entered=facility.code, reason="not_found")
    first_staff_wanted = FacilityFactory(kind="judo")
    link_request = facility_services.request_facility_link(
        user=make_staff(FacilityFactory()), code=first_staff_wanted.code,
        account_last4=first_staff_wanted.account_last4)
    crontab = CrontabSchedule.objects.create(minute="0", hour="3")
    interval = IntervalSchedule.objects.create(every=10, period="minutes")
    from django.utils import timezone

    clocked = ClockedSchedule.objects.create(clocked_time=timezone.now())
    solar = SolarSchedule.objects.create(event="sunrise", latitude=35.68, longitude=139.69)
    task = PeriodicTask.objects.create(name="テスト", task="facilities.tasks.rebuild_public_list",
                                       crontab=crontab)
    from cardreader.models import Confirmation, InsuredPerson, TrustedIssuer
    from facilities.models import (
        DeviceAccount,
        GoLive,
        Membership,
        PublicListBuild,
        UsageApplication,
    )
    from portal.models import ImportJob
    from subsidies.models import Claim
    from tests.cardreader.pki import authority
    from tests.cardreader.test_api import load_crl

    trusted_issuer = TrustedIssuer(name="JPKI", certificate_pem=authority().pem)
    trusted_issuer.full_clean()
    trusted_issuer.save()
    insured_person = InsuredPerson.objects.create(
        issuer=trusted_issuer.subject, serial="1001", insurer_number="06132013", number="1",
        branch="00", name="山田 太郎", name_kana="ヤマダ タロウ", birth_date=date(1980, 4, 1),
        copay_ratio=30, valid_from=date(2020, 4, 1))
    device_account = DeviceAccount.objects.filter(facility=facility).first()
    confirmation = Confirmation.objects.create(
        device_account=device_account, facility=facility, at=timezone.now(),
        day=timezone.localdate(), mode="face", outcome="valid", http_status=200,
        serial_hash="a" * 52)

    obligation = _obligation_world(_admin)
    adjustment_world = _adjustment_world(cooperation)
    return {
        **adjustment_world,
        **obligation,
        "facilities.facility": facility,
        "facilities.membership": Membership.objects.filter(facility=facility).first(),
        "facilities.usageapplication": UsageApplication.objects.filter(facility=facility).first(),
        "facilities.deviceaccount": DeviceAccount.objects.filter(facility=facility).first(),
        "facilities.golive": GoLive.objects.get(facility=facility),
        "facilities.linkattempt": LinkAttempt.objects.first(),
        "facilities.linkrequest": link_request,
        "facilities.activity": Activity.objects.filter(facility=facility).first(),
        "facilities.publiclistbuild": PublicListBuild.objects.first(),
        "eligibility.program": cooperation,
        "eligibility.parameterversion": ParameterVersion.objects.filter(
            program=cooperation, status="active").first(),
        "eligibility.monthlystatistic": statistic,
        "eligibility.activityreport": report,
        "eligibility.attestation": attestation,
        "eligibility.determination": cooperation.determinations.first(),
        "eligibility.eligibilityrun": EligibilityRun.objects.first(),
        "subsidies.claim": Claim.objects.get(pk=claim.pk),
        "subsidies.document": document,
        "subsidies.freereadergrant": FreeReaderGrant.objects.create(facility=clinic,
                                                                    free_readers=1),
        "django_celery_beat.periodictask": task,
        "django_celery_beat.crontabschedule": crontab,
        "django_celery_beat.intervalschedule": interval,
        "django_celery_beat.clockedschedule": clocked,
        "django_celery_beat.solarschedule": solar,
        "auth.group": Group.objects.get(name=R),
        "portal.user": staff,
        "account.emailaddress": EmailAddress.objects.filter(user=staff).first(),
        "mfa.authenticator": Authenticator.objects.first(),
        "portal.importjob": ImportJob.objects.create(
            kind="monthly_statistics", stored_name="world.csv", original_name="world.csv",
            created_by=_admin),
        "payouts.bankaccount": bank_account,
        "payouts.payoutrun": waiting_run,
        "payouts.paymentline": released_run.lines.get(),
        "payouts.consignor": consignor,
        "portal.contactpoint": contact_point(),
        "payouts.recovery": recovery,
        "cardreader.trustedissuer": trusted_issuer,
        "cardreader.revocationlist": load_crl(trusted_issuer),
        "cardreader.insuredperson": insured_person,
        "cardreader.confirmation": confirmation,
        # Not a model of its own: the object of the pages in PAGE_OBJECTS.
        "payouts.payoutrun:released": released_run,
        "payouts.payoutrun:scheduled": scheduled_run,
        "payouts.payoutrun:checked": checked_run,
    }


def _adjustment_world(program) -> dict[str, object]:
    """A proposed adjustment of a paid result, and a reviewed one of another."""
    from django.utils import timezone

    from eligibility import adjustments
    from eligibility.models import Adjustment
    from eligibility.services import run_eligibility

    run_eligibility(program=program)  # the facilities made since have results too
    made = []
    for determination in program.determinations.all()[:2]:
        determination.payout_locked = True
        determination.save()
        made.append(Adjustment.objects.create(
            facility=determination.facility, program=program, determination=determination,
            parameter_version=determination.parameter_version,
            paid_amount=determination.amount, new_amount=determination.amount + 10000,
            difference=10000, eligible=True, cause="施設の入力内容・統計の変更",
            proposed_at=timezone.now()))
    proposed, other = made
    reviewed = adjustments.review(adjustment=other, actor=make_admin(R))
    return {"eligibility.adjustment": proposed, "eligibility.adjustment:reviewed": reviewed}


def _obligation_world(admin_user) -> dict[str, object]:
    """One object of each obligation model, made through its services where there is one."""
    import uuid
    import zipfile
    from datetime import time

    from django.utils import timezone

    from obligation import services as obligation_services
    from obligation.compliance import compute_statuses
    from obligation.letters import batch_path, print_path
    from obligation.models import (
        ComplianceStatus,
        FollowUpKind,
        FollowUpStep,
        LetterBatch,
        LetterBatchState,
        SurveyAnswer,
    )
    from obligation.rules import Practitioner

    declaring = FacilityFactory(kind="judo")
    declaration = obligation_services.declare_exemption(
        user=make_staff(declaring), facility=declaring, token=uuid.uuid4(),
        data=obligation_services.DeclarationInput(
            reason="1-1", contact_name="担当 花子", practitioners=(
                Practitioner(birth_date=date(1950, 1, 1), full_time=True, name="柔整 一郎"),)))
    main, subordinate = FacilityFactory(kind="judo"), FacilityFactory(kind="judo")
    pairing = obligation_services.propose_annex(user=make_staff(main), facility=main,
                                                partner=subordinate, facility_is_main=True)
    pairing = obligation_services.confirm_annex(pairing=pairing,
                                                actor=make_staff(subordinate))
    answered = FacilityFactory(kind="ama")
    answer = obligation_services.save_survey_answer(answer=SurveyAnswer(
        name=answered.name, address=answered.address, registration_code=answered.code,
        reason="2", channel="post", received_on=date(2025, 2, 3)), actor=admin_user)
    session = obligation_services.request_session(token=uuid.uuid4(), data={
        "organisation": "柔道整復師会", "address": "東京都千代田区1-1",
        "contact_furigana": "たんとう はなこ", "contact_name": "担当 花子",
        "phone": "03-1111-2222", "email": "kai@example.jp", "preferred_date": date(2030, 1, 10),
        "preferred_start": time(14, 0), "preferred_end": time(15, 0), "attendees": 20,
        "occupation": "柔道整復師"})
    compute_statuses()
    late = FacilityFactory(kind="acupuncture")
    compute_statuses()
    batch = LetterBatch.objects.create(
        kind=LetterBatch.Kind.REQUEST, state=LetterBatchState.DONE, facility_ids=[late.pk],
        total=1, done=1, stored_name="world.zip", print_name="world.pdf",
        page_ranges=[[late.code, late.name, 1, 1]], created_by=admin_user,
        finished_at=timezone.now())
    path = batch_path(batch)
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("letter.pdf", samples.PDF)
    print_path(batch).write_bytes(samples.PDF)
    step = FollowUpStep.objects.create(facility=late, kind=FollowUpKind.REQUEST_LETTER,
                                       letter=batch, done_by=admin_user, done_at=timezone.now())
    return {
        "obligation.exemptiondeclaration": declaration,
        "obligation.annexpairing": pairing,
        "obligation.surveyanswer": answer,
        "obligation.sessionrequest": session,
        "obligation.compliancestatus": ComplianceStatus.objects.get(facility=late),
        "obligation.followupstep": step,
        "obligation.letterbatch": batch,
    }


def _client_for(role: str, world: dict[str, object]) -> Client:
    client = Client()
    if role == ANONYMOUS:
        return client
    if role == RUN_CREATOR:
        return login_admin(client, world["payouts.payoutrun"].created_by)
    if role == RUN_CHECKER:
        return login_admin(client, world["payouts.payoutrun:checked"].checked_by)
    if role == FACILITY_STAFF:
        client.force_login(make_staff(FacilityFactory()))
        return client
    if role == SU:
        return login_admin(client, AdminFactory())
    return login_admin(client, make_admin(*([] if role == NO_GROUP else [role])))


def _to_log_in(response) -> bool:
    return response.status_code == 302 and response["Location"].startswith(
        ("/accounts/login/", "/admin/login/"))


def _allowed(response) -> bool:
    if response.status_code == 200:
        return True
    if _to_log_in(response):
        return False
    assert response.status_code in (302, 403), (response.status_code, response.get("Location"))
    return False


def _may(role: str, allowed: set[str], label: str, what: str) -> bool:
    """Whether the role is declared allowed; the run's creator and the scheduled run's checker
    are payout officers but for the four-eyes moves."""
    if role in FOUR_EYES:
        return P in allowed and what not in FOUR_EYES[role].get(label, set())
    return role in allowed


def _page_object(name: str, obj, world: dict[str, object]):
    return world[PAGE_OBJECTS[name]] if name in PAGE_OBJECTS else obj


def _urls(label: str, obj, world: dict[str, object]) -> list[tuple[str, str, set[str]]]:
    """(what, url, roles allowed) for one model's standard pages and its custom pages."""
    view, add, delete = POLICY[label]
    app, model = label.split(".")
    urls = [
        ("list", reverse(f"admin:{app}_{model}_changelist"), view),
        ("add", reverse(f"admin:{app}_{model}_add"), add),
        ("change", reverse(f"admin:{app}_{model}_change", args=[obj.pk]), view),
        ("history", reverse(f"admin:{app}_{model}_history", args=[obj.pk]), view),
        ("delete", reverse(f"admin:{app}_{model}_delete", args=[obj.pk]), delete),
    ]
    model_admin = admin.site._registry[obj.__class__]
    for pattern in model_admin.get_urls():
        if pattern.name in PAGES:
            page_object = _page_object(pattern.name, obj, world)
            urls.append((pattern.name, reverse(f"admin:{pattern.name}", args=[page_object.pk]),
                         PAGES[pattern.name]))
        if pattern.name in LIST_PAGES:
            urls.append((pattern.name, reverse(f"admin:{pattern.name}"),
                         LIST_PAGES[pattern.name]))
    for move, allowed in MOVE_PAGES.get(label, {}).items():
        urls.append((f"move {move}", reverse(f"admin:{app}_{model}_move", args=[obj.pk, move]),
                     allowed))
    urls += [(what, url, allowed) for what, url, allowed, _ in _other_moves(label, world)]
    return urls


def _other_moves(label: str, world: dict[str, object]) -> list[tuple[str, str, set[str],
                                                                       object]]:
    """(what, url, roles allowed, object) for the move pages of OTHER_MOVE_PAGES."""
    app, model = label.split(".")
    return [(f"move {move} of {key}", reverse(f"admin:{app}_{model}_move",
                                              args=[world[key].pk, move]), allowed, world[key])
            for key, pages in OTHER_MOVE_PAGES.items() if key.split(":")[0] == label
            for move, allowed in pages.items()]


def _post_urls(label: str, obj, world: dict[str, object]) -> list[tuple[str, str, set[str],
                                                                      object]]:
    """(what, url, roles allowed, the object a refused POST must leave unchanged)."""
    model_admin = admin.site._registry[obj.__class__]
    app, model = label.split(".")
    posted = []
    for pattern in model_admin.get_urls():
        name = pattern.name
        if name in POST_PAGES:
            posted.append((name, reverse(f"admin:{name}", args=[obj.pk]), POST_PAGES[name], obj))
        elif name in FORM_PAGES and name in PAGES:
            page_object = _page_object(name, obj, world)
            posted.append((name, reverse(f"admin:{name}", args=[page_object.pk]), PAGES[name],
                           page_object))
        elif name in FORM_PAGES and name in LIST_PAGES:
            posted.append((name, reverse(f"admin:{name}"), LIST_PAGES[name], obj))
    posted += [(f"move {move}", reverse(f"admin:{app}_{model}_move", args=[obj.pk, move]),
                allowed, obj) for move, allowed in MOVE_PAGES.get(label, {}).items()]
    posted += _other_moves(label, world)
    return posted


@pytest.fixture(scope="module")
def world_storage(tmp_path_factory):
    return tmp_path_factory.mktemp("world-private")


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, world_storage):
    """_world(), built once for the module's tests (tests/built_once.py): each test starts
    from it as built."""
    with built_once(django_db_blocker, _world, private_storage=world_storage) as built:
        yield built


@pytest.fixture(autouse=True)
def _world_files(settings, world_storage):
    settings.PRIVATE_STORAGE_ROOT = world_storage


def test_every_admin_model_and_page_has_a_policy(world):
    models = {label for label in world if ":" not in label}
    assert models == set(POLICY), models ^ set(POLICY)  # every model's pages are requested
    assert set(PAGE_OBJECTS.values()) | set(OTHER_MOVE_PAGES) <= set(world)
    assert FORM_PAGES.issubset(set(PAGES) | set(LIST_PAGES))
    registered = {model._meta.label_lower for model in admin.site._registry}
    assert registered == set(POLICY), registered ^ set(POLICY)
    custom = {pattern.name for model_admin in admin.site._registry.values()
              for pattern in model_admin.get_urls()
              if pattern.name and not pattern.name.endswith(
                  ("_changelist", "_add", "_change", "_delete", "_history", "_autocomplete"))}
    history_pages = {name for name in custom if name.endswith("_simple_history")}
    move_pages = {f"{label.replace('.', '_')}_move" for label in MOVE_PAGES}
    unknown = (custom - history_pages - set(PAGES) - set(POST_PAGES) - set(LIST_PAGES)
               - JOB_PAGES - move_pages)
    assert unknown == set(), unknown


def test_every_admin_action_has_a_policy(rf, admin_user):
    request = rf.get("/admin/")
    request.user = admin_user
    undeclared = []
    for model, model_admin in admin.site._registry.items():
        label = model._meta.label_lower
        offered = set(model_admin.get_actions(request)) - {"delete_selected"}
        undeclared += [f"{label}.{name}" for name in offered - set(ACTIONS.get(label, {}))]
    assert not undeclared, undeclared


def test_every_role_exists_with_its_permissions():
    assert roles.sync_roles() == []
    assert set(Group.objects.values_list("name", flat=True)) >= set(roles.ROLES)


@pytest.mark.parametrize("role", ROLES)
def test_admin_pages_for(role, world):
    client = _client_for(role, world)
    wrong, checked = [], 0
    for label, obj in world.items():
        if label not in POLICY:
            continue  # an object of PAGE_OBJECTS, requested with its model's pages
        for what, url, allowed in _urls(label, obj, world):
            checked += 1
            may = _may(role, allowed, label, what)
            if _allowed(client.get(url)) != may:
                wrong.append(f"{label} {what} {url}: expected "
                             f"{'allowed' if may else 'refused'}")
        for what, url, allowed, target in _post_urls(label, obj, world):
            checked += 1
            if not _may(role, allowed, label, what):
                model = target.__class__
                before = model_to_dict(model.objects.get(pk=target.pk))
                count = model.objects.count()
                response = client.post(url)
                refused = response.status_code == 403 or _to_log_in(response)
                if (not refused or model_to_dict(model.objects.get(pk=target.pk)) != before
                        or model.objects.count() != count):
                    wrong.append(f"{label} {what} POST {url}: expected refused")
    assert not wrong, "\n".join(wrong)
    print(f"{role}: {checked} admin URLs checked")


# The index's work queue (portal/admin_queues.py): who sees each queue (with its link).
WORK_QUEUES: dict[str, set[str]] = {
    "利用申請を審査する": {R, SU},
    "補助金の申請を審査する": {R, SU},
    "補助金の交付を決定する": {A, SU},
    "調整を審査する": {R, SU},
    "調整を決定する": {A, SU},
    "やむを得ない事由の申告を確認する": {R, SU},
    "施設紐付けの通知書を作成・発送する": {R, SU},
    "支払バッチを確認・承認する": {P, SU},
}


def test_every_work_queue_has_a_policy():
    from portal.admin_queues import QUEUES

    assert {queue.label for queue in QUEUES} == set(WORK_QUEUES)


@pytest.mark.parametrize("role", ROLES)
def test_work_queue_for(role, world):
    client = _client_for(role, world)
    response = client.get(reverse("admin:index"))
    if role in (ANONYMOUS, FACILITY_STAFF):
        assert not _allowed(response)
        return
    assert response.status_code == 200
    page = response.content.decode()
    wrong = [label for label, allowed in WORK_QUEUES.items()
             if (f">{label}</a>" in page) != _may(role, allowed, "index", label)]
    assert not wrong, wrong


def _every_row(obj) -> str:
    """The query that lists every row, not only what waits (portal/admin_queues.py)."""
    from portal.admin_queues import WaitingFilter

    model_admin = admin.site._registry[type(obj)]
    return "?waiting=all" if WaitingFilter in model_admin.list_filter else ""


@pytest.mark.parametrize("role", ROLES)
def test_admin_actions_for(role, world):
    client = _client_for(role, world)
    wrong = []
    for label, actions in ACTIONS.items():
        obj = world[label]
        app, model = label.split(".")
        changelist = reverse(f"admin:{app}_{model}_changelist")
        for action, allowed in actions.items():
            before = model_to_dict(obj.__class__.objects.get(pk=obj.pk))
            response = client.post(changelist, {"action": action,
                                                "_selected_action": [obj.pk], "reason": "理由"})
            offered = _may(role, allowed, label, action)
            if not offered:
                after = model_to_dict(obj.__class__.objects.get(pk=obj.pk))
                if after != before:
                    wrong.append(f"{label} {action}: refused role changed {before} → {after}")
                assert response.status_code in (200, 302, 403)
            page = client.get(changelist + _every_row(obj))
            shown = page.status_code == 200 and f'value="{action}"' in page.content.decode()
            if shown != offered:
                wrong.append(f"{label} {action}: offered={shown}, expected {offered}")
    assert not wrong, "\n".join(wrong)


def test_matrix_size_is_reported(capsys):
    """The size of the generated matrix, for the note (URLs × roles, actions × roles)."""
    urls = (sum(5 for _ in POLICY) + len(PAGES) + len(POST_PAGES) + len(LIST_PAGES)
            + len(FORM_PAGES) + 2 * sum(len(m) for m in MOVE_PAGES.values())
            + 2 * sum(len(m) for m in OTHER_MOVE_PAGES.values()))
    actions = sum(len(a) for a in ACTIONS.values())
    print(f"permission matrix: {urls} admin URLs × {len(ROLES)} roles = {urls * len(ROLES)}; "
          f"{actions} actions × {len(ROLES)} roles = {actions * len(ROLES)}")
    assert urls * len(ROLES) > 200


# Masked fields (portal/admin_masking.py): every field of MASKED_FIELDS, for every
# administrators' role — every lookup Django registers for it, on its own list and through
# relations from every other admin, the search and autocomplete, list filters, the ordering of
# every column, lists, change forms, histories and exports tell nothing of it to a role that
# does not see it whole (probes generated in tests/portal/test_masked_fields.py, which says who
# sees what whole: SEEN_WHOLE_BY).
@pytest.mark.parametrize("role", [R, A, P, V, S, SU])
def test_masked_fields_for(role):
    from tests.portal.test_masked_fields import probe_masked_fields

    wrong, probes = probe_masked_fields(role)
    assert not wrong, "\n".join(wrong)
    print(f"{role}: {probes} probes of masked fields")


# Two-factor enrolment by invitation (portal/invitations.py), outside the admin: what the page
# saying an invitation is needed, an invitation link of another account, and allauth's set-up
# page answer each role. A staff account signed in by its password alone, without an
# authenticator, reaches nothing but the first (tests/portal/test_two_factor_invitations.py).
STAFF_WITHOUT_TWO_FACTOR = "staff without two-factor"
LOG_IN, DASHBOARD, ADMIN_INDEX = "/accounts/login/", "/dashboard/", "/admin/"
REAUTHENTICATE = "/accounts/reauthenticate/"
INVITATION_REQUIRED = "/accounts/2fa/invitation/"
ENROLMENT: dict[str, tuple[int | str, int | str, int | str]] = {
    ANONYMOUS: (LOG_IN, 200, LOG_IN),  # the link asks for the password; nothing more
    FACILITY_STAFF: (DASHBOARD, 403, REAUTHENTICATE),  # its own optional two-factor
    STAFF_WITHOUT_TWO_FACTOR: (200, 403, INVITATION_REQUIRED),
    # Enrolled: allauth asks for the password, then sends them to remove the one they have.
    **{role: (ADMIN_INDEX, 403, REAUTHENTICATE) for role in (NO_GROUP, R, A, P, V, S, SU)},
}


def _enrolment_client(role: str) -> Client:
    client = Client()
    if role == STAFF_WITHOUT_TWO_FACTOR:
        from tests.factories import UserFactory

        client.force_login(UserFactory(is_staff=True))
    elif role == FACILITY_STAFF:
        client.force_login(make_staff(FacilityFactory()))
    elif role == SU:
        login_admin(client, AdminFactory())
    elif role != ANONYMOUS:
        login_admin(client, make_admin(*([] if role == NO_GROUP else [role])))
    return client


@pytest.mark.parametrize("role", sorted(ENROLMENT))
def test_two_factor_enrolment_pages_for(role):
    from urllib.parse import urlsplit

    from portal.invitations import issue_invitation
    from tests.factories import UserFactory

    _invitation, link = issue_invitation(user=UserFactory(is_staff=True))
    client = _enrolment_client(role)
    urls = (INVITATION_REQUIRED, urlsplit(link).path, "/accounts/2fa/totp/activate/")
    wrong = []
    for url, expected in zip(urls, ENROLMENT[role], strict=True):
        # The link sends every browser on to its page without the token (followed here).
        response = client.get(url, follow=url == urlsplit(link).path)
        answer = (response.status_code if response.status_code != 302
                  else response["Location"].split("?")[0])
        if answer != expected:
            wrong.append(f"{url}: {answer}, expected {expected}")
    assert not wrong, wrong


# ---------------------------------------------------------------- commands

# `manage.py` commands an officer runs as themself (--by, authenticated by password and
# authenticator code where they apply or pay): command → who may. The four-eyes refusals (the
# drafter never applies) are tested in tests/eligibility/test_parameters_command.py.
COMMANDS: dict[str, set[str]] = {
    "parameters draft": {S, SU},
    "parameters apply": {S, SU},
}
COMMAND_ROLES = [NO_GROUP, R, A, P, V, S, SU]


def _officer(role: str):
    if role == SU:
        return AdminFactory()
    return make_admin(*([] if role == NO_GROUP else [role]))


@pytest.mark.parametrize("role", COMMAND_ROLES)
def test_parameters_command_for(role, tmp_path, settings):
    """`parameters draft` and `parameters apply` for each role, as COMMANDS declares: a
    refusal is exit code 1 with a message and changes nothing."""
    import json
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.utils import timezone

    from eligibility import engine, services
    from eligibility.models import ParameterVersion, Program
    from tests.factories import PASSWORD
    from tests.payouts.helpers import totp_code

    settings.MFA_TOTP_TOLERANCE = 1
    program = Program.objects.get(code="device-sejutsu")  # claim-based: no preview to wait for
    user = _officer(role)
    path = tmp_path / "params.json"
    path.write_text(json.dumps(engine.parameters_in_force(program).params), encoding="utf-8")
    count = ParameterVersion.objects.count()
    try:
        call_command("parameters", "draft", "--program", program.code, "--file", str(path),
                     "--effective-from", "2026-04-01", "--notice", "試験", "--by", user.email,
                     stdout=StringIO())
        drafted = True
    except CommandError:
        drafted = False
    assert drafted is (role in COMMANDS["parameters draft"])
    assert ParameterVersion.objects.count() == count + drafted

    draft = services.create_draft_version(
        program=program, params=engine.parameters_in_force(program).params,
        effective_from=timezone.localdate(), notice="別の方が作った版", actor=_officer(S))
    try:
        call_command("parameters", "apply", "--program", program.code, "--version",
                     str(draft.version), "--by", user.email, stdout=StringIO(),
                     stdin=StringIO(f"{PASSWORD}\n{totp_code(user)}\n"))
        applied = True
    except CommandError:
        applied = False
    assert applied is (role in COMMANDS["parameters apply"])
    draft.refresh_from_db()
    assert (draft.status != ParameterVersion.Status.DRAFT) is applied


COMMANDS.update({
    "adjustments review": {R, SU},
    "adjustments approve": {A, SU},
})


@pytest.mark.parametrize("role", COMMAND_ROLES)
def test_adjustments_command_for(role, settings):
    """`adjustments review` and `adjustments approve` for each role, as COMMANDS declares:
    a refusal is exit code 1 with a message and moves nothing."""
    from io import StringIO

    from django.contrib.auth.models import Permission
    from django.core.management import call_command
    from django.core.management.base import CommandError
    from django.utils import timezone

    from eligibility.models import Adjustment, AdjustmentState, Determination, Program
    from portal.workflow import perform
    from tests.factories import PASSWORD
    from tests.payouts.helpers import totp_code

    settings.MFA_TOTP_TOLERANCE = 1
    program = Program.objects.get(code="lump-sum-2024")

    def proposed() -> Adjustment:
        facility = FacilityFactory(kind="clinic")
        paid = Determination.objects.create(
            facility=facility, program=program, parameter_version=program.versions.first(),
            eligible=True, amount=100_000, details={}, determined_at=timezone.now(),
            payout_locked=True)
        return Adjustment.objects.create(
            facility=facility, program=program, determination=paid,
            parameter_version=program.versions.first(), paid_amount=100_000, new_amount=120_000,
            difference=20_000, eligible=True, cause="試験", proposed_at=timezone.now())

    def run(action: str) -> bool:
        # An officer of the role for each command: an authenticator code is used once.
        user = _officer(role)
        try:
            call_command("adjustments", action, "--program", program.code, "--by", user.email,
                         stdout=StringIO(), stderr=StringIO(),
                         stdin=StringIO(f"{PASSWORD}\n{totp_code(user)}\n"))
            return True
        except CommandError:
            return False

    waiting = proposed()
    reviewed = run("review")
    waiting.refresh_from_db()
    assert reviewed is (role in COMMANDS["adjustments review"])
    assert (waiting.state == AdjustmentState.REVIEWED) is reviewed

    Adjustment.objects.filter(pk=waiting.pk).delete()
    other = proposed()
    reviewer = make_admin()
    reviewer.user_permissions.add(Permission.objects.get(codename="review_adjustment"))
    perform(other, "review", actor=reviewer)
    approved = run("approve")
    other.refresh_from_db()
    assert approved is (role in COMMANDS["adjustments approve"])
    assert (other.state == AdjustmentState.APPROVED) is approved


# The moves of the background jobs (portal/jobs.py), for every role: the worker's moves
# (start, finish, fail) are made by the tasks with no actor and by no person, whatever their
# role; a person's own move of a job (an import's confirmation, made on its page of
# JOB_PAGES) as its import permission says. Every move of every kind of job is declared here.
JOB_MOVES: dict[str, dict[str, set[str]]] = {
    "portal.importjob": {"start": NOBODY, "finish": NOBODY, "fail": NOBODY,
                         "confirm": {S, SU}},  # the statistics: 月次統計 is the system admin's
    "eligibility.parameterpreview": {"start": NOBODY, "finish": NOBODY, "fail": NOBODY},
    "obligation.letterbatch": {"start": NOBODY, "finish": NOBODY, "fail": NOBODY},
}


def test_every_background_job_move_has_a_policy():
    from portal.jobs import BackgroundJob
    from portal.workflow import moves

    declared = {model._meta.label_lower: set(moves(model))
                for model in BackgroundJob.__subclasses__()}
    assert declared == {label: set(pages) for label, pages in JOB_MOVES.items()}


def _job_waiting_for(label: str, name: str):
    """A job of this kind in the state its move `name` starts from."""
    import uuid

    from django.apps import apps

    from eligibility.models import ParameterVersion
    from portal.workflow import moves

    model = apps.get_model(label)
    fields = {"state": moves(model)[name].source, "created_by": AdminFactory()}
    if label == "portal.importjob":
        fields.update(kind="monthly_statistics", stored_name=f"{uuid.uuid4().hex}.csv",
                      original_name="s.csv")
    elif label == "eligibility.parameterpreview":
        fields.update(version=ParameterVersion.objects.first(), params_hash="0" * 64)
    else:
        fields.update(kind="request_letter", facility_ids=[1], total=1)
    return model.objects.create(**fields)


@pytest.mark.parametrize("role", [ANONYMOUS, FACILITY_STAFF, *COMMAND_ROLES])
def test_background_job_moves_for(role):
    from django.contrib.auth.models import AnonymousUser

    from portal.workflow import refusal

    if role == ANONYMOUS:
        user = AnonymousUser()
    elif role == FACILITY_STAFF:
        user = make_staff(FacilityFactory())
    else:
        user = _officer(role)
    wrong = []
    for label, pages in JOB_MOVES.items():
        for name, allowed in pages.items():
            job = _job_waiting_for(label, name)
            may = refusal(job, name, user) is None
            if may != (role in allowed):
                wrong.append(f"{label} {name}: {'allowed' if may else 'refused'}")
    assert not wrong, "\n".join(wrong)
