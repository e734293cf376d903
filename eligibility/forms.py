"""The administrators' form of a program's parameters, made from its registry entry's schema
(eligibility.engine.RuleBinding.schema): one field per parameter with its Japanese label,
typed as the schema says; `to_params()` gives the params JSON the rule's parser reads."""

import re
from datetime import date
from fractions import Fraction

from django import forms

from facilities.models import FacilityKind
from portal.forms import ISODateField, NormalizedForm, NumberField

from .engine import PARAM_TYPES, ParamField

_MONTH = re.compile(r"\d{4}-(0[1-9]|1[0-2])")
EARLIEST_BIRTH_DATE = date(1900, 1, 1)  # as the declaration form's practitioners


def _split(text: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,、\s]+", text or "") if part.strip()]


class _MonthsField(forms.CharField):
    """Months YYYY-MM separated by commas; `single`: exactly one month."""

    def __init__(self, *, single: bool = False, **kwargs):
        self.single = single
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(value) if isinstance(value, list | tuple) else value

    def clean(self, value):
        months = _split(super().clean(value))
        if any(not _MONTH.fullmatch(m) for m in months):
            raise forms.ValidationError("年月は 2024-05 の形で、カンマで区切って入力してください。")
        if self.single:
            if len(months) > 1:
                raise forms.ValidationError("年月を1つだけ入力してください。")
            return months[0] if months else None
        return months


class _FractionsField(forms.CharField):
    """Exact fractions ("3/100", "0.5", "1") separated by commas; `single`: exactly one."""

    def __init__(self, *, single: bool = False, **kwargs):
        self.single = single
        super().__init__(**kwargs)

    def prepare_value(self, value):
        return ", ".join(str(v) for v in value) if isinstance(value, list | tuple) else value

    def clean(self, value):
        parts = _split(super().clean(value))
        try:
            fractions = [Fraction(part) for part in parts]
        except (ValueError, ZeroDivisionError):
            raise forms.ValidationError("割合は 3/100 や 0.5 の形で入力してください。") from None
        if any(f < 0 for f in fractions):
            raise forms.ValidationError("割合に負の値は入力できません。")
        if self.single:
            if len(parts) > 1:
                raise forms.ValidationError("割合を1つだけ入力してください。")
            return parts[0] if parts else None
        return parts


def _field(param: ParamField) -> forms.Field:
    common = {"label": param.label, "required": param.required}
    match param.type:
        case "yen" | "int":
            return NumberField(min_value=0, unit="円" if param.type == "yen" else "", **common)
        case "date":
            return ISODateField(**common)
        case "birth_date":  # the obligation's "70 or older" (docs/domain.md §7): born in the 1950s
            return ISODateField(earliest=EARLIEST_BIRTH_DATE, **common)
        case "month" | "months":
            return _MonthsField(single=param.type == "month", **common)
        case "fraction" | "fractions":
            return _FractionsField(single=param.type == "fraction", **common)
        case "kinds":
            return forms.MultipleChoiceField(choices=FacilityKind.choices,
                                             widget=forms.CheckboxSelectMultiple, **common)
        case "text":
            return forms.CharField(max_length=300, **common)
        case "table":
            return forms.JSONField(**common)
    raise ValueError(f"{param.name}: unknown parameter type {param.type!r}; one of {PARAM_TYPES}")


class ParameterForm(NormalizedForm):
    schema: tuple[ParamField, ...] = ()

    def to_params(self) -> dict:
        """The params JSON (call after is_valid())."""
        params = {}
        for param in self.schema:
            value = self.cleaned_data.get(param.name)
            if param.type in ("date", "birth_date") and value is not None:
                value = value.isoformat()
            if value in ("", []) and not param.required:
                value = None if param.type != "text" else ""
            params[param.name] = value
        return params


def parameter_form(schema: tuple[ParamField, ...]) -> type[ParameterForm]:
    """A form class for the parameters a schema names, in its order; bound with the params
    JSON of a version as `initial` it shows them for editing."""
    fields = {param.name: _field(param) for param in schema}
    # A notice's title is kept as typed (its full-width brackets are the notice's own).
    keep_width = tuple(param.name for param in schema if param.type == "text")
    return type(ParameterForm)("ProgramParameterForm", (ParameterForm,),
                               {**fields, "schema": schema, "keep_width": keep_width})
