"""A field shown masked is masked everywhere in the admin (docs/decisions.md D2.4,
portal/admin_masking.py).

The audit read a whole account number shown as ****561 back in 58 requests, one digit at a
time through `?account_number__startswith=`, watching the result count. Here:

- `probe_masked_fields(role)`, generated from `MASKED_FIELDS` (a field masked tomorrow is
  probed without a line more): every lookup Django registers for the field, the field reached
  through relations from every admin, the search (`q`) and autocomplete, list filters, every
  column's ordering, list, change, history pages and CSV exports, for one administrators'
  role. Run for every role by `tests/portal/test_permission_matrix.py`.
- the audit's attack itself, the link secret (請求口座番号下4桁), the history pages, the facility
  export, an admin that forgets to mask, and the access log.
"""

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client, RequestFactory
from django.urls import reverse

from portal import roles
from portal.admin_masking import (
    HIDDEN,
    MASKED_FIELDS,
    AdminQueryStringFilter,
    masked_fields_of,
    masked_model_fields,
    shows_whole,
)
from portal.history import NOT_SHOWN
from tests.factories import (
    FacilityFactory,
    accepted_facility,
    login_admin,
    make_admin,
    make_staff,
)

pytestmark = pytest.mark.django_db

R, A, P, V, S = (roles.REVIEWER, roles.APPROVER, roles.PAYOUT_OFFICER, roles.VIEWER,
                 roles.SYSTEM_ADMIN)
SU = "superuser"
ADMIN_ROLES = [R, A, P, V, S, SU]

# Who sees each masked field whole (and so may look it up, when it is filterable). A field
# added to MASKED_FIELDS needs its line here: the test below compares it with the roles.
SEEN_WHOLE_BY: dict[tuple[str, str], set[str]] = {
    ("payouts.bankaccount", "account_number"): {P, SU},
    ("payouts.bankaccount", "japan_post_bango"): {P, SU},
    ("payouts.paymentline", "account_number"): {P, SU},
    ("payouts.consignor", "account_number"): {P, S, SU},
    ("facilities.facility", "account_last4"): {S, SU},  # and looked up by nobody
    ("facilities.deviceaccount", "password_hash"): set(),
    ("facilities.deviceaccount", "activation_code_hash"): set(),
    ("facilities.linkrequest", "code_hash"): set(),
    ("portal.twofactorinvitation", "token_hash"): set(),
    ("cardreader.devicetoken", "digest"): set(),
    ("cardreader.challenge", "digest"): set(),
    ("mfa.authenticator", "data"): set(),
    ("portal.user", "password"): set(),
}


def admin_for(role: str):
    return make_admin(superuser=True) if role == SU else make_admin(role)


def client_for(user) -> Client:
    return login_admin(Client(), user)


# ------------------------------------------------------------------------------ the world


def _shifted(value):
    """Another value of the same shape: every digit and letter moved on by one."""
    if isinstance(value, dict):
        return {key: _shifted(each) for key, each in value.items()}
    if not isinstance(value, str):
        return value
    moved = []
    for ch in value:
        if ch.isdigit():
            moved.append(str((int(ch) + 1) % 10))
        elif "a" <= ch <= "z" or "A" <= ch <= "Z":
            base = ord("a") if ch.islower() else ord("A")
            moved.append(chr(base + (ord(ch) - base + 1) % 26))
        else:
            moved.append(ch)
    return "".join(moved)


def _texts(value) -> list[str]:
    """The strings of a secret a page must not show (those inside a JSON value too)."""
    if isinstance(value, dict):
        return [text for each in value.values() for text in _texts(each)]
    return [value] if isinstance(value, str) and len(value) >= 4 else []


def _shown(text: str, body: str) -> bool:
    """Whether the text is in the body as itself (not inside a longer number)."""
    return re.search(rf"(?<![0-9]){re.escape(text)}(?![0-9])", body) is not None


@dataclass
class Secret:
    """One masked field's value in the world: the object holding it, and the values the
    history keeps of it."""

    model: type
    field: str
    pk: int
    value: object
    history: list = field(default_factory=list)

    @property
    def entry(self):
        return masked_fields_of(self.model)[self.field]

    @property
    def label(self) -> str:
        return f"{self.model._meta.label_lower}.{self.field}"

    @property
    def typed(self) -> str:
        """The value as someone would type it into a search box or a lookup."""
        texts = _texts(self.value)
        return texts[0] if texts else str(self.value)

    def texts(self) -> list[str]:
        return [*_texts(self.value), *(t for value in self.history for t in _texts(value))]

    def change_to(self, value) -> None:
        self.model._default_manager.filter(pk=self.pk).update(**{self.field: value})


def masked_world() -> list[Secret]:
    """An object holding every masked field, each with a value of its own, and a history
    where the model keeps one (the value changed once, so that the history shows a change)."""
    from allauth.mfa.models import Authenticator
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from cardreader.models import Challenge, DeviceToken
    from facilities.models import DeviceAccount
    from payouts import services as payout_services
    from payouts.banking import validate_account
    from payouts.models import BankAccount, Consignor, PaymentLine
    from portal.models import User
    from tests.payouts.helpers import (
        eligible,
        lump_sum,
        officers,
        set_consignor,
        transfer_day,
        with_account,
    )

    # Values with a leading zero: a database id, which may be any number, never shows as one.
    facility, staff, _admin = accepted_facility(kind="judo", account_last4="0317")
    facility.account_last4 = "0864"
    facility.save()  # the history: 0317 → 0864
    bank_account = payout_services.save_bank_account(
        user=staff, facility=facility, account=validate_account("0001", "001", "1", "3456561",
                                                                "ｱｵﾊﾞ ﾀﾛｳ"),
        kigo="13450", bango="34565611")
    paid = FacilityFactory(kind="clinic")
    with_account(paid, number="5678123")
    eligible(paid, account=False)
    creator, _ = officers()
    payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    line = PaymentLine.objects.get(facility=paid)
    set_consignor()  # 7654321
    consignor = Consignor.objects.get()
    consignor.account_number = "2086429"
    consignor.save()  # the history: 7654321 → 2086429
    device = DeviceAccount.objects.filter(facility=facility).first()
    DeviceAccount.objects.filter(pk=device.pk).update(
        password_hash=make_password("Device-pass-42"),
        activation_code_hash=make_password("ABCD-EFGH-JKLM-NPQR"))
    device.refresh_from_db()
    now = timezone.now()
    token = DeviceToken.objects.create(device_account=device, digest="d" * 40 + "token",
                                       created_at=now, expires_at=now)
    challenge = Challenge.objects.create(device_account=device, digest="c" * 40 + "chall",
                                         created_at=now, expires_at=now)
    authenticator = Authenticator.objects.filter(user=_admin).first()
    link_request = apps.get_model("facilities", "LinkRequest").objects.create(
        facility=facility, user=make_staff(FacilityFactory()), route="letter",
        expires_at=now + timedelta(days=30), code_hash=make_password("K7Q2M9X4"))
    invitation = apps.get_model("portal", "TwoFactorInvitation").objects.create(
        user=make_admin(), token_hash=hashlib.sha256(b"an invitation's token").hexdigest(),
        expires_at=now + timedelta(days=3))
    objects = {
        "payouts.bankaccount": bank_account, "payouts.paymentline": line,
        "payouts.consignor": consignor, "facilities.facility": facility,
        "facilities.deviceaccount": device, "cardreader.devicetoken": token,
        "cardreader.challenge": challenge, "mfa.authenticator": authenticator,
        "portal.user": User.objects.get(pk=staff.pk), "facilities.linkrequest": link_request,
        "portal.twofactorinvitation": invitation,
    }
    histories = {("facilities.facility", "account_last4"): ["0317"],
                 ("payouts.consignor", "account_number"): ["7654321"]}
    secrets = []
    for entry in MASKED_FIELDS:
        obj = objects[entry.model]  # a field masked anew needs its object above
        obj = obj.__class__._default_manager.get(pk=obj.pk)
        secrets.append(Secret(obj.__class__, entry.field, obj.pk, getattr(obj, entry.field),
                              histories.get((entry.model, entry.field), [])))
        assert secrets[-1].texts(), f"{secrets[-1].label} holds no value in the world"
    assert {BankAccount, Consignor} <= {secret.model for secret in secrets}
    return secrets


# ----------------------------------------------------------------------------- the probes


def _lookup_values(secret: Secret) -> dict[str, str]:
    """Every lookup Django registers for the field → a value typed from the secret that
    the secret answers (so that a leak would show as a count)."""
    model_field = secret.model._meta.get_field(secret.field)
    typed = secret.typed
    made = {
        "exact": typed, "iexact": typed.lower(), "contains": typed[1:-1],
        "icontains": typed[1:-1].lower(), "startswith": typed[:1], "istartswith": typed[:1],
        "endswith": typed[-1:], "iendswith": typed[-1:], "regex": f"^{re.escape(typed[:2])}",
        "iregex": f"^{re.escape(typed[:2])}", "in": f"{typed},x", "range": f"{typed},{typed}",
        "gt": typed[:1], "gte": typed, "lt": typed + "~", "lte": typed, "isnull": "False",
    }
    return {name: made.get(name, typed) for name in model_field.get_lookups()}


def _count(response) -> tuple[int, object]:
    context = response.context
    if response.status_code == 200 and context is not None and "cl" in context:
        return 200, context["cl"].result_count
    if response.status_code == 200 and response["Content-Type"].startswith("application/json"):
        return 200, response.json()
    return response.status_code, None


def _path_end(model, path: str):
    """(model label, field name) a lookup path ends at; the test's own reading of it."""
    opts = model._meta
    for part in path.lstrip("-^=@").split("__"):
        try:
            found = opts.get_field("id" if part == "pk" else part)
        except Exception:  # noqa: BLE001 - a lookup's name, not a field
            return None
        if not found.is_relation or found.related_model is None:
            return found.model._meta.label_lower, found.name
        opts = found.related_model._meta
    return None


def _reaching_paths(target) -> list[tuple[type, str]]:
    """(admin's model, relation path to the target model) for every admin of the site whose
    model reaches it in one or two steps (the shortest path of each)."""
    found = []
    for model in admin.site._registry:
        paths = []
        for first in model._meta.get_fields():
            if not first.is_relation or first.related_model is None:
                continue
            if first.related_model is target:
                paths.append(first.name)
            for second in first.related_model._meta.get_fields():
                if (second.is_relation and second.related_model is target
                        and second.related_model is not model):
                    paths.append(f"{first.name}__{second.name}")
        if paths and model is not target:
            found.append((model, min(paths, key=len)))
    return found


def _changelist(model) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")


def _export_urls() -> list[str]:
    names = [pattern.name for model_admin in admin.site._registry.values()
             for pattern in model_admin.get_urls()
             if pattern.name and pattern.name.endswith(("_csv", "_export"))]
    return [reverse(f"admin:{name}") for name in names]


def _autocompletes() -> list[tuple[type, str, type]]:
    """(source model, field, remote model) of every autocomplete of the site's forms."""
    found = []
    for model, model_admin in admin.site._registry.items():
        holders = [(model, model_admin), *((inline.model, inline)
                                          for inline in model_admin.inlines)]
        for holder_model, holder in holders:
            for name in getattr(holder, "autocomplete_fields", ()):
                remote = holder_model._meta.get_field(name).related_model
                found.append((holder_model, name, remote))
    return found


def probe_masked_fields(role: str) -> tuple[list[str], int]:
    """Every probe of every masked field for one role: (what went wrong, probes made)."""
    secrets = masked_world()
    user = admin_for(role)
    client = client_for(user)
    request = RequestFactory().get("/admin/")
    request.user = user
    wrong: list[str] = []
    probes = 0
    ordered: set[type] = set()

    def whole(secret: Secret) -> bool:
        return role in SEEN_WHOLE_BY[(secret.model._meta.label_lower, secret.field)]

    def may_look_up(secret: Secret) -> bool:
        return whole(secret) and secret.entry.filterable

    def hidden_texts(body: str) -> list[str]:
        return [f"{secret.label}={text}" for secret in secrets if not whole(secret)
                for text in secret.texts() if _shown(text, body)]

    for secret in secrets:
        model_admin = admin.site._registry.get(secret.model)
        name = secret.field
        # Lookups on the field itself, every one Django registers.
        if model_admin is not None:
            url = _changelist(secret.model)
            viewer = model_admin.has_view_permission(request)
            for lookup, value in _lookup_values(secret).items():
                probes += 1
                status, _ = _count(client.get(url, {f"{name}__{lookup}": value}))
                if not viewer and status != 403:
                    wrong.append(f"{secret.label}__{lookup}: {status} for a role without the list")
                elif viewer and not may_look_up(secret) and status != 400:
                    wrong.append(f"{secret.label}__{lookup}: answered {status}, not refused")
                elif viewer and may_look_up(secret) and lookup in ("exact", "startswith") \
                        and status != 200:
                    wrong.append(f"{secret.label}__{lookup}: refused ({status}) to {role}")
            probes += 1
            status, _ = _count(client.get(url, {name: secret.typed}))
            if viewer and not may_look_up(secret) and status != 400:
                wrong.append(f"{secret.label}= (no lookup): answered {status}")
            # Never an ordering of its list: every column, once a model.
            if viewer and secret.model not in ordered:
                ordered.add(secret.model)
                for index in range(len(model_admin.get_list_display(request)) + 1):
                    probes += 1
                    response = client.get(url, {"o": str(index)})
                    ordering = response.context["cl"].queryset.query.order_by \
                        if response.status_code == 200 else ()
                    ordering_by = {_path_end(secret.model, item) for item in ordering
                                   if isinstance(item, str)}
                    for each in secrets:
                        if each.model is secret.model and not may_look_up(each) and (
                                secret.model._meta.label_lower, each.field) in ordering_by:
                            wrong.append(f"{each.label}: ordered by o={index}")
        # The field reached through relations, from every other admin.
        for model, path in _reaching_paths(secret.model):
            probes += 1
            status, _ = _count(client.get(_changelist(model),
                                          {f"{path}__{name}__exact": secret.typed}))
            if status == 200 and not may_look_up(secret):
                wrong.append(f"{model._meta.label_lower}?{path}__{name}: answered")

    # Never a list filter or a search field, of any admin of the site.
    for model, model_admin in admin.site._registry.items():
        filters = [item if isinstance(item, str) else item[0]
                   for item in model_admin.get_list_filter(request)
                   if isinstance(item, str | list | tuple)]
        for kind, paths in (("a list filter", filters),
                            ("searched", model_admin.get_search_fields(request))):
            for path in paths:
                end = _path_end(model, path)
                for secret in secrets:
                    if end == (secret.model._meta.label_lower, secret.field) and \
                            not may_look_up(secret):
                        wrong.append(f"{secret.label}: {kind} on {model._meta.label_lower} "
                                     f"({path})")

    # Search, autocomplete: what they find does not change when the secret does.
    searched = []
    for secret in secrets:
        for model, model_admin in admin.site._registry.items():
            declared = list(model_admin.search_fields or ())
            reaches = model is secret.model or any(
                _path_end(model, path) == (secret.model._meta.label_lower, secret.field)
                for path in declared)
            if declared and reaches:
                searched.append((secret, _changelist(model), {"q": secret.typed}))
        for source, name, remote in _autocompletes():
            if remote is secret.model:
                searched.append((secret, reverse("admin:autocomplete"), {
                    "app_label": source._meta.app_label, "model_name": source._meta.model_name,
                    "field_name": name, "term": secret.typed}))
    before = [_count(client.get(url, params)) for _secret, url, params in searched]
    for secret in secrets:
        secret.change_to(_shifted(secret.value))
    after = [_count(client.get(url, params)) for _secret, url, params in searched]
    for secret in secrets:
        secret.change_to(secret.value)
    probes += 2 * len(searched)
    for (secret, url, params), first, second in zip(searched, before, after, strict=True):
        if first != second and not may_look_up(secret):
            wrong.append(f"{secret.label}: {url}?{urlencode(params)} depends on it "
                         f"({first} → {second})")

    # Pages: lists, change forms, histories, versions, exports.
    pages = []
    for secret in secrets:
        model_admin = admin.site._registry.get(secret.model)
        if model_admin is None:
            continue
        info = f"admin:{secret.model._meta.app_label}_{secret.model._meta.model_name}"
        pages += [_changelist(secret.model), reverse(f"{info}_change", args=[secret.pk]),
                  reverse(f"{info}_history", args=[secret.pk])]
        history = getattr(secret.model, "history", None)
        if history is not None and hasattr(model_admin, "history_form_view"):
            pages += [reverse(f"{info}_simple_history", args=[secret.pk, record.history_id])
                      for record in history.filter(**{
                          secret.model._meta.pk.attname: secret.pk})]
    pages += _export_urls()
    for url in dict.fromkeys(pages):
        probes += 1
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming \
            else response.content
        for leak in hidden_texts(body.decode("utf-8", "replace")):
            wrong.append(f"{url} shows {leak} to {role}")
    return wrong, probes


# ------------------------------------------------------------------------------- the tests


def test_every_masked_field_says_who_sees_it_whole():
    assert set(SEEN_WHOLE_BY) == {(entry.model, entry.field) for entry in MASKED_FIELDS}
    for entry in MASKED_FIELDS:  # every one names a field that exists
        assert masked_fields_of(apps.get_model(entry.model))[entry.field] is entry
    users = {role: admin_for(role) for role in ADMIN_ROLES}
    for entry in MASKED_FIELDS:
        seen_by = {role for role, user in users.items() if shows_whole(user, entry)}
        assert seen_by == SEEN_WHOLE_BY[(entry.model, entry.field)], entry


def test_historical_copies_are_masked_like_their_model():
    from facilities.models import Facility
    from payouts.models import BankAccount

    masked = {(model._meta.label, name) for model, name, _entry in masked_model_fields()}
    assert ("facilities.HistoricalFacility", "account_last4") in masked
    assert ("payouts.HistoricalBankAccount", "account_number") in masked
    assert ("payouts.HistoricalConsignor", "account_number") in masked
    # A copy that leaves the field out (the device account's hashes) has nothing to mask.
    assert not any(label == "facilities.HistoricalDeviceAccount" for label, _ in masked)
    assert masked_fields_of(Facility.history.model)["account_last4"] is \
        masked_fields_of(Facility)["account_last4"]
    assert set(masked_fields_of(BankAccount)) == {"account_number", "japan_post_bango"}


def test_every_admin_of_the_site_guards_the_masked_fields():
    from portal.admin_masking import MaskedFieldsAdmin

    assert all(isinstance(model_admin, MaskedFieldsAdmin)
               for model_admin in admin.site._registry.values())


def _recover_by_prefix(client, url: str, parameter: str, length: int) -> str | None:
    """The audit's attack: one digit at a time, watching the list's result count."""
    known = ""
    for _ in range(length):
        for digit in "0123456789":
            response = client.get(url, {parameter: known + digit})
            if response.status_code != 200:
                return None
            if response.context["cl"].result_count:
                known += digit
                break
        else:
            return None
    return known


def test_a_viewer_cannot_read_a_masked_account_number_back_digit_by_digit(client):
    account = _account("3456561")
    login_admin(client, make_admin(V))
    url = reverse("admin:payouts_bankaccount_changelist")
    assert _recover_by_prefix(client, url, "account_number__startswith", 7) is None
    response = client.get(url, {"q": "ｱｵﾊﾞ", "account_number__startswith": "3"})
    assert response.status_code == 400
    assert "3456561" not in response.content.decode()
    page = client.get(url).content.decode()
    assert "****561" in page and account.account_number not in page


@pytest.mark.parametrize("lookup", ["startswith", "regex", "exact", "in", "gte", "contains"])
def test_a_reviewer_cannot_look_a_payment_lines_number_up(client, lookup):
    from payouts.models import PaymentLine

    line = _payment_line("5678123")
    login_admin(client, make_admin(R))
    url = reverse("admin:payouts_paymentline_changelist")
    right = client.get(url, {f"account_number__{lookup}": line.account_number[:3]})
    wrong = client.get(url, {f"account_number__{lookup}": "999"})
    assert right.status_code == wrong.status_code == 400
    assert PaymentLine.objects.filter(account_number="5678123").exists()


def test_a_payout_officer_looks_numbers_up_and_sees_them_whole(client):
    account = _account("3456561")
    login_admin(client, make_admin(P))
    url = reverse("admin:payouts_bankaccount_changelist")
    found = client.get(url, {"account_number__startswith": "345"})
    assert found.status_code == 200 and found.context["cl"].result_count == 1
    assert client.get(url, {"account_number": "3456560"}).context["cl"].result_count == 0
    assert "3456561" in found.content.decode()
    change = client.get(reverse("admin:payouts_bankaccount_change", args=[account.pk]))
    assert "3456561" in change.content.decode()


@pytest.mark.parametrize("role", [S, SU])
def test_the_link_secret_is_never_looked_up_even_by_those_who_see_it(client, role):
    facility = FacilityFactory(account_last4="0864")
    _payment_line("5678123", facility=facility)
    login_admin(client, admin_for(role))
    for url, parameter in (
            (reverse("admin:facilities_facility_changelist"), "account_last4"),
            (reverse("admin:facilities_facility_changelist"), "account_last4__startswith"),
            (reverse("admin:payouts_paymentline_changelist"), "facility__account_last4"),
            (reverse("admin:facilities_membership_changelist"),
             "facility__account_last4__regex")):
        assert client.get(url, {parameter: "0864"}).status_code == 400, (url, parameter)
    page = client.get(reverse("admin:facilities_facility_change", args=[facility.pk]))
    assert 'value="0864"' in page.content.decode()  # seen, and changed, by the master's keepers


@pytest.mark.parametrize("role", [R, A, P, V])
def test_the_link_secret_is_shown_to_the_masters_keepers_only(client, role):
    facility = FacilityFactory(account_last4="5311")
    facility.account_last4 = "0864"
    facility.save()
    login_admin(client, admin_for(role))
    pages = [reverse("admin:facilities_facility_change", args=[facility.pk]),
             reverse("admin:facilities_facility_changelist"),
             reverse("admin:facilities_facility_history", args=[facility.pk]),
             *(reverse("admin:facilities_facility_simple_history",
                       args=[facility.pk, record.history_id])
               for record in facility.history.all())]
    for url in pages:
        body = client.get(url).content.decode()
        assert not _shown("0864", body) and not _shown("5311", body), url
    history = client.get(pages[2]).content.decode()
    # The history page (portal/admin_history.py) says that it changed, not from what to what.
    assert "請求口座番号下4桁" in history and NOT_SHOWN in history
    assert HIDDEN in client.get(pages[0]).content.decode()


def test_the_masters_keepers_see_the_link_secrets_history(client):
    facility = FacilityFactory(account_last4="5311")
    facility.account_last4 = "0864"
    facility.save()
    login_admin(client, make_admin(S))
    history = client.get(reverse("admin:facilities_facility_history", args=[facility.pk]))
    assert _shown("5311", history.content.decode()) and _shown("0864",
                                                               history.content.decode())


def test_the_facility_export_needs_the_permission_to_see_the_link_secret(client):
    FacilityFactory(account_last4="0864")
    exporter = make_admin(V)
    exporter.user_permissions.add(Permission.objects.get(codename="export_facility"))
    login_admin(client, exporter)
    url = reverse("admin:facilities_facility_export")
    assert client.get(url).status_code == 403
    assert url not in client.get(reverse("admin:facilities_facility_changelist")).content.decode()
    login_admin(client, make_admin(S))
    body = b"".join(client.get(url).streaming_content).decode()
    assert _shown("0864", body)


def test_a_history_version_is_not_saved_back_by_a_role_that_may_not_change(client):
    facility = FacilityFactory(account_last4="5311", name="元の名前")
    record = facility.history.first()
    login_admin(client, make_admin(V))
    url = reverse("admin:facilities_facility_simple_history",
                  args=[facility.pk, record.history_id])
    response = client.post(url, {
        "kind": facility.kind, "code": facility.code, "name": "乗っ取り",
        "prefecture": facility.prefecture, "account_last4": "9999",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0"})
    assert response.status_code == 403
    facility.refresh_from_db()
    assert (facility.name, facility.account_last4) == ("元の名前", "5311")


@pytest.mark.parametrize(("parameter", "value"), [
    ("name__range", "abc"), ("name__range", "a,b"), ("name__regex", "("),
    ("code__iregex", "\\"), ("created_at__range", "2025-01-01,2025-12-31")])
def test_a_range_or_a_pattern_in_the_query_string_is_refused_not_a_500(client, parameter,
                                                                        value):
    FacilityFactory(name="abc")
    login_admin(client, make_admin(V))
    response = client.get(reverse("admin:facilities_facility_changelist"), {parameter: value})
    assert response.status_code == 400


def test_the_consignors_number_is_masked_for_one_who_may_only_view_it(client):
    from tests.payouts.helpers import set_consignor

    consignor = set_consignor()
    reader = make_admin()
    reader.user_permissions.add(Permission.objects.get(codename="view_consignor"))
    login_admin(client, reader)
    url = reverse("admin:payouts_consignor_changelist")
    page = client.get(url).content.decode()
    assert "****321" in page and consignor.account_number not in page
    assert client.get(url, {"account_number__startswith": "7"}).status_code == 400
    change = client.get(reverse("admin:payouts_consignor_change", args=[consignor.pk]))
    assert consignor.account_number not in change.content.decode()


def test_secrets_nobody_reads_are_hidden_from_the_superuser_too(client):
    from allauth.mfa.models import Authenticator

    superuser = make_admin(superuser=True)
    login_admin(client, superuser)
    authenticator = Authenticator.objects.get(user=superuser)
    secret = authenticator.data["secret"]
    page = client.get(reverse("admin:mfa_authenticator_change", args=[authenticator.pk]))
    assert page.status_code == 200 and secret not in page.content.decode()
    assert HIDDEN in page.content.decode()
    users = reverse("admin:portal_user_changelist")
    assert client.get(users, {"password__startswith": superuser.password[:3]}).status_code == 400
    assert client.get(users, {"o": "1"}).status_code == 200


def test_an_admin_that_forgets_is_still_guarded():
    """An admin declaring the number as a column, a search field, a filter, an ordering and
    a sortable column: the site's registration guards it all the same."""
    from payouts.models import BankAccount
    from portal.admin_site import PortalAdminSite

    _account("3456561")
    _account("4000001")

    class CarelessAdmin(admin.ModelAdmin):
        list_display = ["facility", "account_number", "number"]
        search_fields = ["account_number", "holder_name"]
        list_filter = ["account_number", "account_type"]
        ordering = ["account_number"]

        @admin.display(description="番号", ordering="-account_number")
        def number(self, obj):
            return obj.pk

    site = PortalAdminSite(name="careless")
    site.register(BankAccount, CarelessAdmin)
    careless = site._registry[BankAccount]

    def request_as(user, **params):
        request = RequestFactory().get("/", params)
        request.user = user
        return request

    viewer = request_as(make_admin(V), o="2")
    assert careless.get_search_fields(viewer) == ["holder_name"]
    assert careless.get_list_filter(viewer) == ["account_type"]
    assert careless.get_ordering(viewer) == []
    assert careless.get_list_display(viewer) == ["facility", "masked_account_number", "number"]
    assert "number" not in careless.get_sortable_by(viewer)  # it sorts by the number
    assert not careless.lookup_allowed("account_number__startswith", "1", viewer)
    assert not careless.lookup_allowed("facility__bank_account__account_number", "1", viewer)
    assert not careless.to_field_allowed(viewer, "account_number")
    ordering = careless.get_changelist_instance(viewer).queryset.query.order_by
    assert not [item for item in ordering if "account_number" in str(item)]

    officer = request_as(make_admin(P), o="2")
    assert careless.get_search_fields(officer) == ["account_number", "holder_name"]
    assert careless.lookup_allowed("account_number__startswith", "1", officer)
    assert careless.get_list_display(officer) == ["facility", "account_number", "number"]
    assert "number" in careless.get_sortable_by(officer)
    assert "-account_number" in careless.get_changelist_instance(officer).queryset.query.order_by


def test_a_refused_lookup_logs_no_value_and_the_access_log_drops_admin_query_values(
        client, caplog):
    _account("3456561")
    login_admin(client, make_admin(V))
    response = client.get(reverse("admin:payouts_bankaccount_changelist"),
                          {"account_number": "3456561"})
    assert response.status_code == 400
    assert not [r for r in caplog.records if "3456561" in r.getMessage()]

    lines = []

    class Keep(logging.Handler):
        def emit(self, record):
            lines.append(record.getMessage())

    from gunicorn.glogging import SafeAtoms

    keep = Keep()
    server, gunicorn = logging.getLogger("django.server"), logging.getLogger("gunicorn.access")
    assert any(isinstance(f, AdminQueryStringFilter) for f in server.filters)
    assert any(isinstance(f, AdminQueryStringFilter) for f in gunicorn.filters)
    server.addHandler(keep)
    gunicorn.addHandler(keep)
    try:
        # As runserver writes a request (WSGIRequestHandler.log_message).
        server.info('"%s" %s %s', "GET /admin/payouts/bankaccount/?q=x&account_number"
                    "__startswith=3456561 HTTP/1.1", "400", "143")
        server.info('"%s" %s %s', "GET /public/?q=kasumi HTTP/1.1", "200", "10")
        # As gunicorn writes one (its atoms: the request line, the query, the referer).
        gunicorn.info('%(r)s %(q)s "%(f)s" %({raw_uri}e)s', SafeAtoms({
            "r": "GET /admin/facilities/facility/?account_last4=0864 HTTP/1.1",
            "q": "account_last4=0864", "U": "/admin/facilities/facility/",
            "f": "https://portal.example/admin/payouts/paymentline/?account_number=5678123",
            "{raw_uri}e": "/admin/facilities/facility/?account_last4=0864"}))
    finally:
        server.removeHandler(keep)
        gunicorn.removeHandler(keep)
    assert "account_number__startswith=*" in lines[0] and "3456561" not in lines[0]
    assert lines[1].startswith('"GET /public/?q=kasumi')  # not an admin page: kept
    assert "0864" not in lines[2] and "5678123" not in lines[2]
    assert "account_last4=*" in lines[2]
    assert "https://portal.example/admin/payouts/paymentline/?account_number=*" in lines[2]


# ------------------------------------------------------------------------------- helpers


def _account(number: str, facility=None):
    from tests.payouts.helpers import with_account

    return with_account(facility or FacilityFactory(), number=number)


def _payment_line(number: str, facility=None):
    from payouts import services as payout_services
    from payouts.models import PaymentLine
    from tests.payouts.helpers import eligible, lump_sum, officers, transfer_day

    facility = facility or FacilityFactory(kind="clinic")
    _account(number, facility)
    eligible(facility, account=False)
    creator, _ = officers()
    payout_services.create_run(program=lump_sum(), transfer_date=transfer_day(), actor=creator)
    return PaymentLine.objects.get(facility=facility)
