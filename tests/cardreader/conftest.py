"""The real PC/SC stack for the card tests: Debian's pcscd with vsmartcard's virtual reader
(vpcd), and our emulated JPKI card put on it. pyscard reaches the card through pcscd exactly as
it reaches one on a hardware reader.

    pcscd      (session) pcscd running with the two "Virtual PCD" readers: started here with
               `pcscd --foreground` when it is not already running, and stopped at the end if
               it was started here. Gives the reader names.
    card_slot  the first virtual reader's slot: `card_slot.insert(certificate, pin=..., ...)`
               puts a `JpkiCard` on it, `card_slot.remove()` takes it off; whatever is on it
               is taken off when the test ends.
    jpki_card  a card already on that reader, with `default_certificate()` and `TEST_PIN`.

Other test packages (end-to-end tests) reuse them by importing them into their conftest:
`from tests.cardreader.conftest import card_slot, jpki_card, pcscd  # noqa: F401`.

In CI (CI=true) a missing pcscd, vpcd or pyscard fails these tests; elsewhere they skip and
say what is missing. Several pytest processes (xdist) share one pcscd and its two readers.
`scripts/test` puts every test that uses pcscd on one xdist worker (the group `cardreader`,
tests/parallel.py); should two processes use it anyway, the locks are per test, never per
session: a lock file per vpcd port is held by `card_slot` from a test's start to its end (one
test's card on a reader at a time), and pcscd is checked and started under a short lock of its
own. Every process using pcscd holds a shared lock on a third file for its session; the last
of them to end stops the pcscd a test process started (one found running is left alone). pcscd
started here logs at debug level; a failed card test carries the end of that log in its report.
"""

import fcntl
import importlib.util
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.cardreader.jpki_card import OTHER_READER, READER, VPCD_PORT, JpkiCard
from tests.cardreader.pki import CardCertificate, card_certificate
from tests.conftest import services_required

READERS = (READER, OTHER_READER)
STARTUP_SECONDS = 15
POWER_UP_SECONDS = 5
INSERTIONS = 3
LOCKS = Path(tempfile.gettempdir())
PCSCD_LOG: Path | None = None  # pcscd's log, when pcscd was started by this process
PCSCD_PID = LOCKS / "portal-tests-pcscd.pid"  # the pcscd a test process started


def default_certificate() -> CardCertificate:
    """A card valid for a good while yet (no renewal warning, no grace period)."""
    return card_certificate(1001, not_after=date.today() + timedelta(days=3 * 365))


def _unavailable(reason: str):
    if services_required():
        pytest.fail(f"{reason} (CI runs the card tests: nothing here may skip)")
    pytest.skip(reason)


def _pcscd_binary() -> str | None:
    return shutil.which("pcscd", path=os.pathsep.join(
        [os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))


def _running_readers() -> list[str] | None:
    """The readers pcscd knows, or None when no pcscd answers."""
    from cardreader.reader import ReaderUnavailable, list_readers

    try:
        return list_readers()
    except ReaderUnavailable:
        return None


def _wait_for_readers(process: subprocess.Popen, log: Path) -> list[str]:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        readers = _running_readers()
        if readers is not None and all(name in readers for name in READERS):
            return readers
        if process.poll() is not None:
            break
        time.sleep(0.1)  # a daemon starting up: nothing to wait on but its socket
    output = log.read_text(errors="replace")[-2000:]
    process.terminate()
    process.wait(timeout=10)
    pytest.fail(f"pcscd did not come up with the Virtual PCD readers:\n{output}")


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    if importlib.util.find_spec("smartcard") is None:
        _unavailable("pyscard is not installed (scripts/bootstrap test,cardreader)")
    started = None
    # Checked and started under a short exclusive lock (`starting`); each user then holds a
    # shared lock on `users` for its session. Nobody waits for another process's session:
    # at its end each process only tries the exclusive lock on `users`; the one that gets it
    # is the last user and stops the pcscd a test process started (its pid in PCSCD_PID).
    with open(LOCKS / "portal-tests-pcscd.lock", "a") as users, \
            open(LOCKS / "portal-tests-pcscd-start.lock", "a") as starting:
        fcntl.flock(starting, fcntl.LOCK_EX)
        try:
            readers = _running_readers()
            if readers is None:
                binary = _pcscd_binary()
                if binary is None:
                    _unavailable("pcscd is neither running nor installed "
                                 "(Debian: pcscd, vsmartcard-vpcd)")
                global PCSCD_LOG
                log = PCSCD_LOG = tmp_path_factory.mktemp("pcscd") / "pcscd.log"
                with open(log, "wb") as output:
                    started = subprocess.Popen([binary, "--foreground", "--debug"],
                                               stdout=output, stderr=subprocess.STDOUT)
                readers = _wait_for_readers(started, log)
                PCSCD_PID.write_text(str(started.pid))
            fcntl.flock(users, fcntl.LOCK_SH)
        finally:
            fcntl.flock(starting, fcntl.LOCK_UN)
        try:
            if not all(name in readers for name in READERS):
                _unavailable(f"pcscd shows no Virtual PCD readers (vsmartcard-vpcd): {readers}")
            yield readers
        finally:
            fcntl.flock(starting, fcntl.LOCK_EX)  # no process is checking meanwhile
            try:
                fcntl.flock(users, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # still used by another pytest process: the last one stops it
            else:
                _stop_the_tests_pcscd(started)
            finally:
                fcntl.flock(starting, fcntl.LOCK_UN)


def _stop_the_tests_pcscd(started: subprocess.Popen | None) -> None:
    """Stops the pcscd a test process started (this one's, or another's that ended first);
    a pcscd the tests found running is left alone."""
    if started is not None:
        started.terminate()
        started.wait(timeout=10)
        PCSCD_PID.unlink(missing_ok=True)
        return
    try:
        pid = int(PCSCD_PID.read_text())
        command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (FileNotFoundError, ValueError):
        PCSCD_PID.unlink(missing_ok=True)
        return
    if command[1:3] == [b"--foreground", b"--debug"] and command[0].endswith(b"pcscd"):
        descriptor = os.pidfd_open(pid)
        try:
            os.kill(pid, signal.SIGTERM)
            select.select([descriptor], [], [], 10)  # readable once the process has ended
        finally:
            os.close(descriptor)
    PCSCD_PID.unlink(missing_ok=True)


def _wait_for_state(reader_name: str, settled, timeout: float) -> int:
    """Follows pcscd's view of the slot until `settled(state)` holds or the time is up;
    returns the last state seen."""
    from smartcard import scard

    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    try:
        known = scard.SCARD_STATE_UNAWARE
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            wait = max(0, int((deadline - time.monotonic()) * 1000))
            hresult, states = scard.SCardGetStatusChange(context, wait, [(reader_name, known)])
            if hresult != scard.SCARD_S_SUCCESS:
                break
            known = states[0][1] & ~scard.SCARD_STATE_CHANGED
            if settled(known):
                break
        return known
    finally:
        scard.SCardReleaseContext(context)


def wait_until_empty(reader_name: str, timeout: float = 5.0) -> None:
    """Until pcscd has seen the slot empty (it polls vpcd a few times a second): a card put
    on the reader next is then a new card to it, and a test expecting none finds none."""
    from smartcard import scard

    state = _wait_for_state(reader_name, lambda s: s & scard.SCARD_STATE_EMPTY, timeout)
    if not state & scard.SCARD_STATE_EMPTY:
        raise AssertionError(f"pcscd still sees a card on {reader_name}")


def wait_until_powered(reader_name: str, timeout: float = POWER_UP_SECONDS) -> bool:
    """Until pcscd has powered the card just put on the reader (present, not mute). False
    when it stayed mute or unseen: pcscd's power-up raced the card's arrival."""
    from smartcard import scard

    def powered(state: int) -> bool:
        return bool(state & scard.SCARD_STATE_PRESENT and not state & scard.SCARD_STATE_MUTE)

    return powered(_wait_for_state(reader_name, powered, timeout))


def pcscd_log_tail(lines: int = 80) -> str | None:
    if PCSCD_LOG is None or not PCSCD_LOG.exists():
        return None
    return "\n".join(PCSCD_LOG.read_text(errors="replace").splitlines()[-lines:])


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and "pcscd" in getattr(item, "fixturenames", ()):
        tail = pcscd_log_tail()
        if tail:
            report.sections.append(("pcscd log (last lines)", tail))
    return report


class CardSlot:
    """A virtual reader's slot, for one test: one emulated card on it at a time. `hold()`
    takes the reader for the test (another pytest process's test waits until `release()`)."""

    def __init__(self, reader_name: str = READER, port: int = VPCD_PORT):
        self.reader = reader_name
        self.port = port
        self.card: JpkiCard | None = None
        self._lock = None

    def hold(self) -> None:
        if self._lock is None:
            self._lock = open(LOCKS / f"portal-tests-vpcd-{self.port}.lock", "a")  # noqa: SIM115
            fcntl.flock(self._lock, fcntl.LOCK_EX)  # another process's test ends first

    def release(self) -> None:
        self.remove()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def insert(self, certificate: CardCertificate | None = None, **options) -> JpkiCard:
        """Puts a card on the reader (options: `pin`, `jpki`, `remove_after_reads`, as
        `JpkiCard` takes them); a card already there is taken off first."""
        return self.put_back(JpkiCard(certificate or default_certificate(), port=self.port,
                                      **options))

    def put_back(self, card: JpkiCard) -> JpkiCard:
        """Puts a card (one taken off earlier, its PIN counter as it was) on the reader."""
        self.remove()
        self.hold()
        for _ in range(INSERTIONS):
            self.card = card.insert()
            if wait_until_powered(self.reader):
                return card
            # pcscd polled the card before it was ready and marked it mute: a person takes
            # such a card off and puts it back, and so do we.
            self.card.remove()
            self.card = None
            wait_until_empty(self.reader)
        raise AssertionError(f"pcscd could not power the card on {self.reader} after "
                             f"{INSERTIONS} insertions:\n{pcscd_log_tail() or ''}")

    def remove(self, *, wait: bool = True) -> None:
        """Takes the card off; `wait=False`: without waiting for pcscd to notice (a card put
        back at once, within one of its polls)."""
        if self.card is not None:
            self.card.remove()
            self.card = None
            if wait:
                wait_until_empty(self.reader)


@pytest.fixture
def card_slot(pcscd):
    slot = CardSlot()
    slot.hold()
    yield slot
    slot.release()


@pytest.fixture
def jpki_card(card_slot) -> JpkiCard:
    return card_slot.insert()
