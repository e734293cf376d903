"""Form plumbing shared by every form: input normalised once (NFKC: full-width digits,
letters and hyphens become half-width) before any field sees it."""

from collections.abc import Callable
from datetime import date

from django import forms

from .normalize import NotAnInteger, integer, nfkc
from .session_end import is_secret, kept_input
from .wareki import DateParseError, parse_date, to_wareki


class NormalizedForm(forms.Form):
    # Fields whose text is kept as typed apart from surrounding spaces (names may hold
    # full-width characters on purpose).
    keep_width: tuple[str, ...] = ()
    # True when the form shows again what was typed before the session ended
    # (portal.session_end); includes/form_errors.html says so above the form.
    restored = False

    def __init__(self, data=None, *args, **kwargs):
        if data is not None:
            data = data.copy()
            for key in list(data.keys()):
                if key in self.keep_width or key == "csrfmiddlewaretoken":
                    continue
                values = data.getlist(key) if hasattr(data, "getlist") else [data[key]]
                cleaned = [nfkc(v) if isinstance(v, str) else v for v in values]
                if hasattr(data, "setlist"):
                    data.setlist(key, cleaned)
                else:
                    data[key] = cleaned[0]
        super().__init__(data, *args, **kwargs)
        if data is None:
            self._restore_kept_input()

    def _restore_kept_input(self) -> None:
        """An unbound form on the page the user was on when the session ended starts from
        what was typed then (never a secret field: portal.session_end.is_secret)."""
        kept = kept_input()
        if kept is None:
            return
        restored = {}
        for name, field in self.fields.items():
            values = kept.data.get(self.add_prefix(name))
            if not values or is_secret(name) or isinstance(field.widget, forms.HiddenInput):
                continue
            multiple = isinstance(field, forms.MultipleChoiceField)
            restored[name] = values if multiple else values[-1]
        if restored:
            self.initial = {**self.initial, **restored}
            self.restored = kept.used = True


class NumberField(forms.IntegerField):
    """A count or an amount as people type it (portal.normalize.integer: ３８，０００, 38,000,
    38,000円 are 38000; docs/decisions.md D1.3), in a text box that keeps whatever was typed when
    it is refused (a browser's number box empties itself on 38,000 and sends nothing). `unit`
    is what may follow the number (円, 台, 人, 件). Every count and amount a facility types
    uses this field; a refusal says what to type, in Japanese, next to the field."""

    widget = forms.TextInput

    def __init__(self, *, unit: str = "", **kwargs):
        self.unit = unit
        super().__init__(**kwargs)
        self.error_messages["invalid"] = "数字で入力してください（例: 1200 または 1,200）。"
        if self.min_value is not None:
            self.error_messages["min_value"] = (
                f"{self.min_value:,}以上の数を入力してください。" if self.min_value > 0 else
                "0以上の数を入力してください（マイナスは入力できません）。")
        if self.max_value is not None:
            self.error_messages["max_value"] = f"{self.max_value:,}以下の数を入力してください。"

    def widget_attrs(self, widget):
        # Not min/max: the browser would refuse (and hide) a value before the portal says why.
        attrs = {k: v for k, v in super().widget_attrs(widget).items()
                 if k not in ("min", "max", "step")}
        return {**attrs, "inputmode": "numeric", "autocomplete": "off"}

    def to_python(self, value):
        if value in self.empty_values:
            return None
        if isinstance(value, int):
            return value
        try:
            return integer(str(value), unit=self.unit)
        except NotAnInteger:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None


EMAIL_INVALID = ("メールアドレスは半角の英数字と記号で、info@example.jp の形で入力してください"
                 "（全角で入力したものは半角に直して読み取ります）。")


def half_width_email(value):
    """An e-mail address typed in full width (ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ) read as the half-width
    address it unambiguously is (NFKC; docs/decisions.md D1.4); anything else is left as typed
    for the field to refuse with EMAIL_INVALID."""
    return nfkc(value) if isinstance(value, str) else value


class EmailField(forms.EmailField):
    """Every e-mail address a facility types: full width read as half width, and a refusal
    that says 半角."""

    default_error_messages = {"invalid": EMAIL_INVALID}

    def to_python(self, value):
        return super().to_python(half_width_email(value))


class HalfWidthEmails:
    """Mixin for allauth's forms (portal.account_forms): the e-mail fields named in
    `email_fields` read full width as half width and refuse in words that say 半角. The
    password fields are never touched (a password is compared as typed)."""

    email_fields: tuple[str, ...] = ("email",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound:
            self.data = self.data.copy()
            for name in self.email_fields:
                if name in self.data:
                    self.data[name] = half_width_email(self.data[name])
        for name in self.email_fields:
            if name in self.fields:
                self.fields[name].error_messages["invalid"] = EMAIL_INVALID


class ISODateInput(forms.DateInput):
    """One text box for a date typed as 2025-06-10 or 令和7年6月10日 (any width), with a
    calendar button beside it (static/js/date-picker.js) that opens the browser's own picker:
    a native date input alone takes typing in the browser's own order (mm/dd/yyyy in many
    builds). Without JavaScript the button stays hidden and the box still takes typing."""

    input_type = "text"
    template_name = "widgets/iso_date.html"

    def __init__(self, attrs=None):
        defaults = {"placeholder": "例: 2025-06-10 または 令和7年6月10日", "autocomplete": "off",
                    "size": 20}
        super().__init__(attrs={**defaults, **(attrs or {})}, format="%Y-%m-%d")


DateBound = date | Callable[[], date]

# Every date the portal asks for falls in these years (online qualification and its programs
# began after 2019); a date outside is a typing error, refused before it is stored.
EARLIEST_DATE = date(2019, 1, 1)
LATEST_DATE = date(2099, 12, 31)


class ISODateField(forms.DateField):
    """A date typed as ISO (any width) or 和暦 (docs/domain.md §9) between `earliest` and `latest`
    (dates, or callables such as `timezone.localdate` for "not in the future")."""

    default_error_messages = {
        "invalid": "日付は 2025-06-10 または 令和7年6月10日（R7.6.10）の形で入力してください。",
        "out_of_range": "{earliest}から{latest}までの日付を入力してください。",
    }
    widget = ISODateInput

    def __init__(self, *, earliest: DateBound = EARLIEST_DATE, latest: DateBound = LATEST_DATE,
                 **kwargs):
        super().__init__(**kwargs)
        self.earliest, self.latest = earliest, latest

    def to_python(self, value):
        """ISO in any width or 和暦 (portal.wareki.parse_date), with its own reason when the
        date does not exist (2025-02-30, 令和0年, 平成31年5月1日)."""
        if value in self.empty_values:
            return None
        if isinstance(value, date):
            return value
        try:
            return parse_date(str(value))
        except DateParseError as error:
            raise forms.ValidationError(str(error), code="invalid") from None

    def range_text(self) -> str:
        """The allowed range as the help text states it up front."""
        earliest = self.earliest() if callable(self.earliest) else self.earliest
        latest = self.latest() if callable(self.latest) else self.latest
        return f"{to_wareki(earliest)}から{to_wareki(latest)}まで"

    def validate(self, value) -> None:
        super().validate(value)
        if value in self.empty_values:
            return
        earliest = self.earliest() if callable(self.earliest) else self.earliest
        latest = self.latest() if callable(self.latest) else self.latest
        if not earliest <= value <= latest:
            raise forms.ValidationError(
                self.error_messages["out_of_range"].format(
                    earliest=f"{earliest.isoformat()}（{to_wareki(earliest)}）",
                    latest=f"{latest.isoformat()}（{to_wareki(latest)}）",
                ),
                code="out_of_range",
            )
