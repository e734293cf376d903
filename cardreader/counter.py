"""Checks started on the counter page (カウンター) and done by the facility's local agent
(`manage.py counter --agent`): staff choose a device account and the way of confirming the
holder (暗証番号 or 目視); the agent on that device's PC picks the check up, reads the card and
confirms it through the portal; the page shows the answer, large.

A check and its answer live in the cache only, for CHECK_SECONDS: the answer holds the
patient's qualification, which the portal shows once and does not keep (the confirmation
itself is logged and counted by `cardreader.services`, with a keyed hash only). One check
waits per device account at a time; a newer one replaces it.
"""

import secrets
import string
from dataclasses import dataclass

from django.core.cache import cache
from django.http import Http404
from django.utils import timezone

from facilities.models import DeviceAccount, Facility
from portal.errors import ServiceError

from .apdu import CardError

CHECK_SECONDS = 600
MODES = {"pin": "暗証番号", "face": "目視（顔写真で確認）"}


def _key(check_id: str) -> str:
    return f"counter-check:{check_id}"


def _waiting_key(device_account_id: int) -> str:
    return f"counter-waiting:{device_account_id}"


@dataclass(frozen=True)
class Check:
    id: str
    facility_id: int
    device_account_id: int
    device_label: str
    mode: str
    state: str  # waiting · reading · done · failed
    started_at: str
    answer: dict | None = None
    error_code: str = ""
    error_message: str = ""

    @property
    def mode_label(self) -> str:
        return MODES.get(self.mode, self.mode)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")


def _save(check: Check) -> Check:
    cache.set(_key(check.id), check.__dict__, CHECK_SECONDS)
    return check


def _load(check_id: str) -> Check | None:
    if not isinstance(check_id, str) or not check_id.isalnum() or len(check_id) > 40:
        return None
    data = cache.get(_key(check_id))
    return Check(**data) if data else None


def device_accounts_for(facility: Facility):
    return DeviceAccount.objects.filter(facility=facility, is_active=True,
                                        ended_at__isnull=True).order_by("number")


CHECK_ID_LETTERS = string.ascii_lowercase
CHECK_ID_LENGTH = 28  # 28 letters: over 130 random bits


def new_check_id() -> str:
    """Letters only: the id travels in URLs and so in request logs, and a hex id holds twelve
    decimal digits in a row (what a 12-digit individual number looks like to a log scanner)
    about once in a hundred."""
    return "".join(secrets.choice(CHECK_ID_LETTERS) for _ in range(CHECK_ID_LENGTH))


def start_check(*, facility: Facility, device_account_id: int, mode: str) -> Check:
    account = device_accounts_for(facility).filter(pk=device_account_id).first()
    if account is None:
        raise ServiceError("この施設の有効な資格確認アカウントを選んでください。", "device_account")
    if mode not in MODES:
        raise ServiceError("本人確認の方法を選んでください。", "mode")
    check = _save(Check(id=new_check_id(), facility_id=facility.pk,
                        device_account_id=account.pk,
                        device_label=f"端末{account.number}（{account.login_id}）", mode=mode,
                        state="waiting", started_at=timezone.now().isoformat()))
    cache.set(_waiting_key(account.pk), check.id, CHECK_SECONDS)
    return check


def check_for(*, facility: Facility, check_id: str) -> Check:
    """A check of this facility (404 for another facility's or an expired one)."""
    check = _load(check_id)
    if check is None or check.facility_id != facility.pk:
        raise Http404("確認が見つかりません")
    return check


def next_check(*, device_account: DeviceAccount) -> Check | None:
    """The check waiting for this device account, now being read (None: nothing waits)."""
    check_id = cache.get(_waiting_key(device_account.pk))
    if not check_id:
        return None
    cache.delete(_waiting_key(device_account.pk))
    check = _load(check_id)
    if check is None or check.state != "waiting":
        return None
    return _save(Check(**{**check.__dict__, "state": "reading"}))


def reading_check(*, device_account: DeviceAccount, check_id: str) -> Check:
    """The check this device account is doing: picked up by `next_check` and not finished
    (ServiceError: none such, timed out, not picked up, or already done or failed — a
    finished check's answer on the page is never replaced)."""
    check = _load(check_id)
    if check is None or check.device_account_id != device_account.pk:
        raise ServiceError("この確認はありません（時間切れの可能性があります）。")
    if check.state != "reading":
        raise ServiceError("この確認は読み取り中ではありません（終了済みか、まだ始まっていません）。")
    return check


def mode_mismatch(check: Check, mode: str) -> str | None:
    """Why a check may not be completed in `mode` (docs/domain.md §8: a check keeps the mode it was
    started with), or None."""
    if mode == check.mode:
        return None
    return (f"この確認は「{check.mode_label}」で始められたため、"
            f"「{MODES.get(mode, mode)}」では完了できません。カウンター画面から確認をやり直してください。")


def complete_check(*, device_account: DeviceAccount, check_id: str, answer: dict) -> Check:
    check = reading_check(device_account=device_account, check_id=check_id)
    return _save(Check(**{**check.__dict__, "state": "done", "answer": answer}))


def _card_messages() -> dict[str, str]:
    messages = {}
    stack = [CardError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if getattr(cls, "code", None) and getattr(cls, "message", None):
            messages[cls.code] = cls.message
    return messages


def fail_check(*, device_account: DeviceAccount, check_id: str, code: str,
               tries_left: int | None = None) -> Check:
    """The agent could not read the card: why, for the page, in the reader's own wording
    (the page shows no text the agent sends; nothing about the patient)."""
    from .apdu import WrongPin

    check = reading_check(device_account=device_account, check_id=check_id)
    if code == WrongPin.code and isinstance(tries_left, int) and 0 < tries_left < 10:
        text = WrongPin(tries_left).message
    else:
        text = _card_messages().get(code) or CardError.message
    return _save(Check(**{**check.__dict__, "state": "failed", "error_code": code[:40],
                          "error_message": text[:300]}))


def refuse_check(*, device_account: DeviceAccount, check_id: str, message: str) -> Check:
    """The portal refused the card (expired certificate, not in the registry, ...): its own
    message for the page."""
    check = reading_check(device_account=device_account, check_id=check_id)
    return _save(Check(**{**check.__dict__, "state": "failed", "error_code": "refused",
                          "error_message": message[:300]}))
