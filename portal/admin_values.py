"""Values in the admin as officers read them (docs/domain.md §10): an amount in yen is
written 41,000円 (not 41000), a month 2023年10月 (not 2023年10月1日), in every list column and
every read-only field of every admin of the site.

A model field is an amount in yen when its verbose name ends with 「（円）」 (金額（円）), and a
month when it is a DateField whose verbose name is 「年月」 (stored as the month's first day).
`PortalAdminSite.register` puts `FormattedValuesAdmin` in front of every ModelAdmin, so an
admin needs no declaration of its own: each such field named in `list_display` or shown
read-only is replaced by a column of the same heading (without 「（円）」) that formats it,
sorted by the field still. Editable fields are left to their form."""

from django.contrib import admin
from django.db import models
from django.utils.text import capfirst

from .templatetags.yen import yen_filter

YEN_SUFFIX = "（円）"
MONTH_LABEL = "年月"


def format_month(value) -> str:
    """2023年10月 for a date of that month; empty for None."""
    if value in (None, ""):
        return ""
    return f"{value.year}年{value.month}月"


def value_kind(field) -> str | None:
    """"yen", "month" or None for a model field."""
    verbose = str(getattr(field, "verbose_name", ""))
    if isinstance(field, models.IntegerField) and not field.choices \
            and verbose.endswith(YEN_SUFFIX):
        return "yen"
    if isinstance(field, models.DateField) and not isinstance(field, models.DateTimeField) \
            and verbose == MONTH_LABEL:
        return "month"
    return None


def heading(field) -> str:
    verbose = str(field.verbose_name)
    if verbose.endswith(YEN_SUFFIX) and verbose != YEN_SUFFIX:
        verbose = verbose[: -len(YEN_SUFFIX)]
    return capfirst(verbose)


def formatted_column(field):
    """The admin column (a function of the object) showing `field` formatted."""
    kind = value_kind(field)
    formatter = yen_filter if kind == "yen" else format_month
    name = field.name

    @admin.display(description=heading(field), ordering=name)
    def column(obj) -> str:
        return formatter(getattr(obj, name))

    column.__name__ = formatted_name(name)
    return column


def formatted_name(name: str) -> str:
    return f"formatted_{name}"


class FormattedValuesAdmin:
    """Mixin for a ModelAdmin (put in front of every admin of the site by PortalAdminSite):
    amounts and months of its model are shown formatted, as the module says."""

    def __init__(self, model, admin_site):
        super().__init__(model, admin_site)
        self.formatted_fields = set()
        for field in model._meta.get_fields():
            if value_kind(field) is not None:
                self.formatted_fields.add(field.name)
                if not hasattr(self, formatted_name(field.name)):
                    setattr(self, formatted_name(field.name), formatted_column(field))

    def _formatted(self, names, only=None):
        """`names` (a list display, a fieldset's fields) with each formatted field among
        `only` (all of them if None) replaced by its column, each name once."""
        if not names or not self.formatted_fields:
            return names
        chosen = self.formatted_fields if only is None else self.formatted_fields & set(only)
        seen = set()

        def replace(item):
            if isinstance(item, list | tuple):
                return type(item)(each for each in map(replace, item) if each is not None)
            if isinstance(item, str) and item in chosen:
                item = formatted_name(item)
            if isinstance(item, str):
                if item in seen:
                    return None
                seen.add(item)
            return item

        return type(names)(each for each in map(replace, names) if each not in (None, ()))

    def get_list_display(self, request):
        return self._formatted(super().get_list_display(request))

    def get_list_display_links(self, request, list_display):
        links = super().get_list_display_links(request, list_display)
        return self._formatted(links) if links else links

    def get_readonly_fields(self, request, obj=None):
        """The read-only fields, and the columns that show the formatted ones: the model
        fields stay read-only (out of the form), the fieldsets show the columns instead."""
        readonly = list(super().get_readonly_fields(request, obj))
        added = [formatted_name(name) for name in readonly
                 if isinstance(name, str) and name in self.formatted_fields]
        return readonly + [name for name in added if name not in readonly]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        readonly = [name for name in self.get_readonly_fields(request, obj)
                    if isinstance(name, str) and name in self.formatted_fields]
        if not readonly:
            return fieldsets
        return [(title, {**options, "fields": self._formatted(options["fields"], readonly)})
                for title, options in fieldsets]


def with_formatted_values(admin_class):
    """The admin class with FormattedValuesAdmin in front (PortalAdminSite.register)."""
    if issubclass(admin_class, FormattedValuesAdmin):
        return admin_class
    return type(admin_class.__name__, (FormattedValuesAdmin, admin_class),
                {"__module__": admin_class.__module__,
                 "__qualname__": admin_class.__qualname__})
