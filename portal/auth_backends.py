"""A user's permissions read in one query, ahead of Django's ModelBackend.

Every administrator's request asks the user's permissions at least once (the admin's menu,
each model's pages): ModelBackend reads them in two ORM queries (the user's own, then through
the groups), about 3 ms of a 13 ms admin page, most of it the ORM building them. This
backend comes first in AUTHENTICATION_BACKENDS and reads them in one prepared SQL statement
(the table and column names from the models), cached on the user object for the request
under ModelBackend's own name (`_perm_cache`), so the ModelBackends after it (Django's and
allauth's) answer from it and query nothing.

It signs nobody in (`authenticate` is the next backends', so no password is hashed once
more and the sessions keep naming the backend that signed them in); it reads a session's
user as ModelBackend does (a test's `force_login` names the first backend). Inactive and
anonymous users have no permission; a superuser has every one."""

from functools import cache

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connections, router


@cache
def _statements() -> tuple[str, str]:
    """(every permission, a user's own and its groups'), with %s for the user's id twice."""
    user_model = get_user_model()
    quote = connections[router.db_for_read(Permission)].ops.quote_name

    def table(model) -> str:
        return quote(model._meta.db_table)

    def column(model, name: str) -> str:
        return quote(model._meta.get_field(name).column)

    own = user_model.user_permissions.through
    in_group = user_model.groups.through
    group_permission = Group.permissions.through
    user_field = user_model._meta.get_field("user_permissions").m2m_field_name()
    group_user_field = user_model._meta.get_field("groups").m2m_field_name()
    # The models' own table and column names, quoted; the user's id is a parameter.
    every = (f"SELECT c.{column(ContentType, 'app_label')}, p.{column(Permission, 'codename')} "  # noqa: S608
             f"FROM {table(Permission)} p JOIN {table(ContentType)} c "
             f"ON c.{column(ContentType, 'id')} = p.{column(Permission, 'content_type')}")
    mine = (f"{every} WHERE p.{column(Permission, 'id')} IN ("  # noqa: S608
            f"SELECT {column(own, 'permission')} FROM {table(own)} "
            f"WHERE {column(own, user_field)} = %s "
            f"UNION SELECT gp.{column(group_permission, 'permission')} "
            f"FROM {table(group_permission)} gp JOIN {table(in_group)} ug "
            f"ON ug.{column(in_group, 'group')} = gp.{column(group_permission, 'group')} "
            f"WHERE ug.{column(in_group, group_user_field)} = %s)")
    return every, mine


class PermissionsInOneQuery(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        return None

    def get_all_permissions(self, user_obj, obj=None):
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if not hasattr(user_obj, "_perm_cache"):
            every, mine = _statements()
            with connections[router.db_for_read(Permission)].cursor() as cursor:
                if user_obj.is_superuser:
                    cursor.execute(every)
                else:
                    cursor.execute(mine, [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app_label}.{codename}"
                                        for app_label, codename in cursor.fetchall()}
        return user_obj._perm_cache
