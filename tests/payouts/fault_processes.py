"""The processes of the fault tests (tests/payouts/test_faults.py): real Celery workers
(`celery -A tests.payouts.fault_app worker`), a Redis server of the test's own that it may
restart, and the events the workers write. Plain standard library: the workers' settings
import it before Django is set up."""

import contextlib
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
WORKER_STARTS_WITHIN = 60  # seconds, on a loaded CI machine
EVENT_WITHIN = 30


def broker_transport_options(key_prefix: str, visibility_timeout: int = 2) -> dict:
    """The same for the workers and for the test that sends them tasks."""
    return {
        "global_keyprefix": key_prefix,
        # A message taken by a worker that died is delivered again after 2 s (Kombu's
        # default is an hour); each run of the tests takes a fraction of that to build.
        "visibility_timeout": visibility_timeout,
        "unacked_restore_interval": 1,
        "unacked_restore_throttle": 1,
    }


def forget_keys(broker_url: str, key_prefix: str) -> None:
    """Remove every key of this test session (queues, bindings) from the broker."""
    import redis

    client = redis.Redis.from_url(broker_url)
    try:
        keys = list(client.scan_iter(match=key_prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class FaultError(AssertionError):
    pass


class Events:
    """The JSON lines every worker writes to one pipe (a line is written whole)."""

    def __init__(self):
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self._buffer = b""
        self.pending: list[dict] = []
        self.seen: list[dict] = []

    def _read(self, timeout: float) -> None:
        ready, _, _ = select.select([self.read_fd], [], [], max(timeout, 0))
        if not ready:
            return
        try:
            self._buffer += os.read(self.read_fd, 65536)
        except BlockingIOError:
            return
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            event = json.loads(line)
            self.pending.append(event)
            self.seen.append(event)

    def wait(self, match: Callable[[dict], bool], what: str,
             within: float = EVENT_WITHIN) -> dict:
        """The first event not yet waited for that matches (events before it stay)."""
        deadline = time.monotonic() + within
        while True:
            for index, event in enumerate(self.pending):
                if match(event):
                    return self.pending.pop(index)
            left = deadline - time.monotonic()
            if left <= 0:
                raise FaultError(f"no event {what} within {within} s")
            self._read(left)

    def drain(self) -> None:
        self._read(0)
        self.pending.clear()

    def close(self) -> None:
        for fd in (self.read_fd, self.write_fd):
            os.close(fd)

    def tail(self, count: int = 30) -> str:
        return "\n".join(json.dumps(event, ensure_ascii=False) for event in self.seen[-count:])


class Worker:
    """One `celery worker` process (solo pool unless told) in its own process group."""

    def __init__(self, name: str, *, broker_url: str, key_prefix: str, queue: str,
                 database_name: str, events: Events, directory: Path, pool: str = "solo",
                 visibility_timeout: int = 2):
        self.name, self.pool, self.events = name, pool, events
        self.fifo = directory / f"{name}.go"
        os.mkfifo(self.fifo)
        self.log_path = directory / f"{name}.log"
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.payouts.fault_settings",
            "FAULT_BROKER_URL": broker_url,
            "FAULT_KEY_PREFIX": key_prefix,
            "FAULT_QUEUE": queue,
            "FAULT_DATABASE_NAME": database_name,
            "FAULT_EVENTS_FD": str(events.write_fd),
            "FAULT_PLAN_DIR": str(directory / "plans"),
            "FAULT_GO_FIFO": str(self.fifo),
            "FAULT_WORKER": name,
            "FAULT_VISIBILITY_TIMEOUT": str(visibility_timeout),
        }
        env.pop("CELERY_BROKER_URL", None)
        command = [sys.executable, "-m", "celery", "-A", "tests.payouts.fault_app", "worker",
                   f"--pool={pool}", "--concurrency=1", "--without-mingle",
                   "--without-gossip", "--without-heartbeat", "--loglevel=INFO",
                   f"--hostname={name}@faults", "--queues", queue]
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, pass_fds=(events.write_fd,),
                start_new_session=True)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self) -> None:
        self.events.wait(lambda e: e["event"] == "ready" and e["worker"] == self.name,
                         f"ready from {self.name}", within=WORKER_STARTS_WITHIN)

    def go(self) -> None:
        """Let the paused task go on."""
        fd = os.open(self.fifo, os.O_WRONLY | os.O_NONBLOCK)  # ENXIO: nobody is paused
        try:
            os.write(fd, b"go\n")
        finally:
            os.close(fd)

    def kill(self) -> None:
        """kill -9: the worker and its pool processes, nothing acknowledged, no clean-up."""
        with contextlib.suppress(ProcessLookupError):  # gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def log(self, lines: int = 15) -> str:
        """The end of its log (what it said after it was ready)."""
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        said = text.split(" ready.\n", 1)[-1].splitlines()
        return f"--- {self.name} ---\n" + "\n".join(said[-lines:])


class RedisServer:
    """A Redis server of the test's own (the shared one is never restarted): the same
    binary, a free port, its data in `directory` when a restart keeps it."""

    def __init__(self, directory: Path):
        self.binary = shutil.which("redis-server")
        self.directory = directory
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.log_path = directory / "redis.log"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory), "--dbfilename",
             "faults.rdb", "--loglevel", "notice"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + WORKER_STARTS_WITHIN
        fd = self.process.stdout.fileno()
        said = b""
        while b"Ready to accept connections" not in said:
            ready, _, _ = select.select([fd], [], [], max(deadline - time.monotonic(), 0))
            data = os.read(fd, 65536) if ready else b""
            if not data:
                raise FaultError("redis-server did not start:\n" + said.decode())
            said += data
        # Keep reading its log, so that a full pipe never stops it.
        threading.Thread(target=self._copy_log, args=(fd, said), daemon=True).start()

    def _copy_log(self, fd: int, said: bytes) -> None:
        with open(self.log_path, "ab") as log:
            log.write(said)
            try:
                while data := os.read(fd, 65536):
                    log.write(data)
            except OSError:  # the server was stopped and its pipe closed under the reader
                return

    def restart(self, *, keep_data: bool) -> None:
        """SHUTDOWN SAVE (the data, unacknowledged messages included, come back) or
        SHUTDOWN NOSAVE (a Redis without persistence: they are lost), then start again."""
        import redis

        (self.directory / "faults.rdb").unlink(missing_ok=True)
        client = redis.Redis.from_url(self.url)
        try:
            client.shutdown(save=keep_data, nosave=not keep_data)
        except redis.ConnectionError:
            pass  # the server closed the connection as it went
        finally:
            client.close()
        self.process.wait(timeout=30)
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def session_names() -> tuple[str, str]:
    """A key prefix and a queue no other test or worker on the same Redis uses."""
    token = uuid.uuid4().hex[:12]
    return f"payout-faults-{token}:", f"payout-faults-{token}"
