"""Fields shown masked are masked everywhere in the admin (docs/decisions.md D2.4).

`MASKED_FIELDS` names every model field the admin must not give away whole, and the
permissions that reveal it (any one of them; none: hidden from everyone, the superuser too).
Historical copies (django-simple-history) are masked like their model. For a user who may not
see a field whole, on every admin page of the site:

- no lookup reaches it from the query string, on its own admin or through a relation from
  any other (`account_number__startswith`, `facility__account_last4`, `_to_field`): Django's
  DisallowedModelAdminLookup, a 400, instead of a filtered list whose count would tell;
- it is never searched (`q`, autocomplete), never a list filter, never an ordering (`o=`,
  sortable columns, the admin's ordering);
- the list, the change form and a history version (simple-history's) show it masked (the
  mask of its entry), never whole; the 履歴 page (portal/admin_history.py) says only that it
  changed.

Whatever the field, `__range` and `__regex`/`__iregex` are refused from the query string:
no admin page makes them, and Django passed them on to fail with a 500.

A field that is not `filterable` (a secret checked against what someone types, such as
請求口座番号下4桁) is never looked up, searched, filtered or ordered by anyone, even by those who
may see it: a filter on it is a way to guess it.

`PortalAdminSite.register` puts `MaskedFieldsAdmin` in front of every ModelAdmin of the site, so
an admin needs no declaration of its own and one that forgets is still guarded. Exports of
the admin's own making (CSV columns) are checked by `tests/portal/test_masked_fields.py`,
which probes every entry here for every role.

Access logs (runserver's `django.server`, gunicorn's `gunicorn.access`) write each request's
query string; on admin URLs `AdminQueryStringFilter` drops the values before the line is
written, so a value typed into a lookup never reaches a log.
"""

import contextlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from django.apps import apps
from django.contrib import admin
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import FieldDoesNotExist
from django.db.models import F, OrderBy
from django.db.models.constants import LOOKUP_SEP
from django.utils.module_loading import import_string
from django.utils.text import capfirst

HIDDEN = "（非表示）"


def hide(value) -> str:
    """The mask of a secret nobody reads in the admin: that there is one, not what it is."""
    return "" if value in (None, "", {}, []) else HIDDEN


@dataclass(frozen=True)
class MaskedField:
    model: str  # "app_label.modelname"
    field: str
    reveal: tuple[str, ...] = ()  # any one of these shows it whole; () nobody
    filterable: bool = True  # looked up, searched and ordered by those who see it whole
    mask: str | Callable[[object], str] = hide  # how the others see it (a dotted path is imported)
    # Its admin's own widget shows it masked already (the password's hash summary): only
    # the lookups are guarded, the form is left as it is.
    shown_masked_by_its_form: bool = False

    def masks(self, value) -> str:
        mask = import_string(self.mask) if isinstance(self.mask, str) else self.mask
        return mask(value)


_ACCOUNT_NUMBER = "payouts.banking.mask_account_number"  # ****561: the last 3 digits
_FULL_NUMBER = ("payouts.view_account_number",)

MASKED_FIELDS: tuple[MaskedField, ...] = (
    # Bank accounts: whole for payout officers (支払担当) only.
    MaskedField("payouts.bankaccount", "account_number", _FULL_NUMBER, mask=_ACCOUNT_NUMBER),
    MaskedField("payouts.bankaccount", "japan_post_bango", _FULL_NUMBER),  # holds the number
    MaskedField("payouts.paymentline", "account_number", _FULL_NUMBER, mask=_ACCOUNT_NUMBER),
    # The portal's own account (振込依頼人): whole for whoever keeps it or pays from it.
    MaskedField("payouts.consignor", "account_number",
                ("payouts.view_account_number", "payouts.change_consignor"),
                mask=_ACCOUNT_NUMBER),
    # The link secret (なりすまし防止): for the facility master's keepers (システム管理).
    MaskedField("facilities.facility", "account_last4", ("facilities.view_account_last4",),
                filterable=False),
    # Credentials, kept as hashes or secrets: never read in the admin.
    MaskedField("facilities.deviceaccount", "password_hash"),
    MaskedField("facilities.deviceaccount", "activation_code_hash"),
    MaskedField("facilities.linkrequest", "code_hash"),  # the code sent by post
    MaskedField("portal.twofactorinvitation", "token_hash"),
    MaskedField("cardreader.devicetoken", "digest"),
    MaskedField("cardreader.challenge", "digest"),
    MaskedField("mfa.authenticator", "data"),  # the TOTP secret, the recovery codes' seed
    MaskedField("portal.user", "password", shown_masked_by_its_form=True),
)


@cache
def _entries_by_model() -> dict[type, dict[str, MaskedField]]:
    """Every entry by its model class, and the same entries on the model's historical
    copy when it has one and keeps the field."""
    from simple_history.exceptions import NotHistoricalModelError
    from simple_history.utils import get_history_model_for_model

    found: dict[type, dict[str, MaskedField]] = {}
    for entry in MASKED_FIELDS:
        try:
            model = apps.get_model(entry.model)
        except LookupError:  # tests/portal/test_masked_fields.py checks that every one is
            continue
        models = [model]
        with contextlib.suppress(NotHistoricalModelError):  # no history kept
            models.append(get_history_model_for_model(model))
        for each in models:
            try:
                each._meta.get_field(entry.field)
            except FieldDoesNotExist:
                if each is model:
                    raise
                continue  # a historical copy that leaves the field out
            found.setdefault(each, {})[entry.field] = entry
    return found


def masked_fields_of(model) -> dict[str, MaskedField]:
    """The masked fields of a model (or its historical copy), by field name."""
    return _entries_by_model().get(model, {})


def masked_model_fields() -> list[tuple[type, str, MaskedField]]:
    """(model, field name, entry) for every masked field, historical copies included."""
    return [(model, name, entry) for model, fields in _entries_by_model().items()
            for name, entry in fields.items()]


def shows_whole(user, entry: MaskedField) -> bool:
    return any(user.has_perm(permission) for permission in entry.reveal)


def may_look_up(user, entry: MaskedField) -> bool:
    """Whether the user may look up, search, filter or order by the field."""
    return entry.filterable and shows_whole(user, entry)


def field_at_end(model, path: str):
    """The model field a lookup, search or ordering path names last, through relations
    (`facility__bank_account__account_number__startswith` → BankAccount.account_number), or
    None. Parts after a field that is no relation are its transforms and lookups."""
    path = path.lstrip("-^=@")  # an ordering's minus, a search field's prefix
    opts, field = model._meta, None
    for part in path.split(LOOKUP_SEP):
        if part == "pk":
            part = opts.pk.name
        try:
            field = opts.get_field(part)
        except FieldDoesNotExist:
            return field  # a lookup after a relation (facility__isnull), or no field
        if not field.is_relation or field.related_model is None:
            return field
        opts = field.related_model._meta
    return field


def refused_path(user, model, path: str) -> bool:
    """Whether the path ends at a masked field the user may not look up."""
    field = field_at_end(model, path) if isinstance(path, str) else None
    if field is None or field.is_relation:
        return False
    entry = masked_fields_of(field.model).get(field.name)
    return entry is not None and not may_look_up(user, entry)


def _expression_paths(expression) -> list[str]:
    """The field names an ordering expression reads (F("x"), Lower("x").desc(), …)."""
    if isinstance(expression, str):
        return [expression]
    if isinstance(expression, F):
        return [expression.name]
    paths = []
    for source in getattr(expression, "get_source_expressions", lambda: [])():
        paths += _expression_paths(source)
    return paths


def refused_ordering(user, model, ordering) -> bool:
    if ordering is None:
        return False
    if isinstance(ordering, OrderBy):
        ordering = ordering.expression
    return any(refused_path(user, model, path) for path in _expression_paths(ordering))


@cache
def _guarded_changelist(base: type[ChangeList]) -> type[ChangeList]:
    class MaskedChangeList(base):
        """A list that never orders by a masked field, whatever `o=` says."""

        def __init__(self, request, *args, **kwargs):
            self._masking_user = request.user  # read while the queryset is built below
            super().__init__(request, *args, **kwargs)

        def get_ordering_field(self, field_name):
            found = super().get_ordering_field(field_name)
            if refused_ordering(self._masking_user, self.model, found):
                return None
            return found

    MaskedChangeList.__name__ = MaskedChangeList.__qualname__ = f"Masked{base.__name__}"
    return MaskedChangeList


def _list_filter_path(item) -> str | None:
    if isinstance(item, str):
        return item
    if isinstance(item, list | tuple) and item and isinstance(item[0], str):
        return item[0]
    return None  # a SimpleListFilter: its own parameter, no field path


# Lookups no admin page makes, refused from the query string for every field: a range is
# passed on unsplit (a 500 from PostgreSQL for any value but two characters), a pattern that
# PostgreSQL does not accept fails the query (a 500), and a pattern is a guessing tool.
UNANSWERED_LOOKUPS = frozenset({"range", "regex", "iregex"})


class MaskedFieldsAdmin:
    """Mixin for a ModelAdmin (put in front of every admin of the site by PortalAdminSite):
    the masked fields of its model (MASKED_FIELDS) are guarded as the module says."""

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.masked_fields = masked_fields_of(model)
        for name, entry in self.masked_fields.items():
            setattr(self, self._masked_name(name), self._masked_column(model, name, entry))

    @staticmethod
    def _masked_name(name: str) -> str:
        return f"masked_{name}"

    @staticmethod
    def _masked_column(model, name: str, entry: MaskedField):
        @admin.display(description=capfirst(model._meta.get_field(name).verbose_name))
        def column(obj) -> str:
            return entry.masks(getattr(obj, name))

        column.__name__ = f"masked_{name}"
        return column

    def hidden_fields(self, request) -> set[str]:
        """The fields of this admin's model the user sees masked."""
        return {name for name, entry in self.masked_fields.items()
                if not shows_whole(request.user, entry)}

    def shows_whole(self, request, name: str) -> bool:
        return name not in self.hidden_fields(request)

    def _displayed(self, request, names, *, obj_exists: bool = True):
        """Names (list display, fields) with each hidden field replaced by its masked column,
        a related one (`facility__account_last4` in a list) too; on an add form (no object
        yet) nothing is there to reveal and the fields stay."""
        if not obj_exists or names is None:
            return names
        hidden = {name for name in self.hidden_fields(request)
                  if not self.masked_fields[name].shown_masked_by_its_form}

        def replace(item):
            if isinstance(item, list | tuple):
                return type(item)(replace(each) for each in item)
            if not isinstance(item, str):
                return item
            if item in hidden:
                return self._masked_name(item)
            if LOOKUP_SEP in item:
                return self._masked_related(request, item) or item
            return item

        return [replace(item) for item in names]

    def _masked_related(self, request, path: str) -> str | None:
        """The masked column of a related field shown in a list, when the user may not see
        it whole (None otherwise)."""
        field = field_at_end(self.model, path)
        if field is None or field.is_relation:
            return None
        entry = masked_fields_of(field.model).get(field.name)
        if entry is None or shows_whole(request.user, entry):
            return None
        name = self._masked_name(path)
        if not hasattr(self, name):
            @admin.display(description=capfirst(field.verbose_name))
            def column(obj) -> str:
                for part in path.split(LOOKUP_SEP):
                    obj = getattr(obj, part, None)
                return entry.masks(obj)

            column.__name__ = name
            setattr(self, name, column)
        return name

    # ---- what is shown

    def get_list_display(self, request):
        return self._displayed(request, super().get_list_display(request))

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        return self._displayed(request, links) if links else links

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None:
            return fieldsets
        return [(title, {**options, "fields": self._displayed(request, options["fields"])})
                for title, options in fieldsets]

    def get_readonly_fields(self, request, obj=None):
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is None:
            return readonly
        added = [self._masked_name(name) for name in self.hidden_fields(request)
                 if not self.masked_fields[name].shown_masked_by_its_form]
        return readonly + [name for name in added if name not in readonly]

    # ---- what is looked up, searched, filtered and ordered

    def lookup_allowed(self, lookup, value, request=None):
        if LOOKUP_SEP in lookup and lookup.rsplit(LOOKUP_SEP, 1)[1] in UNANSWERED_LOOKUPS:
            return False
        if request is not None and refused_path(request.user, self.model, lookup):
            return False
        return super().lookup_allowed(lookup, value, request)

    def to_field_allowed(self, request, to_field):
        if refused_path(request.user, self.model, to_field):
            return False
        return super().to_field_allowed(request, to_field)

    def get_search_fields(self, request):
        return [name for name in super().get_search_fields(request)
                if not refused_path(request.user, self.model, name)]

    def get_list_filter(self, request):
        return [item for item in super().get_list_filter(request)
                if not refused_path(request.user, self.model, _list_filter_path(item))]

    def get_ordering(self, request):
        return [item for item in (super().get_ordering(request) or ())
                if not refused_ordering(request.user, self.model, item)]

    def get_sortable_by(self, request):
        return [name for name in super().get_sortable_by(request)
                if not refused_ordering(request.user, self.model, self._ordering_of(name))]

    def _ordering_of(self, name):
        """What sorting by a list column orders by, as ChangeList.get_ordering_field finds it."""
        if callable(name):
            attr = name
        else:
            try:
                return self.opts.get_field(name).name
            except FieldDoesNotExist:
                attr = getattr(self, name, None) or getattr(self.model, name, None)
            if attr is None:
                return name if LOOKUP_SEP in name else None
        if isinstance(attr, property):
            attr = attr.fget
        return getattr(attr, "admin_order_field", None)

    def get_changelist(self, request, **kwargs):
        return _guarded_changelist(super().get_changelist(request, **kwargs))


class MaskedHistoryAdmin:
    """For a SimpleHistoryAdmin: the history list shows a masked field's changes masked, and
    a history version is the change form's (masked) fields. A version is saved back (a
    revert) only by whoever may change the object: simple-history saves a POST to it for
    anyone who may view it."""

    def get_historical_record_context_helper(self, request, historical_record):
        helper = super().get_historical_record_context_helper(request, historical_record)
        hidden = {name: self.masked_fields[name] for name in self.hidden_fields(request)}
        if hidden:
            helper.__class__ = _masked_helper_class(helper.__class__)
            helper.masked = hidden
        return helper

    def history_form_view(self, request, object_id, version_id, extra_context=None):
        from django.contrib.admin.utils import unquote
        from django.core.exceptions import PermissionDenied

        if request.method == "POST":
            obj = self.get_object(request, unquote(object_id))
            if not self.has_change_permission(request, obj):
                raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)


@cache
def _masked_helper_class(base):
    class MaskedHistoryHelper(base):
        masked: dict[str, MaskedField] = {}

        def prepare_delta_change_value(self, change, value):
            entry = self.masked.get(change.field)
            if entry is not None:
                return entry.masks(value)
            return super().prepare_delta_change_value(change, value)

    return MaskedHistoryHelper


def guarded_admin_class(admin_class):
    """The admin class with the masking mixins in front (PortalAdminSite.register)."""
    from simple_history.admin import SimpleHistoryAdmin

    missing = [] if issubclass(admin_class, MaskedFieldsAdmin) else [MaskedFieldsAdmin]
    if issubclass(admin_class, SimpleHistoryAdmin) and not issubclass(admin_class,
                                                                       MaskedHistoryAdmin):
        missing.insert(0, MaskedHistoryAdmin)
    if not missing:
        return admin_class
    return type(admin_class.__name__, (*missing, admin_class),
                {"__module__": admin_class.__module__,
                 "__qualname__": admin_class.__qualname__})


# ------------------------------------------------------------------------- access logs

_URL_WITH_QUERY = re.compile(r"(?P<origin>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s\"'?#]*)?"
                             r"(?P<path>/[^\s?#\"']*)\?(?P<query>[^\s#\"']*)")


def _admin_prefix() -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("admin:index")
    except NoReverseMatch:
        return "/admin/"


def _without_values(query: str) -> str:
    return "&".join(part.split("=", 1)[0] + ("=*" if "=" in part else "")
                    for part in query.split("&"))


def redact_admin_queries(text: str) -> str:
    """Every admin URL in the text with its query string's values dropped (keys kept)."""
    prefix = _admin_prefix()

    def redact(match) -> str:
        if not match.group("path").startswith(prefix):
            return match.group(0)
        origin = match.group("origin") or ""
        return f"{origin}{match.group('path')}?{_without_values(match.group('query'))}"

    return _URL_WITH_QUERY.sub(redact, text)


class AdminQueryStringFilter(logging.Filter):
    """Drops the query string's values of admin URLs from an access log line: runserver's
    (`django.server`: the request line among its arguments) and gunicorn's (`gunicorn.access`:
    a dict of atoms, the request line, the query string and the referer among them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, dict):  # changed in place: gunicorn's is a dict of its own kind
            admin_path = str(dict.get(args, "U", "")).startswith(_admin_prefix())
            for key, value in list(args.items()):
                if isinstance(value, str):
                    redacted = redact_admin_queries(value)
                    if admin_path and key in ("q", "{query_string}e") and redacted:
                        redacted = _without_values(redacted)
                    if redacted != value:
                        args[key] = redacted
        elif isinstance(args, tuple):
            record.args = tuple(redact_admin_queries(arg) if isinstance(arg, str) else arg
                                for arg in args)
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact_admin_queries(record.msg)
        return True


ACCESS_LOGGERS = ("django.server", "gunicorn.access")


def redact_access_logs() -> None:
    """Installs AdminQueryStringFilter on the access loggers (once; PortalAdminConfig.ready)."""
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(each, AdminQueryStringFilter) for each in logger.filters):
            logger.addFilter(AdminQueryStringFilter())
