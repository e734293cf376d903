"""Form plumbing shared by every form: input normalised once (NFKC: full-width digits,
letters and hyphens become half-width) before any field sees it."""

from collections.abc import Callable
from datetime import date

from django import forms

from .normalize import nfkc
from .wareki import DateParseError, parse_date, to_wareki


class NormalizedForm(forms.Form):
    # Fields whose text is kept as typed apart from surrounding spaces (names may hold
    # full-width characters on purpose).
    keep_width: tuple[str, ...] = ()

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
