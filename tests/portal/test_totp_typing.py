"""The browser tests' two-factor codes (tests/factories.py: totp_code_to_type), on a clock the
test controls: a code is never typed in the last seconds of its 30-second window (a CI run
failed with 「コードが正しくありません」 when one expired between typing and checking), nor
typed twice in one window (allauth refuses a code used again)."""

import pytest
from allauth.mfa import app_settings
from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
)

from tests.factories import TOTP_MARGIN_SECONDS, UserFactory, totp_code_to_type

PERIOD = app_settings.TOTP_PERIOD
WINDOW = 56_789_012  # a window of the 2020s


class Clock:
    """Seconds since the epoch, moved only by the waits it is asked for."""

    def __init__(self, now: float):
        self.now, self.waits = now, []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert 0 < seconds <= PERIOD, seconds  # bounded: never more than one window
        self.waits.append(seconds)
        self.now += seconds


def _code(secret: str, window: int) -> str:
    return format_hotp_value(hotp_value(secret, window))


def _type(secret: str, clock: Clock, tolerance: int = 0) -> str:
    return totp_code_to_type(secret, clock=clock, sleep=clock.sleep, tolerance=tolerance)


def test_tolerance_is_none_so_a_code_is_good_only_in_its_own_window():
    # What the helper's margin is for: allauth accepts no neighbouring window.
    assert app_settings.TOTP_TOLERANCE == 0


@pytest.mark.parametrize("into", [0, 0.5, 10, PERIOD - TOTP_MARGIN_SECONDS])
def test_a_code_with_time_left_is_typed_at_once(into):
    secret = generate_totp_secret()
    clock = Clock(WINDOW * PERIOD + into)
    assert _type(secret, clock) == _code(secret, WINDOW)
    assert clock.waits == []


@pytest.mark.parametrize("into", [PERIOD - TOTP_MARGIN_SECONDS + 0.001, PERIOD - 2, 29.999])
def test_a_code_about_to_expire_is_not_typed_the_next_one_is(into):
    """The CI failure: a code made at the end of its window. The helper waits for the next
    window to begin (exactly the time left) and types that window's code."""
    secret = generate_totp_secret()
    clock = Clock(WINDOW * PERIOD + into)
    code = _type(secret, clock)
    assert clock.waits == [pytest.approx(PERIOD - into, abs=1e-6)]
    assert code == _code(secret, WINDOW + 1) != _code(secret, WINDOW)
    assert clock.now == pytest.approx((WINDOW + 1) * PERIOD, abs=1e-6)
    left = (WINDOW + 2) * PERIOD - clock.now
    assert left >= TOTP_MARGIN_SECONDS


def test_a_second_log_in_in_the_same_window_waits_for_a_new_code():
    secret = generate_totp_secret()
    clock = Clock(WINDOW * PERIOD + 3)
    first = _type(secret, clock)
    clock.now += 4  # the second log-in, 4 seconds later
    second = _type(secret, clock)
    assert first == _code(secret, WINDOW) and second == _code(secret, WINDOW + 1)
    assert clock.waits == [pytest.approx(PERIOD - 7)]
    # Another account's authenticator in that window is not held up.
    other = generate_totp_secret()
    assert _type(other, clock) == _code(other, WINDOW + 1)
    assert len(clock.waits) == 1


def test_a_second_log_in_near_the_end_of_the_next_window_waits_twice_at_most_one_window_each():
    secret = generate_totp_secret()
    clock = Clock(WINDOW * PERIOD + 27)
    assert _type(secret, clock) == _code(secret, WINDOW + 1)
    clock.now += PERIOD - 2  # 28 s into window + 1: its code was typed and is expiring
    assert _type(secret, clock) == _code(secret, WINDOW + 2)
    assert clock.waits == [pytest.approx(3), pytest.approx(2)]


def test_with_a_tolerance_a_second_log_in_types_the_next_windows_code_without_waiting():
    """The browser tests run with MFA_TOTP_TOLERANCE 1: the next window's code is accepted
    now, so a second log-in in one window need not wait for it."""
    secret = generate_totp_secret()
    clock = Clock(WINDOW * PERIOD + 3)
    assert _type(secret, clock, tolerance=1) == _code(secret, WINDOW)
    clock.now += 4
    assert _type(secret, clock, tolerance=1) == _code(secret, WINDOW + 1)
    assert clock.waits == []
    # A third in the same window: both codes accepted now are used; it waits for the next.
    assert _type(secret, clock, tolerance=1) == _code(secret, WINDOW + 2)
    assert clock.waits == [pytest.approx(PERIOD - 7)]


@pytest.mark.parametrize("into", [PERIOD - TOTP_MARGIN_SECONDS + 0.001, 29.999])
def test_with_a_tolerance_a_code_near_the_end_of_its_window_is_still_accepted_long_enough(into):
    # With a tolerance of 1 the current window's code is accepted for another whole window.
    secret = generate_totp_secret()
    clock = Clock(WINDOW * PERIOD + into)
    assert _type(secret, clock, tolerance=1) == _code(secret, WINDOW)
    assert clock.waits == []


@pytest.mark.django_db
def test_with_a_tolerance_of_one_allauth_accepts_two_codes_typed_in_one_window(settings):
    settings.MFA_TOTP_TOLERANCE = 1
    user = UserFactory()
    secret = generate_totp_secret()
    totp = TOTP.activate(user, secret)
    first, second = totp_code_to_type(secret), totp_code_to_type(secret)
    assert first != second
    assert totp.validate_code(first) and totp.validate_code(second)
    assert not totp.validate_code(first)


@pytest.mark.django_db
def test_the_code_typed_is_one_allauth_accepts_on_the_real_clock():
    user = UserFactory()
    secret = generate_totp_secret()
    totp = TOTP.activate(user, secret)
    code = totp_code_to_type(secret)
    assert totp.validate_code(code)
    # allauth refuses the same code again in its window: why a second log-in waits (above).
    assert not totp.validate_code(code)
