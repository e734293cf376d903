"""Test data built once for a module's tests, instead of once for each of them.

A module-scoped fixture builds the data in a transaction that stays open while the module's
tests run; pytest-django runs each (non-transactional) test in a savepoint of it and rolls the
savepoint back, so each test starts from the data as built, whatever the one before it did,
and the module's end rolls the whole back. The files the data keeps privately (receipts,
letters) are written under a directory of the module's, which each test must use as its
private storage too:

    @pytest.fixture(scope="module")
    def world_storage(tmp_path_factory):
        return tmp_path_factory.mktemp("world-private")

    @pytest.fixture(scope="module")
    def world(django_db_setup, django_db_blocker, world_storage):
        with built_once(django_db_blocker, _world, private_storage=world_storage) as built:
            yield built

    @pytest.fixture(autouse=True)
    def _world_files(settings, world_storage):
        settings.PRIVATE_STORAGE_ROOT = world_storage

Only for modules whose tests are not transactional: a transactional test would commit inside
the transaction, and its flush would empty the lot.
"""

from contextlib import contextmanager

from django.conf import settings
from django.db import transaction


@contextmanager
def built_once(django_db_blocker, build, *, private_storage):
    kept = settings.PRIVATE_STORAGE_ROOT
    with django_db_blocker.unblock(), transaction.atomic():
        settings.PRIVATE_STORAGE_ROOT = private_storage
        try:
            built = build()
        finally:
            settings.PRIVATE_STORAGE_ROOT = kept
        try:
            yield built
        finally:
            transaction.set_rollback(True)
