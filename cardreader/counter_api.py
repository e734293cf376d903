"""The counter page's checks, for the local agent (`manage.py counter --agent`):

    POST /api/counter/checks/next            (Bearer) {}      → {check: {id, mode} | null}
    POST /api/counter/checks/<id>/confirm    (Bearer) as /api/counter/confirm → its answer
    POST /api/counter/checks/<id>/fail       (Bearer) {error: code, tries_left?: int} → {}

Authentication, bounds, rate limits and refusals are those of `cardreader.api`; a confirmation
is made by the same service (`services.confirm_qualification`) and its answer shown once on
the page that started the check (`cardreader.counter`)."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from portal.errors import ServiceError

from . import counter, services
from .api import _answer, _bad, _base64, _device_account, _endpoint, _json_body, _request_number
from .certificates import MAX_CERTIFICATE_BYTES
from .models import Endpoint

MAX_SIGNATURE_BYTES = 1024
CHECK_ENDPOINT = Endpoint.CHECK  # the log's name for the check calls (next, fail)


def _check_id(value: str) -> str:
    if not value.isalnum() or len(value) > 40:
        raise _bad("check_invalid", "確認の番号が正しくありません。")
    return value


def _gone(error: ServiceError):
    return services.CounterRefused("check_gone", error.message, 404)


@_endpoint(CHECK_ENDPOINT)
def next_check(request: HttpRequest, context: dict) -> JsonResponse:
    account = _device_account(request, context, CHECK_ENDPOINT)
    check = counter.next_check(device_account=account)
    return _answer({"check": {"id": check.id, "mode": check.mode} if check else None})


@csrf_exempt  # bearer token only, like the rest of the counter API
def confirm_check(request: HttpRequest, check_id: str) -> JsonResponse:
    @_endpoint(Endpoint.CONFIRM)
    def handle(request: HttpRequest, context: dict) -> JsonResponse:
        account = _device_account(request, context, Endpoint.CONFIRM)
        data = _json_body(request, {"certificate", "mode", "challenge", "signature", "request"})
        mode = data.get("mode")
        if mode not in counter.MODES:
            raise _bad("mode_invalid", "mode は \"pin\" か \"face\" を指定してください。")
        context["mode"] = mode
        certificate = _base64(data, "certificate", MAX_CERTIFICATE_BYTES)
        if certificate is None:
            raise _bad("field_invalid", "certificate（カードの電子証明書、Base64）がありません。")
        identifier = _check_id(check_id)
        try:
            check = counter.reading_check(device_account=account, check_id=identifier)
        except ServiceError as error:
            raise _gone(error) from None
        mismatch = counter.mode_mismatch(check, mode)
        if mismatch:
            # Refused before the card is confirmed or counted; the page says why.
            counter.refuse_check(device_account=account, check_id=identifier, message=mismatch)
            raise services.CounterRefused("mode_mismatch", mismatch, 403)
        try:
            confirmed = services.confirm_qualification(
                device_account=account, certificate=certificate, mode=mode,
                challenge=_base64(data, "challenge", 64),
                signature=_base64(data, "signature", MAX_SIGNATURE_BYTES),
                client_request=_request_number(data))
        except services.CounterRefused as refused:
            # The page says why (the portal's own words: nothing about the patient).
            counter.refuse_check(device_account=account, check_id=identifier,
                                 message=refused.message)
            raise
        counter.complete_check(device_account=account, check_id=identifier,
                               answer=confirmed.answer)
        return _answer(confirmed.answer)

    return handle(request)


@csrf_exempt
def fail_check(request: HttpRequest, check_id: str) -> JsonResponse:
    @_endpoint(CHECK_ENDPOINT)
    def handle(request: HttpRequest, context: dict) -> JsonResponse:
        account = _device_account(request, context, CHECK_ENDPOINT)
        data = _json_body(request, {"error", "tries_left"})
        code = data.get("error")
        if not isinstance(code, str) or not code.isascii() or len(code) > 40:
            raise _bad("field_invalid", "error を文字列で送ってください。")
        tries = data.get("tries_left")
        try:
            counter.fail_check(device_account=account, check_id=_check_id(check_id), code=code,
                               tries_left=tries if isinstance(tries, int) else None)
        except ServiceError as error:
            raise _gone(error) from None
        return _answer({})

    return handle(request)
