"""Form plumbing shared by every form: input normalised once (NFKC: full-width digits,
letters and hyphens become half-width) before any field sees it."""

from django import forms

from .normalize import nfkc


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
    """A text field for YYYY-MM-DD (typed in any width) with a calendar beside it: a native
    date input alone takes typing in the browser's own order (mm/dd/yyyy in many builds)."""

    input_type = "text"
    template_name = "widgets/iso_date.html"

    def __init__(self, attrs=None):
        defaults = {"placeholder": "YYYY-MM-DD", "inputmode": "numeric", "autocomplete": "off",
                    "size": 12}
        super().__init__(attrs={**defaults, **(attrs or {})}, format="%Y-%m-%d")


class ISODateField(forms.DateField):
    default_error_messages = {
        "invalid": "日付は YYYY-MM-DD の形（例: 2025-06-10）で、実在する日付を入力してください。"
    }
    widget = ISODateInput

    def __init__(self, **kwargs):
        kwargs.setdefault("input_formats", ["%Y-%m-%d", "%Y/%m/%d"])
        super().__init__(**kwargs)
