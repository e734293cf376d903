"""Admin choice fields and widgets that survive malformed keys. Django looks a submitted
value up as a primary key — when it validates a model choice, and when the autocomplete
widget re-renders a refused form — and a value such as `1e9`, or 2**63 (which SQLite cannot
even bind), then raises instead of showing the form again with its error."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import connections, models


def _well_formed(field: models.Field, value, using: str | None) -> bool:
    """Could `value` be a key of this column at all?"""
    try:
        python = field.to_python(value)
    except (ValidationError, TypeError, ValueError):
        return False
    if isinstance(field, models.IntegerField) and python is not None:
        low, high = connections[using or "default"].ops.integer_field_range(
            field.get_internal_type())
        return (low is None or python >= low) and (high is None or python <= high)
    return True


def _key_field(queryset, to_field_name: str | None) -> models.Field:
    return queryset.model._meta.get_field(to_field_name or queryset.model._meta.pk.name)


class _OnlyWellFormed:
    def optgroups(self, name, value, attr=None):
        field = self.choices.queryset.model._meta.get_field(
            self.field.remote_field.field_name)
        kept = [item for item in value if _well_formed(field, item, self.db)]
        return super().optgroups(name, kept, attr)


class WellFormedAutocompleteSelect(_OnlyWellFormed, AutocompleteSelect):
    pass


class WellFormedAutocompleteSelectMultiple(_OnlyWellFormed, AutocompleteSelectMultiple):
    pass


class WellFormedModelChoiceField(forms.ModelChoiceField):
    def to_python(self, value):
        if value not in self.empty_values and not _well_formed(
                _key_field(self.queryset, self.to_field_name), value, self.queryset.db):
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return super().to_python(value)


class WellFormedModelMultipleChoiceField(forms.ModelMultipleChoiceField):
    def _check_values(self, value):
        field = _key_field(self.queryset, self.to_field_name)
        for item in value:
            if not _well_formed(field, item, self.queryset.db):
                raise ValidationError(self.error_messages["invalid_pk_value"],
                                      code="invalid_pk_value", params={"pk": item})
        return super()._check_values(value)


class WellFormedChoices:
    """ModelAdmin mixin: its foreign-key and many-to-many fields refuse malformed keys with
    the field's own error, and its autocomplete widgets ignore them when re-rendered."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and type(formfield) is forms.ModelChoiceField:
            formfield.__class__ = WellFormedModelChoiceField
        if formfield is not None and type(formfield.widget) is AutocompleteSelect:
            formfield.widget.__class__ = WellFormedAutocompleteSelect
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and type(formfield) is forms.ModelMultipleChoiceField:
            formfield.__class__ = WellFormedModelMultipleChoiceField
        if formfield is not None and type(formfield.widget) is AutocompleteSelectMultiple:
            formfield.widget.__class__ = WellFormedAutocompleteSelectMultiple
        return formfield
