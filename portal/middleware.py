"""Requests that no page can answer, refused before any view sees them."""

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NUL_MESSAGE = "リクエストに使用できない文字（NUL）が含まれているため、処理できませんでした。"


def _has_nul(request: HttpRequest) -> bool:
    if "\x00" in request.path or "\x00" in request.path_info:
        return True
    parameters = [request.GET]
    # Only form bodies are parsed here; any other body is left for its view to read.
    if request.method == "POST" and request.content_type in _FORM_TYPES:
        parameters += [request.POST, request.FILES]
    for query in parameters:
        for key, values in query.lists():
            if "\x00" in key:
                return True
            for value in values:
                text = value if isinstance(value, str) else getattr(value, "name", "") or ""
                if "\x00" in text:
                    return True
    return False


class RejectNulBytes:
    """A NUL byte in the path or a parameter answers 400: PostgreSQL cannot store or compare
    a string holding one, and the query would fail with a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _has_nul(request):
            return HttpResponseBadRequest(NUL_MESSAGE, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


class PrivateResponsesNotStored:
    """Every answer to a signed-in user — マイページ, the facility pages, payments, bank
    accounts, receipts, decision notices, letters, exports, the admin — is `private,
    no-store`: no shared cache keeps it and the browser writes none of it to disk (nor
    shows it again from its history after a log-out). Public pages (the public list, the
    simulator, static files) keep the caching they had. Placed after the authentication
    middleware (it reads request.user) and before every middleware that may answer for a
    signed-in user (two-factor redirects), so it sees their answers too."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            mark_private(response)
        return response


PRIVATE = "private, no-store"


def mark_private(response: HttpResponse) -> HttpResponse:
    """`Cache-Control: private, no-store` on `response`, in place of whatever it said
    before (a max-age or `public` would let a cache keep it)."""
    response["Cache-Control"] = PRIVATE
    return response
