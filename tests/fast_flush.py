"""A transactional test's database left as Django leaves it, at a fraction of the cost.

After each transactional test (and each browser test: the live server needs one) Django
empties every table (TRUNCATE of all 80-odd tables), then runs post_migrate again, which makes
the content types, the permissions and the roles' groups afresh: about a second a test, most
of it in post_migrate, for ~90 tests.

Here, on PostgreSQL, the tables post_migrate makes are kept when they are exactly as
post_migrate left them (their contents' checksum, taken after the last full flush, is the
same), the other tables are emptied if they hold a row, and post_migrate is not run: the
database is then as the full flush would leave it, but for the content types' and
permissions' ids, which stay the same. When a test changed one of those tables (a group's
permissions, a new content type), the test ends with Django's full flush, and the checksum is
taken again. Other databases and tests that flush a subset of apps (`available_apps`) or
use serialized rollback go through Django's flush unchanged.
"""

from django.core.management import call_command
from django.db import connections, transaction
from django.test import TransactionTestCase

MADE_BY_POST_MIGRATE = ("django_content_type", "auth_permission", "auth_group",
                        "auth_group_permissions")
_made: dict[str, str] = {}  # database alias → checksum of those tables after a full flush


def _checksum(connection) -> str:
    parts = " || ".join(
        f"(SELECT coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM {table} t)"  # noqa: S608 - Django's own table names
        for table in MADE_BY_POST_MIGRATE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {parts}")
        return cursor.fetchone()[0]


def _empty_the_others(connection) -> None:
    """DELETE, in one transaction, from every other table that holds a row: Django's foreign
    keys are deferred on PostgreSQL, so the order does not matter, and no kept table points
    at another table. (TRUNCATE would recreate each table's files, which costs more than
    deleting the few rows a test leaves.)"""
    tables = [table for table in connection.introspection.django_table_names(
        only_existing=True, include_views=False) if table not in MADE_BY_POST_MIGRATE]
    quote = connection.ops.quote_name
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(
            f"SELECT {index} FROM (SELECT 1 FROM {quote(table)} LIMIT 1) AS t{index}"  # noqa: S608
            for index, table in enumerate(tables)))
        for (index,) in cursor.fetchall():
            cursor.execute(f"DELETE FROM {quote(tables[index])}")  # noqa: S608 - the models' tables


def _fixture_teardown(self) -> None:
    if self.available_apps is not None or self.serialized_rollback:
        return _django_fixture_teardown(self)
    for alias in self._databases_names(include_mirrors=False):
        connection = connections[alias]
        if connection.vendor == "postgresql" and _made.get(alias) == _checksum(connection):
            _empty_the_others(connection)
            continue
        call_command("flush", verbosity=0, interactive=False, database=alias,
                     reset_sequences=False, allow_cascade=False, inhibit_post_migrate=False)
        if connection.vendor == "postgresql":
            _made[alias] = _checksum(connection)


_django_fixture_teardown = TransactionTestCase._fixture_teardown


def install() -> None:
    TransactionTestCase._fixture_teardown = _fixture_teardown
