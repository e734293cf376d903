"""The counter's JSON API (docs/domain.md §8), used by the reader side on a facility's PC.

    POST /api/counter/token      {login_id, password}            → {token, expires_at}
    POST /api/counter/challenge  (Authorization: Bearer <token>)  → {challenge, expires_at}
    POST /api/counter/confirm    (Bearer) {certificate, mode, challenge?, signature?, request?}
                                 → {qualification: {...}, certificate: {...}}

Errors are {"error": code, "message": Japanese} with 400 (malformed), 401 (log-in or token),
403 (refused), 404 (not in the registry), 405 (not a POST) or 429 (rate limited, with
Retry-After). Views are thin: the body is parsed and bounded here, the rate limits are the
portal's limiter's (portal/ratelimit.py: `counter_call`, `counter_login`; counted in the cache
shared between workers when CACHE_URL is Redis), and everything else is
`cardreader.services`. No cookie is read (CSRF-exempt): a
request is authenticated by its bearer token only. See cardreader/README.md."""

import base64
import binascii
import contextlib
import json
import math
from collections.abc import Callable
from functools import wraps

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from portal import ratelimit
from portal.normalize import nfkc

from . import services
from .certificates import MAX_CERTIFICATE_BYTES
from .models import Endpoint
from .services import CounterRefused

MAX_BODY_BYTES = 16 * 1024
MAX_SIGNATURE_BYTES = 1024
MAX_LOGIN_ID = 20
MAX_PASSWORD = 200
MAX_REQUEST_NUMBER = 2**31 - 1
MALFORMED = "リクエストの形式が正しくありません。"


def _bad(code: str, message: str = MALFORMED) -> CounterRefused:
    return CounterRefused(code, message, 400)


def _answer(data: dict, status: int = 200, headers: dict | None = None) -> JsonResponse:
    response = JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})
    response["Cache-Control"] = "no-store"
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def _instant(value) -> str:
    return timezone.localtime(value).isoformat(timespec="seconds")


# ---------------------------------------------------------------- the body


def _refuse_constant(name: str):
    raise ValueError(name)


def _declared_length(request: HttpRequest) -> None:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > MAX_BODY_BYTES:
        raise _bad("body_too_large", "リクエストが大きすぎます。")


def _json_body(request: HttpRequest, allowed: set[str]) -> dict:
    """The JSON object of the body (at most MAX_BODY_BYTES, UTF-8), with no other keys."""
    if request.content_type != "application/json":
        raise _bad("json_required", "Content-Type: application/json のJSONで送ってください。")
    _declared_length(request)
    body = request.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise _bad("body_too_large", "リクエストが大きすぎます。")
    try:
        data = json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        raise _bad("json_invalid", "リクエストのJSONを読み取れませんでした。") from None
    if not isinstance(data, dict):
        raise _bad("json_invalid", "リクエストはJSONのオブジェクト（{...}）で送ってください。")
    if set(data) - allowed:
        raise _bad("field_unknown", "リクエストに使用できない項目が含まれています。")
    return data


def _text(data: dict, name: str, max_length: int) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise _bad("field_invalid", f"{name} を{max_length}文字以内の文字列で送ってください。")
    if not value.isprintable():
        raise _bad("field_invalid", f"{name} に使用できない文字が含まれています。")
    return value


def _base64(data: dict, name: str, max_bytes: int) -> bytes | None:
    value = data.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > 4 * math.ceil(max_bytes / 3):
        raise _bad("field_invalid", f"{name} はBase64の文字列で送ってください。")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _bad("field_invalid", f"{name} をBase64として読み取れませんでした。") from None


def _request_number(data: dict) -> int | None:
    value = data.get("request")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_REQUEST_NUMBER:
        raise _bad("field_invalid", f"request は0〜{MAX_REQUEST_NUMBER}の整数で送ってください。")
    return value


def _bearer(request: HttpRequest) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 200:
        raise CounterRefused("token_missing",
                             "認証トークンがありません（Authorization: Bearer ...）。", 401)
    return token


# ---------------------------------------------------------------- rate limits


def _rate_limited(retry_after: int) -> CounterRefused:
    refused = CounterRefused("rate_limited", "短時間に多くの要求がありました。"
                             f"{retry_after}秒ほど待ってから、もう一度お試しください。", 429)
    refused.retry_after = retry_after
    return refused


def _spend(scope: str, key: str) -> None:
    """One call against the scope's rates; 429 beyond them."""
    try:
        ratelimit.hit(scope, key, ratelimit.rates_for(scope))
    except ratelimit.RateLimited as limited:
        raise _rate_limited(limited.retry_after) from None


@contextlib.contextmanager
def _login_attempt(login_id: str):
    """A log-in is evaluated only while the login ID's count of failures, plus the attempts
    being evaluated, stays within `counter_login`: the attempt takes its place in the count
    atomically before the password is checked (so parallel wrong passwords never evaluate
    more than the limit) and gives it back unless the password was wrong. Beyond the limit:
    429 without evaluating, the right password included, until the window ends."""
    attempt = ratelimit.limit("counter_login", login_id, ratelimit.rates_for("counter_login"))
    if not attempt:
        raise _rate_limited(attempt.retry_after)
    failed = False
    try:
        yield
    except CounterRefused as refused:
        failed = refused.code == "invalid_credentials"
        raise
    finally:
        if not failed:
            attempt.refund()


# ---------------------------------------------------------------- the endpoints


def _endpoint(name: str) -> Callable:
    """POST only; any refusal is answered as JSON and recorded once (services record their
    own; what is refused here before them is recorded here)."""

    def decorate(handler: Callable) -> Callable:
        @csrf_exempt
        @wraps(handler)
        def view(request: HttpRequest) -> JsonResponse:
            context: dict = {"device_account": None, "mode": ""}
            try:
                if request.method != "POST":
                    raise CounterRefused("method_not_allowed", "POSTで送ってください。", 405)
                return handler(request, context)
            except CounterRefused as refused:
                if not refused.recorded:
                    services.record_call(
                        endpoint=name, outcome=refused.code, http_status=refused.status,
                        device_account=refused.device_account or context["device_account"],
                        mode=context["mode"])
                headers = {"Allow": "POST"} if refused.status == 405 else {}
                if refused.status == 429:
                    headers["Retry-After"] = str(getattr(refused, "retry_after", 60))
                return _answer({"error": refused.code, "message": refused.message},
                               refused.status, headers)

        return view

    return decorate


def _device_account(request: HttpRequest, context: dict, name: str):
    account = services.device_account_for_token(_bearer(request))
    context["device_account"] = account
    _spend("counter_call", f"{account.pk}:{name}")
    return account


@_endpoint(Endpoint.TOKEN)
def token(request: HttpRequest, context: dict) -> JsonResponse:
    data = _json_body(request, {"login_id", "password"})
    login_id = nfkc(_text(data, "login_id", MAX_LOGIN_ID))
    password = _text(data, "password", MAX_PASSWORD)
    with _login_attempt(login_id):
        issued = services.issue_token(login_id=login_id, password=password)
    return _answer({"token": issued.token, "expires_at": _instant(issued.expires_at)})


@_endpoint(Endpoint.CHALLENGE)
def challenge(request: HttpRequest, context: dict) -> JsonResponse:
    account = _device_account(request, context, Endpoint.CHALLENGE)
    _declared_length(request)  # the body says nothing and is not read; a huge one is refused
    issued = services.issue_challenge(device_account=account)
    return _answer({"challenge": base64.b64encode(issued.challenge).decode("ascii"),
                    "expires_at": _instant(issued.expires_at)})


@_endpoint(Endpoint.CONFIRM)
def confirm(request: HttpRequest, context: dict) -> JsonResponse:
    account = _device_account(request, context, Endpoint.CONFIRM)
    data = _json_body(request, {"certificate", "mode", "challenge", "signature", "request"})
    mode = data.get("mode")
    if mode not in ("pin", "face"):
        raise _bad("mode_invalid", "mode は \"pin\" か \"face\" を指定してください。")
    context["mode"] = mode
    certificate = _base64(data, "certificate", MAX_CERTIFICATE_BYTES)
    if certificate is None:
        raise _bad("field_invalid", "certificate（カードの電子証明書、Base64）がありません。")
    confirmed = services.confirm_qualification(
        device_account=account, certificate=certificate, mode=mode,
        challenge=_base64(data, "challenge", 64), signature=_base64(data, "signature",
                                                                    MAX_SIGNATURE_BYTES),
        client_request=_request_number(data))
    return _answer(confirmed.answer)
