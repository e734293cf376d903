"""Admin widgets that survive malformed input. Django's autocomplete widget looks the
submitted value up as a primary key when it re-renders a refused form, and a value such as
`1e9` or 2**63 then raises instead of showing the form again with its error."""

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.db import connections, models


class _OnlyWellFormed:
    def optgroups(self, name, value, attr=None):
        field = self.choices.queryset.model._meta.get_field(
            self.field.remote_field.field_name)
        low, high = None, None
        if isinstance(field, models.IntegerField):
            low, high = connections[self.db or "default"].ops.integer_field_range(
                field.get_internal_type())
        well_formed = []
        for item in value:
            try:
                python = field.to_python(item)
            except (ValidationError, TypeError, ValueError):
                continue
            if low is not None and not low <= python <= high:
                continue  # a key no row can have (and SQLite cannot even compare)
            well_formed.append(item)
        return super().optgroups(name, well_formed, attr)


class WellFormedAutocompleteSelect(_OnlyWellFormed, AutocompleteSelect):
    pass


class WellFormedAutocompleteSelectMultiple(_OnlyWellFormed, AutocompleteSelectMultiple):
    pass


class WellFormedAutocomplete:
    """ModelAdmin mixin: its autocomplete fields ignore malformed values when re-rendered."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and type(formfield.widget) is AutocompleteSelect:
            formfield.widget.__class__ = WellFormedAutocompleteSelect
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and type(formfield.widget) is AutocompleteSelectMultiple:
            formfield.widget.__class__ = WellFormedAutocompleteSelectMultiple
        return formfield
