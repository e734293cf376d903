"""The confirmation step of a form that changes money: the values typed travel from the
confirmation page back to the server signed (django.core.signing, one salt per form, a short
life), so that what is registered is what was shown; and the facts the page showed travel
with them (`shown`), so that a change made by someone else between the two steps is noticed
and the person is asked again."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from django.core import signing

# A confirmation page older than this is refused (the person types the form again).
MAX_AGE_SECONDS = 30 * 60
FIELD = "confirmation"
REFUSED = ("確認画面の有効期限が切れたか、内容が正しくありません。"
           "お手数ですが、もう一度入力してください。")
CHANGED = ("確認画面を表示している間に、この施設の登録内容が変わりました。"
           "影響をあらためて計算しましたので、もう一度ご確認ください。")


class ConfirmationRefused(Exception):
    """The signed values were altered, belong to another person or form, or are too old."""


@dataclass(frozen=True)
class Confirmation:
    values: dict[str, str]
    shown: Any


def form_values(form) -> dict[str, str]:
    """The values as typed (the form's raw data, only its own fields): bound again on the
    confirm step, so they are validated again, and shown again as typed on 「戻って修正する」."""
    return {name: form.data[name] for name in form.fields if name in form.data}


def digest(values: dict[str, str]) -> str:
    """A digest of values that must not travel readable (an account number)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True, ensure_ascii=False)
                          .encode()).hexdigest()


def sign(*, purpose: str, user, facility, values: dict[str, str], shown: Any) -> str:
    return signing.dumps(
        {"user": user.pk, "facility": facility.pk, "values": values, "shown": shown},
        salt=f"portal.confirmation.{purpose}", compress=True,
    )


def unsign(token: str, *, purpose: str, user, facility) -> Confirmation:
    try:
        payload = signing.loads(token, salt=f"portal.confirmation.{purpose}",
                                max_age=MAX_AGE_SECONDS)
    except signing.BadSignature as error:  # SignatureExpired included
        raise ConfirmationRefused(REFUSED) from error
    if (not isinstance(payload, dict) or payload.get("user") != user.pk
            or payload.get("facility") != facility.pk
            or not isinstance(payload.get("values"), dict)):
        raise ConfirmationRefused(REFUSED)
    values = {str(k): str(v) for k, v in payload["values"].items()}
    return Confirmation(values=values, shown=payload.get("shown"))


@dataclass
class Step:
    """Where a POST is in form → confirmation → registration.
    `kind`: "form" (show the form; `refused` says why when signed values were refused),
    "check" (typed values: validate and show the confirmation), "back" (「戻って修正する」:
    the form again with the values), "confirm" (「この内容で登録する」: validate again, apply if
    the effect shown still holds)."""

    kind: str
    form: Any = None
    shown: Any = None
    refused: str | None = None


def read_step(request, *, form_class, purpose: str, facility, **form_kwargs) -> Step:
    if request.method != "POST":
        return Step("form")
    if FIELD not in request.POST:
        return Step("check", form=form_class(request.POST, **form_kwargs))
    try:
        confirmation = unsign(request.POST[FIELD], purpose=purpose, user=request.user,
                              facility=facility)
    except ConfirmationRefused as refused:
        return Step("form", refused=str(refused))
    form = form_class(confirmation.values, **form_kwargs)
    if "back" in request.POST:
        return Step("back", form=form)
    return Step("confirm", form=form, shown=confirmation.shown)
