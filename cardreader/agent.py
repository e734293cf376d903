"""The counter's local side (runs on the facility's PC, next to the reader): reads the card
with `cardreader.reader` and asks the portal's counter API to confirm the qualification.

    client = PortalClient(base_url, login_id, password)
    answer = check_card(client, reader_name, pin=None)           # 目視 (face) mode
    answer = check_card(client, reader_name, pin=ask_pin)        # PIN mode (ask_pin() -> str)
    serve_counter(client, reader_name, ask_pin)                  # the counter page's checks

No Django: only the standard library (urllib, json) and the reader module. Neither the PIN,
the certificate nor the answer is logged; errors are `AgentError` (with a Japanese message)
or the reader's `CardError`.
"""

import base64
import contextlib
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field

from cardreader import reader
from cardreader.apdu import CardError

logger = logging.getLogger(__name__)

TIMEOUT = 15  # seconds for one HTTP call


class AgentError(Exception):
    """The portal refused or could not be reached: `code` and a Japanese `message`."""

    def __init__(self, code: str, message: str, status: int = 0):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


@dataclass
class PortalClient:
    base_url: str
    login_id: str
    password: str = field(repr=False)
    _token: str = field(default="", repr=False)
    _expires: float = 0.0

    def _post(self, path: str, payload: dict, *, authorised: bool = True) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if authorised:
            headers["Authorization"] = f"Bearer {self.token()}"
        url = self.base_url.rstrip("/") + path
        if not url.startswith(("https://", "http://")):
            raise AgentError("bad_url", "ポータルのURLは https:// で始めてください。")
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked above
            url, data=json.dumps(payload).encode(),
            headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
                return json.loads(response.read().decode())
        except urllib.error.HTTPError as error:
            try:
                body = json.loads(error.read().decode())
            except (ValueError, UnicodeDecodeError):
                body = {}
            if error.code == 401 and authorised and self._token:
                self._token = ""  # expired: the caller may try once more
            raise AgentError(body.get("error", "http_error"),
                             body.get("message", f"ポータルがエラーを返しました（{error.code}）。"),
                             error.code) from None
        except (urllib.error.URLError, TimeoutError, OSError) as error:
            raise AgentError("unreachable", "ポータルに接続できません。ネットワークを確認してください。"
                             ) from error

    def token(self) -> str:
        if not self._token or time.monotonic() > self._expires:
            answer = self._post("/api/counter/token",
                                {"login_id": self.login_id, "password": self.password},
                                authorised=False)
            # Renewed a minute before the portal's expiry.
            self._token, self._expires = answer["token"], time.monotonic() + 13 * 60
        return self._token

    def challenge(self) -> bytes:
        return base64.b64decode(self._post("/api/counter/challenge", {})["challenge"])

    def confirm(self, reading: reader.CardReading, *, challenge: bytes | None,
                request: int | None = None, check: int | None = None) -> dict:
        payload: dict = {"certificate": base64.b64encode(reading.certificate).decode(),
                         "mode": reading.mode}
        if reading.signature is not None:
            payload["challenge"] = base64.b64encode(challenge or b"").decode()
            payload["signature"] = base64.b64encode(reading.signature).decode()
        if request is not None:
            payload["request"] = request
        if check is not None:
            return self._post(f"/api/counter/checks/{check}/confirm", payload)
        return self._post("/api/counter/confirm", payload)

    def next_check(self) -> dict | None:
        """The check the counter page asked of this device account (None: none)."""
        return self._post("/api/counter/checks/next", {}).get("check")

    def fail_check(self, check: int, error: CardError) -> None:
        payload: dict = {"error": error.code}
        if getattr(error, "tries_left", None) is not None:
            payload["tries_left"] = error.tries_left
        self._post(f"/api/counter/checks/{check}/fail", payload)


def check_card(client: PortalClient, reader_name: str, *, pin: Callable[[], str] | None,
               check: int | None = None, request: int | None = None,
               timeout: float = reader.DEFAULT_WAIT) -> dict:
    """Read the card on the reader and confirm it: the portal's answer. PIN mode when `pin`
    is given (called once the card is there, so the patient types it at that moment)."""
    challenge = client.challenge() if pin is not None else None
    reading = reader.read_card(reader_name, pin=pin() if pin is not None else None,
                               challenge=challenge, timeout=timeout)
    return client.confirm(reading, challenge=challenge, check=check, request=request)


def serve_counter(client: PortalClient, reader_name: str, ask_pin: Callable[[], str], *,
                  poll: float = 1.0, stop: Callable[[], bool] = lambda: False,
                  on_result: Callable[[dict, dict | None, Exception | None], None] | None = None,
                  timeout: float = reader.DEFAULT_WAIT) -> None:
    """Wait for checks started on the counter page and do each (until `stop()`): the result
    goes to the portal, which shows it on that page."""
    while not stop():
        try:
            check = client.next_check()
        except AgentError as error:
            if on_result:
                on_result({}, None, error)
            time.sleep(poll * 5)
            continue
        if check is None:
            time.sleep(poll)
            continue
        try:
            answer = check_card(client, reader_name,
                                pin=ask_pin if check["mode"] == "pin" else None,
                                check=check["id"], timeout=timeout)
        except CardError as error:
            with contextlib.suppress(AgentError):  # the page will time out the check
                client.fail_check(check["id"], error)
            if on_result:
                on_result(check, None, error)
        except AgentError as error:
            if on_result:
                on_result(check, None, error)
        else:
            if on_result:
                on_result(check, answer, None)
