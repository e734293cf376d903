"""Becoming a facility's staff (なりすまし防止, docs/decisions.md D2.2, D2.3). The facility's code and
請求口座番号下4桁 make a request, never staff on their own: the facility's staff approve it, or, for a
facility with no staff yet, the requester types the code of a letter posted to the facility's
address. Wrong guesses are limited per user, per client address and per facility, and the facility
is told when its limit is reached. The parallel cases are in test_races.py."""

import io
import re
import time
from datetime import timedelta

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from facilities import selectors, services
from facilities.models import (
    Activity,
    LinkAttempt,
    LinkRequest,
    LinkRequestState,
    LinkRoute,
    Membership,
)
from portal import ratelimit, roles
from portal.errors import IllegalTransition, NotPermitted, ServiceError
from tests.factories import (
    FacilityFactory,
    UserFactory,
    login_admin,
    make_admin,
    make_staff,
)

pytestmark = pytest.mark.django_db

WRONG = ("1111", "2222", "3333", "4444", "5555", "6666")


def _request(user, facility, last4: str | None = None, ip: str | None = None):
    return services.request_facility_link(
        user=user, code=facility.code, account_last4=last4 or facility.account_last4,
        ip_address=ip)


def _evaluated(**filters) -> int:
    return LinkAttempt.objects.filter(reason__in=services.GUESS_REASONS, **filters).count()


def _code(link_request) -> str:
    """The code of a new letter for the request, as a reviewer prints it."""
    letters, refused = services.issue_link_letters(link_requests=[link_request],
                                                   actor=make_admin(roles.REVIEWER))
    assert not refused, refused
    return letters[0].formatted_code


def _pdf_text(content: bytes) -> str:
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def _sent_to(address: str) -> list:
    return [message for message in mail.outbox if address in message.to]


# ---------------------------------------------------------------- the secret alone (a)


def test_right_code_and_digits_make_a_request_for_the_staff_not_a_membership(
        django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="clinic", account_last4="0987")
    staff = make_staff(facility)
    user = UserFactory()

    with django_capture_on_commit_callbacks(execute=True):
        link_request = services.request_facility_link(user=user, code=facility.code,
                                                      account_last4="０９８７")

    assert (link_request.route, link_request.state) == (LinkRoute.STAFF, "pending")
    assert link_request.expires_at > timezone.now() + timedelta(days=13)
    assert not Membership.objects.filter(user=user).exists()
    assert LinkAttempt.objects.get().succeeded
    # One e-mail to each side: neither learns the other's address.
    assert [m.to for m in _sent_to(user.email)] == [[user.email]]
    assert [m.to for m in _sent_to(staff.email)] == [[staff.email]]
    assert user.email in _sent_to(staff.email)[0].body
    assert selectors.history_for(facility=facility).filter(verb="link_requested").exists()


def test_right_code_and_digits_give_no_access_to_the_facility_or_its_bank_account(client):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    make_staff(facility)
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("facilities:link"),
                           {"code": facility.code, "account_last4": "0987"})

    link_request = LinkRequest.objects.get(user=user)
    assert response.status_code == 302
    assert response["Location"] == reverse("facilities:link_request", args=[link_request.pk])
    assert "承認をお願いしました" in client.get(response["Location"]).content.decode()
    assert not Membership.objects.filter(user=user).exists()
    for url in (reverse("facilities:home", args=[facility.pk]),
                reverse("payouts:bank", args=[facility.pk]),
                reverse("facilities:staff", args=[facility.pk])):
        assert client.get(url).status_code == 404, url
    bank = client.post(reverse("payouts:bank", args=[facility.pk]),
                       {"bank_code": "0001", "branch_code": "001", "account_type": "1",
                        "account_number": "1234567", "holder": "ｱｵﾊﾞ", "submit": "1"})
    assert bank.status_code == 404


def test_a_facility_without_staff_waits_for_a_letter_to_its_address(client):
    facility = FacilityFactory(kind="judo")
    user = UserFactory()
    client.force_login(user)

    response = client.post(reverse("facilities:link"),
                           {"code": facility.code, "account_last4": facility.account_last4},
                           follow=True)

    link_request = LinkRequest.objects.get(user=user)
    body = response.content.decode()
    assert (link_request.route, link_request.code_hash) == (LinkRoute.LETTER, "")
    assert "所在地に、確認コードを記載した通知書を郵送します" in body
    assert 'name="code"' not in body  # no code to type before a letter exists
    assert not Membership.objects.filter(user=user).exists()


def test_a_second_submission_finds_the_open_request():
    facility = FacilityFactory(kind="judo")
    user = UserFactory()
    first = _request(user, facility)
    assert _request(user, facility) == first
    assert LinkRequest.objects.count() == 1


def test_staff_who_type_the_secret_again_are_told_they_are_staff():
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    with pytest.raises(ServiceError, match="既に"):
        _request(staff, facility)
    assert not LinkRequest.objects.exists()
    assert LinkAttempt.objects.get().reason == "already_staff"


def test_the_requester_sees_only_their_own_requests(client):
    link_request = _request(UserFactory(), FacilityFactory(kind="judo"))
    client.force_login(UserFactory())
    url = reverse("facilities:link_request", args=[link_request.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"withdraw": "1"}).status_code == 404
    assert client.post(url, {"code": "ABCD-2345"}).status_code == 404
    link_request.refresh_from_db()
    assert link_request.state == "pending"


def test_the_requester_may_withdraw_a_request(client, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    user = UserFactory()
    link_request = _request(user, facility)
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("facilities:link_request", args=[link_request.pk]),
                               {"withdraw": "1"}, follow=True)
    assert "取り下げました" in response.content.decode()
    link_request.refresh_from_db()
    assert link_request.state == LinkRequestState.WITHDRAWN
    assert any("取り下げました" in m.body for m in _sent_to(staff.email))


# ---------------------------------------------------------------- the facility's staff (d)


def test_the_staff_approve_and_the_requester_becomes_staff(client,
                                                           django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    user = UserFactory(full_name="新任 花子")
    link_request = _request(user, facility)
    client.force_login(staff)

    home = client.get(reverse("facilities:home", args=[facility.pk])).content.decode()
    assert "担当者の登録の申請が1件あります" in home
    page = client.get(reverse("facilities:staff", args=[facility.pk])).content.decode()
    assert "新任 花子" in page and user.email in page
    url = reverse("facilities:link_request_decide", args=[facility.pk, link_request.pk, "approve"])
    assert "職員であることを確かめてから" in client.get(url).content.decode()
    assert not Membership.objects.filter(user=user).exists()  # the GET decided nothing
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)

    assert response.status_code == 302
    link_request.refresh_from_db()
    assert (link_request.state, link_request.decided_by) == (LinkRequestState.LINKED, staff)
    assert Membership.objects.filter(user=user, facility=facility).exists()
    assert [m.to for m in mail.outbox] == [[user.email], [staff.email]]
    assert "承認しました" in mail.outbox[0].body
    activity = Activity.objects.get(verb="link_request_linked")
    assert (activity.actor, activity.facility) == (staff, facility)
    # The new staff member reaches the facility now.
    client.force_login(user)
    assert client.get(reverse("facilities:home", args=[facility.pk])).status_code == 200


def test_the_staff_refuse_and_the_requester_is_not_staff(client,
                                                         django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    user = UserFactory()
    link_request = _request(user, facility)
    client.force_login(staff)
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("facilities:link_request_decide",
                            args=[facility.pk, link_request.pk, "refuse"]))
    link_request.refresh_from_db()
    assert link_request.state == LinkRequestState.REFUSED
    assert not Membership.objects.filter(user=user).exists()
    assert "承認しませんでした" in _sent_to(user.email)[0].body
    # Decided once: a second decision is refused and changes nothing.
    with pytest.raises(IllegalTransition):
        services.approve_link_request(link_request=link_request, actor=staff)
    assert not Membership.objects.filter(user=user).exists()


def test_only_the_facilitys_staff_decide_its_requests(client):
    facility = FacilityFactory(kind="judo")
    make_staff(facility)
    user = UserFactory()
    link_request = _request(user, facility)
    with pytest.raises(NotPermitted):
        services.approve_link_request(link_request=link_request, actor=user)
    with pytest.raises(NotPermitted):
        services.approve_link_request(link_request=link_request,
                                      actor=make_staff(FacilityFactory(kind="judo")))
    other_staff = make_staff(FacilityFactory(kind="judo"))
    client.force_login(other_staff)
    url = reverse("facilities:link_request_decide", args=[facility.pk, link_request.pk, "approve"])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    link_request.refresh_from_db()
    assert link_request.state == "pending"
    assert not Membership.objects.filter(user=user).exists()


def test_an_unknown_move_is_not_found(client):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    link_request = _request(UserFactory(), facility)
    client.force_login(staff)
    url = reverse("facilities:link_request_decide", args=[facility.pk, link_request.pk, "cancel"])
    assert client.post(url).status_code == 404
    link_request.refresh_from_db()
    assert link_request.state == "pending"


def test_an_expired_request_is_decided_by_nobody_and_the_nightly_job_ends_it(
        django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    staff = make_staff(facility)
    user = UserFactory()
    link_request = _request(user, facility)
    LinkRequest.objects.filter(pk=link_request.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1))
    with pytest.raises(IllegalTransition, match="期限が切れています"):
        services.approve_link_request(link_request=link_request, actor=staff)
    assert not Membership.objects.filter(user=user).exists()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        assert services.expire_link_requests() == 1
    assert services.expire_link_requests() == 0
    link_request.refresh_from_db()
    assert link_request.state == LinkRequestState.EXPIRED
    assert _sent_to(user.email) and _sent_to(staff.email)
    # A new request may be made after it.
    assert _request(user, facility).pk != link_request.pk


def test_a_request_past_its_expiry_is_replaced_by_a_new_one():
    facility = FacilityFactory(kind="judo")
    make_staff(facility)
    user = UserFactory()
    old = _request(user, facility)
    LinkRequest.objects.filter(pk=old.pk).update(expires_at=timezone.now())
    new = _request(user, facility)
    old.refresh_from_db()
    assert (old.state, new.state) == ("expired", "pending")


# ---------------------------------------------------------------- the first staff, by post (e)


def test_the_first_staff_links_with_the_code_of_the_letter_printed_in_the_admin(
        client, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo", address="世田谷区三軒茶屋5-5-5")
    user = UserFactory()
    link_request = _request(user, facility)
    reviewer = make_admin(roles.REVIEWER)
    login_admin(client, reviewer)
    changelist = reverse("admin:facilities_linkrequest_changelist")
    waiting = client.get(changelist, {"letter": "to_print"}).content.decode()
    assert facility.name in waiting and "世田谷区三軒茶屋5-5-5" in waiting

    response = client.post(changelist, {"action": "print_letters",
                                        "_selected_action": [link_request.pk]})

    assert response["Content-Type"] == "application/pdf"
    assert "no-store" in response["Cache-Control"]
    text = _pdf_text(response.content)
    assert "担当者の登録の確認コードのお知らせ" in text
    assert "東京都世田谷区三軒茶屋5-5-5" in text and facility.name in text
    assert user.email in text
    link_request.refresh_from_db()
    code = next(token for token in text.split() if check_password(
        services.normalize_link_code(token), link_request.code_hash))
    assert code not in link_request.code_hash
    assert client.get(changelist, {"letter": "to_post"}).content.decode().count(
        f'value="{link_request.pk}"') == 1
    with django_capture_on_commit_callbacks(execute=True):
        client.post(changelist, {"action": "mark_letters_sent",
                                 "_selected_action": [link_request.pk]})
    link_request.refresh_from_db()
    assert link_request.letter_sent_by == reviewer and link_request.letter_sent_at
    posted = [m for m in _sent_to(user.email) if "郵送しました" in m.subject]
    assert len(posted) == 1 and code not in posted[0].body

    client.force_login(user)
    page = reverse("facilities:link_request", args=[link_request.pk])
    assert "郵送しました" in client.get(page).content.decode()
    response = client.post(page, {"code": code.lower().replace("-", " ")})

    assert response.status_code == 302
    assert response["Location"] == reverse("facilities:home", args=[facility.pk])
    assert Membership.objects.filter(user=user, facility=facility).exists()
    link_request.refresh_from_db()
    assert link_request.state == LinkRequestState.LINKED
    assert client.get(reverse("facilities:home", args=[facility.pk])).status_code == 200


def test_a_wrong_code_is_refused_and_counted_and_at_the_limit_no_code_works(
        client, django_capture_on_commit_callbacks):
    facility = FacilityFactory(kind="judo")
    user = UserFactory()
    link_request = _request(user, facility)
    code = _code(link_request)
    client.force_login(user)
    page = reverse("facilities:link_request", args=[link_request.pk])

    with override_settings(FACILITY_LINK_CODE_MAX_FAILURES=3), \
            django_capture_on_commit_callbacks(execute=True):
        first = client.post(page, {"code": "ZZZZ-ZZZZ"}).content.decode()
        assert "確認コードが正しくありません。あと2回" in first
        assert 'id="id_code_error"' in first
        client.post(page, {"code": "ZZZZ-ZZZY"})
        last = client.post(page, {"code": "ZZZZ-ZZZX"}).content.decode()
        assert "上限に達したため、この通知書の確認コードは使えません" in last
        assert 'name="code"' not in last
        after = client.post(page, {"code": code}).content.decode()

    assert "使えません" in after
    assert not Membership.objects.filter(user=user).exists()
    link_request.refresh_from_db()
    assert link_request.code_failures == 3
    assert [m.subject for m in _sent_to(user.email) if "使えなくなりました" in m.subject]
    assert Activity.objects.filter(verb="link_code_locked").count() == 1
    # A new letter from the administrators: its code works, the old one no longer.
    new_code = _code(link_request)
    with pytest.raises(ServiceError):
        services.confirm_link_code(link_request=link_request, user=user, code=code)
    services.confirm_link_code(link_request=link_request, user=user, code=new_code)
    assert Membership.objects.filter(user=user, facility=facility).exists()


def test_a_malformed_code_is_refused_next_to_the_field_without_counting(client):
    link_request = _request(UserFactory(), FacilityFactory(kind="judo"))
    _code(link_request)
    client.force_login(link_request.user)
    body = client.post(reverse("facilities:link_request", args=[link_request.pk]),
                       {"code": "ｱｲｳ"}).content.decode()
    assert "英字と数字の8文字" in body and 'id="id_code_error"' in body
    link_request.refresh_from_db()
    assert link_request.code_failures == 0


def test_the_code_expires():
    facility = FacilityFactory(kind="judo")
    user = UserFactory()
    link_request = _request(user, facility)
    code = _code(link_request)
    link_request.refresh_from_db()
    assert link_request.expires_at > timezone.now() + timedelta(days=29)
    LinkRequest.objects.filter(pk=link_request.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(IllegalTransition, match="期限"):
        services.confirm_link_code(link_request=link_request, user=user, code=code)
    assert not Membership.objects.exists()


def test_only_the_requester_may_type_the_code():
    link_request = _request(UserFactory(), FacilityFactory(kind="judo"))
    code = _code(link_request)
    with pytest.raises(NotPermitted):
        services.confirm_link_code(link_request=link_request, user=UserFactory(), code=code)
    assert not Membership.objects.exists()


def test_a_staff_route_request_takes_no_code():
    facility = FacilityFactory(kind="judo")
    make_staff(facility)
    link_request = _request(UserFactory(), facility)
    letters, refused = services.issue_link_letters(link_requests=[link_request],
                                                   actor=make_admin(roles.REVIEWER))
    assert letters == [] and "施設の担当者が承認する申請" in refused[0]
    with pytest.raises(IllegalTransition):
        services.confirm_link_code(link_request=link_request, user=link_request.user,
                                   code="ABCD2345")


def test_no_letter_without_an_address_nor_for_a_closed_request():
    no_address = _request(UserFactory(), FacilityFactory(kind="judo", address=""))
    closed = _request(UserFactory(), FacilityFactory(kind="judo"))
    services.withdraw_link_request(link_request=closed, user=closed.user)
    letters, refused = services.issue_link_letters(link_requests=[no_address, closed],
                                                   actor=make_admin(roles.REVIEWER))
    assert letters == []
    assert "所在地がない" in refused[0] and "確認待ちの申請ではありません" in refused[1]
    assert LinkRequest.objects.filter(letter_count=0).count() == 2


def test_letters_are_made_only_by_those_who_handle_link_requests():
    link_request = _request(UserFactory(), FacilityFactory(kind="judo"))
    for actor in (make_admin(roles.VIEWER), make_admin(roles.SYSTEM_ADMIN)):
        with pytest.raises(NotPermitted):
            services.issue_link_letters(link_requests=[link_request], actor=actor)
        with pytest.raises(NotPermitted):
            services.mark_link_letters_sent(link_requests=[link_request], actor=actor)
    link_request.refresh_from_db()
    assert (link_request.letter_count, link_request.code_hash) == (0, "")


def test_an_administrator_cancels_a_request_from_its_page(client,
                                                          django_capture_on_commit_callbacks):
    link_request = _request(UserFactory(), FacilityFactory(kind="judo"))
    login_admin(client, make_admin(roles.REVIEWER))
    url = reverse("admin:facilities_linkrequest_move", args=[link_request.pk, "cancel"])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"reason": ""})
    link_request.refresh_from_db()
    assert link_request.state == LinkRequestState.CANCELLED
    assert "取り消しました" in _sent_to(link_request.user.email)[-1].body


# ---------------------------------------------------------------- limits (b)


def test_guesses_are_limited_per_user():
    facility = FacilityFactory(kind="judo", account_last4="0987")
    user = UserFactory()
    with override_settings(RATE_LIMITS={"facility_link_user": "3/24h"}):
        for guess in WRONG[:3]:
            with pytest.raises(ServiceError, match="確認できませんでした"):
                _request(user, facility, guess)
        with pytest.raises(ServiceError, match="一時的に停止") as error:
            _request(user, facility, "0987")
    assert "0987" not in error.value.message
    assert not LinkRequest.objects.exists()
    assert _evaluated(user=user) == 3


def test_four_accounts_six_guesses_each_at_one_facility_from_one_address(
        django_capture_on_commit_callbacks):
    """The audit's case: every one of the 24 guesses was evaluated. Now at most the
    facility's limit (10) is, the facility is told once, and the right digits are refused
    for the window as well."""
    facility = FacilityFactory(kind="judo", account_last4="0987")
    staff = make_staff(facility)
    mail.outbox.clear()
    outcomes = []
    with django_capture_on_commit_callbacks(execute=True):
        for account in [UserFactory() for _ in range(4)]:
            for guess in WRONG:
                with pytest.raises(ServiceError) as error:
                    _request(account, facility, guess, ip="203.0.113.5")
                outcomes.append(error.value.message)
        with pytest.raises(ServiceError, match="一時的に停止"):
            _request(UserFactory(), facility, "0987", ip="198.51.100.9")

    assert _evaluated(facility=facility) == 10
    assert _evaluated() == 10
    # The rest were refused unchecked: each account's sixth by its own limit, the others by
    # the facility's.
    assert LinkAttempt.objects.filter(reason="locked").count() == 2
    assert LinkAttempt.objects.filter(reason="facility_locked").count() == 24 + 1 - 10 - 2
    assert not LinkRequest.objects.exists()
    told = [m for m in mail.outbox if "停止しました" in m.subject]
    assert len(told) == 1 and told[0].to == [staff.email]
    assert "10回" in told[0].body and not any(g in told[0].body for g in WRONG)
    assert selectors.history_for(facility=facility).filter(verb="link_guessing").count() == 1
    # The facility's staff keep their access; the administrators may still add staff.
    assert Membership.objects.filter(facility=facility).count() == 1
    services.add_staff(user=UserFactory(), facility=facility)
    assert Membership.objects.filter(facility=facility).count() == 2


@override_settings(RATE_LIMITS={"facility_link_address": "8/24h"})
def test_guesses_from_one_address_are_limited_across_facilities_and_accounts():
    facilities = [FacilityFactory(kind="judo", account_last4="0987") for _ in range(4)]
    for account, facility in zip([UserFactory() for _ in range(4)], facilities, strict=True):
        for guess in WRONG:
            with pytest.raises(ServiceError):
                _request(account, facility, guess, ip="203.0.113.5")
    assert _evaluated(ip_address="203.0.113.5") == 8
    assert LinkAttempt.objects.filter(reason="locked").count() == 1  # the first one's sixth
    assert LinkAttempt.objects.filter(reason="address_locked").count() == 24 - 8 - 1
    with pytest.raises(ServiceError, match="一時的に停止"):
        _request(UserFactory(), facilities[0], "0987", ip="203.0.113.5")
    # Another address is not held back by this one.
    assert _request(UserFactory(), facilities[0], "0987", ip="198.51.100.9").state == "pending"


def test_old_guesses_leave_the_window(monkeypatch):
    facility = FacilityFactory(kind="judo", account_last4="0987")
    start = time.time()
    with override_settings(RATE_LIMITS={"facility_link_facility": "2/24h"}):
        for guess in WRONG[:2]:
            with pytest.raises(ServiceError):
                _request(UserFactory(), facility, guess)
        with pytest.raises(ServiceError, match="一時的に停止") as refused:
            _request(UserFactory(), facility)
        # The refusal says when to come back: within two windows (a sliding window,
        # approximated), and then the guesses have left it.
        hours = int(re.search(r"(\d+)時間後", refused.value.message).group(1))
        assert 1 <= hours <= 48
        monkeypatch.setattr(ratelimit, "clock", lambda: start + hours * 3600)
        assert _request(UserFactory(), facility).state == "pending"


def test_a_locked_out_user_is_locked_out_of_every_facility():
    target, other = (FacilityFactory(kind="judo", account_last4=n) for n in ("0987", "0123"))
    user = UserFactory()
    with override_settings(RATE_LIMITS={"facility_link_user": "2/24h"}):
        for _ in range(2):
            with pytest.raises(ServiceError):
                _request(user, target, "1111")
        with pytest.raises(ServiceError, match="一時的に停止"):
            _request(user, other, "0123")
    assert LinkAttempt.objects.filter(user=user, reason="locked").count() == 1


def test_the_view_counts_guesses_by_the_client_address(client, settings):
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    settings.RATE_LIMITS = {"facility_link_address": "2/24h"}
    facility = FacilityFactory(kind="judo", account_last4="0987")
    for _ in range(3):
        client.force_login(UserFactory())
        response = client.post(reverse("facilities:link"),
                               {"code": facility.code, "account_last4": "1111"},
                               REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="203.0.113.7")
    assert "一時的に停止" in response.content.decode()
    assert _evaluated(ip_address="203.0.113.7") == 2


# ---------------------------------------------------------------- trusted setup


def test_add_staff_is_the_trusted_path_and_says_so_in_the_history():
    facility = FacilityFactory(kind="judo")
    user = UserFactory()
    services.add_staff(user=user, facility=facility)
    services.add_staff(user=user, facility=facility)  # idempotent
    assert Membership.objects.filter(user=user, facility=facility).count() == 1
    assert Activity.objects.filter(verb="staff_linked").count() == 1
    assert not LinkRequest.objects.exists()


def test_one_person_may_serve_annexed_facilities_and_a_facility_several_staff():
    main = FacilityFactory(kind="ama_acupuncture")
    sub = FacilityFactory(kind="ama_acupuncture", main_facility=main)
    person, colleague = UserFactory(), UserFactory()
    services.approve_link_request(link_request=_request(colleague, main),
                                  actor=make_staff(main))
    for facility in (main, sub):
        services.add_staff(user=person, facility=facility)
    assert set(selectors.facilities_for(user=person)) == {main, sub}
    assert set(selectors.facility_emails(main)) >= {person.email, colleague.email}
