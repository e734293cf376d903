"""The task list in headless Chromium, one test per kind of task: the situation is made
through the services, the staff member sees the task on マイページ with its status, follows
its link, does what it asks, and back on マイページ the task is done (完了) or, for what came
back, gone. Fields are found by their names, so that the forms' wording may change without
breaking these tests."""

import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from eligibility.models import Program
from facilities import services as facility_services
from facilities.models import DeviceAccount, GoLive, Membership
from portal import roles
from subsidies import services as claim_services
from tests.factories import (
    PASSWORD,
    FacilityFactory,
    accepted_facility,
    claim_under_review,
    make_admin,
    make_staff,
    submit_start,
)
from todos.models import LastVisit

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True),
]


def _log_in(page, user):
    """allauth's log-in by its field names (the page's wording is another part's work)."""
    page.goto("/accounts/login/")
    page.locator("input[name=login]").fill(user.email)
    page.locator("input[name=password]").fill(PASSWORD)
    page.locator("main form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/dashboard/$"))


def _item(page, title):
    return page.locator("ol.todo-list > li", has=page.get_by_role("heading", name=re.compile(
        re.escape(title))))


def _follow(page, user, title, link, status="未着手"):
    """Log in, find the task on マイページ (with its status as text) and follow its link."""
    _log_in(page, user)
    item = _item(page, title)
    expect(item).to_have_count(1)
    expect(item.locator(".task-status")).to_contain_text(status)
    item.get_by_role("link", name=link).click()


def _done(page, title):
    """Back on マイページ: the task is 完了, or gone (what came back)."""
    page.goto("/dashboard/")
    expect(page.get_by_role("heading", name="マイページ", level=1)).to_be_visible()
    expect(_item(page, title).filter(has_not_text="完了")).to_have_count(0)


def _running(code):
    """The program still running today (its 報告期限 ahead)."""
    Program.objects.filter(code=code).update(
        report_deadline=timezone.localdate() + timedelta(days=10))


def test_go_live_not_entered(new_page):
    facility, user, _ = accepted_facility(kind="judo", devices=1)
    page = new_page()
    _follow(page, user, "運用開始日の入力", "運用開始日を入力する（運用開始日登録へ）")
    expect(page.get_by_role("heading", level=1)).to_have_text("運用開始日登録")
    page.locator("input[name=date]").fill("2025-06-10")
    page.locator("main form button[type=submit]").last.click()
    page.get_by_role("button", name="この内容で登録する").click()  # its effect in yen, confirmed
    expect(page.get_by_role("status")).to_contain_text("運用開始日を登録しました")
    _done(page, "運用開始日の入力")
    expect(_item(page, "運用開始日の入力")).to_contain_text("完了")
    assert GoLive.objects.get(facility=facility).date == date(2025, 6, 10)


def test_device_settings_not_downloaded(new_page):
    facility, user, _ = accepted_facility(kind="judo", devices=1)
    account = DeviceAccount.objects.get(facility=facility)
    page = new_page()
    _follow(page, user, "ユーザ設定情報のダウンロード",
            "ユーザ設定情報をダウンロードする（資格確認アカウント管理へ）")
    page.get_by_role("link", name=account.login_id, exact=True).click()
    with page.expect_download():
        page.get_by_role("button", name=re.compile("ユーザ設定情報.*ダウンロード")).click()
    _done(page, "ユーザ設定情報のダウンロード")
    account.refresh_from_db()
    assert account.issue_count == 1


def test_bank_account_missing(new_page):
    _running("cooperation-2025")
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    page = new_page()
    _follow(page, user, "振込先口座の登録",
            "振込先口座を登録する（振込先口座の画面へ）")
    page.locator("input[name=method][value=bank]").check()
    page.locator("input[name=bank]").fill("みずほ")
    page.locator("input[name=branch]").fill("東京営業部")
    page.locator("select[name=account_type]").select_option("1")
    page.locator("input[name=account_number]").fill("1234567")
    page.locator("input[name=holder_name]").fill("かぶしきがいしゃ　あおば")
    page.locator("button[name=review]").click()
    page.locator("button[name=submit]").click()
    expect(page.get_by_role("status")).to_contain_text("振込先口座を登録しました")
    _done(page, "振込先口座の登録")


def test_report_due_before_the_deadline(new_page):
    _running("cooperation-2025")
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    GoLive.objects.create(facility=facility, date=date(2025, 6, 1))
    page = new_page()
    title = "協力金（施術所・2025年）の取組の実施報告"
    _follow(page, user, title, "取組の実施報告をする（報告の画面へ）")
    page.locator("input[name=voice]").check()
    page.locator("input[name=flyer]").check()
    page.locator("input[name=activity_from]").fill("2025-06-10")
    page.locator("input[name=activity_to]").fill("2025-07-31")
    page.locator("main form button[type=submit]").last.click()
    page.get_by_role("button", name="この内容で登録する").click()  # its effect in yen, confirmed
    expect(page.get_by_role("status")).to_contain_text("取組の実施報告を登録しました")
    _done(page, title)


def test_attestation_missing(new_page):
    _running("lump-sum-2024")
    facility = FacilityFactory(kind="clinic")
    user = make_staff(facility)
    page = new_page()
    title = "一時金（医療機関・薬局・2024年）の実施状況の確認"
    _follow(page, user, title, "実施状況を登録する（確認の画面へ）")
    page.locator("input[name=poster]").check()
    page.locator("input[name=informed]").check()
    page.locator("main form button[type=submit]").last.click()
    page.get_by_role("button", name="この内容で登録する").click()  # its effect in yen, confirmed
    expect(page.get_by_role("status")).to_contain_text("実施状況を登録しました")
    _done(page, title)


def test_returned_claim_fixed_and_resubmitted(new_page):
    claim = claim_under_review()
    staff = claim.facility.memberships.get().user
    claim_services.return_claim(claim=claim, actor=make_admin(roles.REVIEWER),
                                reason="領収書の日付をご確認ください", item_notes={})
    page = new_page()
    title = f"{claim.program.name}の申請が差し戻されました"
    _log_in(page, staff)
    item = _item(page, title)
    expect(item.locator(".task-status")).to_contain_text("対応中")
    expect(item).not_to_contain_text("至急")  # came back, but has no deadline
    expect(item).to_contain_text("領収書の日付をご確認ください")
    item.get_by_role("link", name="申請を直して再提出する（補助金の申請の画面へ）").click()
    page.get_by_role("link", name=re.compile("再提出する")).click()
    page.get_by_role("button", name="再提出する").click()
    expect(page.locator("main")).to_contain_text("再提出済み")
    _done(page, title)


def test_returned_application_made_again_and_shown_as_news(new_page):
    facility = FacilityFactory(kind="judo")
    user = make_staff(facility)
    application = submit_start(facility, user)
    LastVisit.objects.create(user=user, visited_at=timezone.now() - timedelta(days=3))
    facility_services.return_application(application=application,
                                         actor=make_admin(roles.REVIEWER),
                                         reason="申請台数をご確認ください")
    page = new_page()
    title = "マイナ資格確認アプリ利用開始申請が差し戻されました"
    _log_in(page, user)
    # What changed since the last visit: the decision, linking to the application.
    news = page.get_by_role("region", name=re.compile("前回のご利用以降のお知らせ"))
    expect(news).to_contain_text(application.receipt_number)
    item = _item(page, title)
    expect(item).to_contain_text("申請台数をご確認ください")
    item.get_by_role("link", name=re.compile("再度申請する")).click()
    page.locator("input[name=contact_name]").fill("担当 花子")
    page.locator("input[name=phone]").fill("03-1234-5678")
    page.locator("input[name=staff_count]").fill("2")
    page.locator("input[name=device_count]").fill("1")
    page.get_by_role("button", name="確認画面へ").click()
    page.get_by_role("button", name="申請する").click()
    expect(page.locator(".receipt")).to_contain_text("受付番号")
    _done(page, title)


def test_reminder_setting_and_one_click_unsubscribe_pages_are_accessible(new_page):
    from tests.e2e.test_accessibility import _check, _report
    from todos import services as todo_services

    user = make_staff(FacilityFactory(kind="judo"))
    problems = {}
    # The e-mail's link, opened without logging in: it asks, the button stops the e-mails.
    page = new_page()
    page.goto(f"/todos/reminders/unsubscribe/{todo_services.unsubscribe_token(user)}/")
    _check(page, "unsubscribe", problems)
    page.get_by_role("button", name="お知らせメールを停止する").click()
    expect(page.get_by_role("status")).to_contain_text("お知らせメールを停止しました")
    _check(page, "unsubscribed", problems)
    assert not todo_services.receives_reminders(user)
    # The user's own setting turns them on again.
    _log_in(page, user)
    page.get_by_role("link", name="期限が近い手続きのお知らせメールの設定").click()
    checkbox = page.get_by_label("期限が近い手続きのお知らせメールを受け取る")
    expect(checkbox).not_to_be_checked()
    _check(page, "reminder setting", problems)
    checkbox.check()
    page.get_by_role("button", name="設定を保存する").click()
    expect(page.get_by_role("status")).to_contain_text("お知らせメールを受け取ります")
    assert todo_services.receives_reminders(user)
    assert not problems, _report(problems)


def test_task_lists_of_every_status_are_accessible_and_the_next_step_comes_first(new_page):
    """マイページ and a facility's top page with tasks of every status (a new clinic, an
    accepted 施術所, a 併設申告 to confirm): axe finds nothing, each status is text, and each
    facility's first task is its next step."""
    from obligation import services as obligation_services
    from tests.e2e.test_accessibility import _check, _report

    _running("cooperation-2025")
    sejutsu, user, _ = accepted_facility(kind="judo", devices=1)
    clinic = FacilityFactory(kind="clinic", name="あおばクリニック")
    proposer = FacilityFactory(kind="judo", name="主たる整骨院")
    Membership.objects.create(user=user, facility=clinic)
    obligation_services.propose_annex(user=make_staff(proposer), facility=proposer,
                                      partner=sejutsu, facility_is_main=True)
    page = new_page()
    problems = {}
    _log_in(page, user)
    _check(page, "dashboard", problems)
    clinic_list = page.get_by_role("region", name="あおばクリニック").locator("ol.todo-list > li")
    expect(clinic_list.first.get_by_role("heading")).to_have_text(
        "マイナ資格確認アプリの利用開始申請")
    expect(clinic_list.nth(1)).to_contain_text("まだ始められません")
    first = page.get_by_role("region", name=sejutsu.name).locator("ol.todo-list > li").first
    expect(first.get_by_role("heading")).to_have_text("併設申告の確認")
    expect(first.locator(".task-status")).to_contain_text("未着手")
    page.goto(f"/facilities/{sejutsu.pk}/")
    _check(page, "facility top", problems)
    expect(page.locator("ol.todo-list > li .tag.status-done").first).to_have_text("完了")
    assert not problems, _report(problems)
