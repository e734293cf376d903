"""Who writes which table (docs/architecture.md#who-owns-which-table): a static check.

Each model belongs to one app, and only that app's code writes its rows. This module reads
the source of every app (ast, nothing imported) and reports each write of a model whose
`app_label` is not the app of the module that writes it:

- a manager or queryset call that writes, rooted at the model: `M.objects.create(...)`,
  `M.objects.filter(...).update(...)`, `bulk_create`, `bulk_update`, `update_or_create`,
  `get_or_create`, `delete`, `create_user`, …;
- model instances `M(...)` given to a `bulk_create` (or `bulk_create_with_history`), directly
  or through a list built in the same function;
- `portal.bulk_copy.copy_rows(M, …)` (COPY into the table);
- `.save()` / `.delete()` on a name bound in the same function to `M(...)` or to a row read
  through `M.objects…` (`get`, `first`, a `for` over a queryset), and `perform(name, …)` (a
  workflow move saves the row).

Names are resolved through the module's imports (`from eligibility.models import X`,
`from eligibility import models`, `get_user_model()`). A write through a related manager
(`facility.activities.create(...)`) is not seen.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

# The project's apps (top-level packages); a module belongs to the first part of its path.
APPS = ("portal", "facilities", "eligibility", "incentives", "subsidies", "payouts",
        "obligation", "cardreader", "todos")

# Third-party tables and the app that writes them: the accounts' (allauth) and the workflow
# log's (django-fsm-log) belong to the kernel, which owns the users and the workflow.
THIRD_PARTY_OWNERS = {"account": "portal", "mfa": "portal", "socialaccount": "portal",
                      "django_fsm_log": "portal"}

QUERYSET_WRITES = frozenset({
    "create", "bulk_create", "bulk_update", "update", "update_or_create", "get_or_create",
    "delete", "create_user", "create_superuser", "raw_update",
})
INSTANCE_WRITES = frozenset({"save", "delete"})
# Reading one row (or rows) from a queryset: the name it is bound to is an instance.
ROW_READS = frozenset({"get", "first", "last", "earliest", "latest", "create"})


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    model: str  # "app_label.Model"
    how: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.how} writes {self.model}"


class ModelIndex:
    """Model classes by (module, name) and by name alone (when the name is unique)."""

    def __init__(self, models: list[tuple[str, str, str]]):
        # (module where the class is defined, class name, app_label)
        self.by_module = {(module, name): label for module, name, label in models}
        by_name: dict[str, set[str]] = {}
        for _module, name, label in models:
            by_name.setdefault(name, set()).add(label)
        self.by_name = {name: labels.pop() for name, labels in by_name.items()
                        if len(labels) == 1}
        self.packages = {module.rsplit(".", 1)[0] for module, _n, _l in models}

    @classmethod
    def from_django(cls) -> ModelIndex:
        from django.apps import apps

        return cls([(model.__module__, model.__name__, model._meta.app_label)
                    for model in apps.get_models(include_auto_created=True)])

    def resolve(self, module: str, name: str) -> str | None:
        """The app_label of `name` imported from `module`, if it is a model."""
        if (module, name) in self.by_module:
            return self.by_module[(module, name)]
        if (f"{module}.models", name) in self.by_module:
            return self.by_module[(f"{module}.models", name)]
        return self.by_name.get(name) if module.split(".")[0] in APPS else None


class _Checker:
    def __init__(self, index: ModelIndex, app: str, path: str, tree: ast.Module,
                 module_name: str):
        self.index = index
        self.app = app
        self.path = path
        self.writes: list[Write] = []
        self.names: dict[str, str] = {}  # a name bound to a model class → "label.Model"
        self.modules: dict[str, str] = {}  # a name bound to a module → its dotted name
        self.package = module_name.rsplit(".", 1)[0]
        self._imports(tree)

    # ---- what names mean

    def _absolute(self, node: ast.ImportFrom) -> str:
        if not node.level:
            return node.module or ""
        base = self.package.split(".")
        if node.level > 1:
            base = base[: -(node.level - 1)]
        return ".".join([*base, *([node.module] if node.module else [])])

    def _imports(self, tree: ast.Module) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = self._absolute(node)
                for alias in node.names:
                    bound = alias.asname or alias.name
                    label = self.index.resolve(module, alias.name)
                    if label is not None:
                        self.names[bound] = f"{label}.{alias.name}"
                    elif alias.name == "models" or f"{module}.{alias.name}" in (
                            self.index.packages):
                        self.modules[bound] = f"{module}.{alias.name}"
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.modules[alias.asname] = alias.name
            elif (isinstance(node, ast.Assign) and len(node.targets) == 1
                  and isinstance(node.targets[0], ast.Name)):
                # `User = get_user_model()`
                model = self.model_of(node.value) if isinstance(node.value, ast.Call) else None
                if model:
                    self.names[node.targets[0].id] = model

    def model_of(self, node: ast.AST) -> str | None:
        """The model a class expression names: `Activity`, `models.Activity`,
        `get_user_model()`."""
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            module = self.modules.get(node.value.id)
            if module is not None:
                label = self.index.resolve(module, node.attr)
                return f"{label}.{node.attr}" if label else None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "get_user_model"):
            label = self.index.by_name.get("User")
            return f"{label}.User" if label else None
        return None

    def queryset_model(self, node: ast.AST) -> str | None:
        """The model of `M.objects…` (any manager attribute of a model class; `M` may be
        `models.M`)."""
        while isinstance(node, (ast.Call, ast.Attribute)):
            if isinstance(node, ast.Call):
                node = node.func
                continue
            model = self.model_of(node.value)
            if model:
                return model
            node = node.value
        return None

    def constructed(self, node: ast.AST) -> str | None:
        """`M(...)` → M."""
        if isinstance(node, ast.Call):
            return self.model_of(node.func)
        return None

    # ---- writes

    def report(self, node: ast.AST, model: str, how: str) -> None:
        label = model.split(".")[0]
        if THIRD_PARTY_OWNERS.get(label, label) != self.app:
            self.writes.append(Write(self.path, node.lineno, model, how))

    def scope(self, body: list[ast.stmt]) -> None:
        """One function (or the module's top level): bind names, then find the writes."""
        instances: dict[str, str] = {}
        lists: dict[str, str] = {}
        nodes = [n for stmt in body for n in ast.walk(stmt)]

        def instance_of(value: ast.AST) -> str | None:
            model = self.constructed(value)
            if model:
                return model
            if isinstance(value, ast.BoolOp):
                for part in value.values:
                    model = instance_of(part)
                    if model:
                        return model
            if (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)
                    and value.func.attr in ROW_READS):
                return self.queryset_model(value)
            return None

        def list_of(value: ast.AST) -> str | None:
            if isinstance(value, (ast.ListComp, ast.GeneratorExp, ast.SetComp)):
                return self.constructed(value.elt)
            if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
                for element in value.elts:
                    model = self.constructed(element)
                    if model:
                        return model
            if isinstance(value, ast.Name):
                return lists.get(value.id)
            return None

        for node in nodes:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if (isinstance(target, ast.Tuple) and target.elts
                            and isinstance(target.elts[0], ast.Name)
                            and isinstance(node.value, ast.Call)
                            and isinstance(node.value.func, ast.Attribute)
                            and node.value.func.attr in ("get_or_create", "update_or_create")):
                        # `row, created = M.objects.get_or_create(...)`
                        model = self.queryset_model(node.value.func.value)
                        if model:
                            instances[target.elts[0].id] = model
                    if isinstance(target, ast.Name):
                        model = instance_of(node.value)
                        if model:
                            instances[target.id] = model
                        model = list_of(node.value)
                        if model:
                            lists[target.id] = model
            elif isinstance(node, (ast.For, ast.comprehension)):
                target = node.target
                if isinstance(target, ast.Name):
                    model = self.queryset_model(node.iter) if isinstance(
                        node.iter, ast.Call) else None
                    if model:
                        instances[target.id] = model
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in ("append", "extend")
                  and isinstance(node.func.value, ast.Name) and node.args):
                argument = node.args[0]
                model = (self.constructed(argument) if node.func.attr == "append"
                         else list_of(argument))
                if model:
                    lists[node.func.value.id] = model

        for node in nodes:
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Attribute):
                if func.attr in QUERYSET_WRITES:
                    model = self.queryset_model(func.value)
                    if model:
                        self.report(node, model, f".{func.attr}()")
                        continue
                if func.attr == "bulk_create" and node.args:
                    model = list_of(node.args[0])
                    if model:
                        self.report(node, model, "bulk_create of instances")
                        continue
                if func.attr in INSTANCE_WRITES:
                    receiver = func.value
                    model = (instances.get(receiver.id) if isinstance(receiver, ast.Name)
                             else self.constructed(receiver))
                    if model:
                        self.report(node, model, f"instance .{func.attr}()")
                        continue
            name = func.id if isinstance(func, ast.Name) else (
                func.attr if isinstance(func, ast.Attribute) else "")
            if name == "copy_rows" and node.args:
                # portal.bulk_copy.copy_rows(M, columns, rows): COPY into M's table.
                model = self.model_of(node.args[0])
                if model:
                    self.report(node, model, "copy_rows()")
            elif name == "bulk_create_with_history" and len(node.args) >= 2:
                model = self.model_of(node.args[1]) or list_of(node.args[0])
                if model:
                    self.report(node, model, "bulk_create_with_history")
            elif name == "perform" and node.args and isinstance(node.args[0], ast.Name):
                model = instances.get(node.args[0].id)
                if model:
                    self.report(node, model, "workflow perform()")


def check_source(source: str, *, app: str, path: str = "<source>",
                 module_name: str | None = None, index: ModelIndex) -> list[Write]:
    """The cross-app writes of one module's source, written from `app`."""
    tree = ast.parse(source)
    checker = _Checker(index, app, path, tree, module_name or f"{app}.module")
    checker.scope([s for s in tree.body
                   if not isinstance(s, (ast.FunctionDef, ast.AsyncFunctionDef,
                                         ast.ClassDef))])
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            checker.scope(node.body)
    # A write in a nested function is seen from its own scope and from the enclosing one.
    return sorted(set(checker.writes), key=lambda w: (w.path, w.line, w.model))


def app_modules(root: Path):
    """(app, path, dotted module name) of every module of the apps, without migrations."""
    for app in APPS:
        for path in sorted((root / app).rglob("*.py")):
            relative = path.relative_to(root)
            if "migrations" in relative.parts:
                continue
            module = ".".join(relative.with_suffix("").parts)
            yield app, relative, module.removesuffix(".__init__")


def cross_app_writes(root: Path, index: ModelIndex | None = None) -> list[Write]:
    index = index or ModelIndex.from_django()
    found: list[Write] = []
    for app, relative, module in app_modules(root):
        found += check_source((root / relative).read_text(encoding="utf-8"), app=app,
                              path=str(relative), module_name=module, index=index)
    return found


MAIN_FACILITY = ("main_facility", "main_facility_id")
# The one writer of Facility.main_facility (docs/architecture.md#who-owns-which-table).
MAIN_FACILITY_WRITER = "facilities/services.py"


def main_facility_writes(source: str, path: str) -> list[str]:
    """`x.main_facility = …` and `main_facility=` given to a write (`update`, `create`, …,
    a constructor) anywhere but in `facilities.services.set_main_facility`'s module."""
    if path == MAIN_FACILITY_WRITER:
        return []
    found = []
    for node in ast.walk(ast.parse(source)):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign))
                   else [])
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, ast.Attribute) and part.attr in MAIN_FACILITY:
                    found.append(f"{path}:{node.lineno}: assigns .{part.attr}")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else (
                node.func.id if isinstance(node.func, ast.Name) else "")
            writes = name in QUERYSET_WRITES or name == "Facility"
            if writes and any(k.arg in MAIN_FACILITY for k in node.keywords):
                found.append(f"{path}:{node.lineno}: {name}(main_facility=…)")
    return found
