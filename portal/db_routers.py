"""Database routing for a read replica (DATABASE_REPLICA_URL, the alias "replica").

With a replica configured, two kinds of reads go to it: the public list (its entries and
builds, written only by the weekly rebuild and read by everyone, anonymous visitors included)
and whatever is read inside `replica_reads()` (the administrators' count pages, which
aggregate over every facility and may be a few seconds behind). Everything else, every write,
and every read inside a transaction on the primary (which must see its own writes) use
"default". Migrations run on "default" only; the replica follows it by replication.
Without a replica every query goes to "default", as if there were no router.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

# Read-only for everyone but the weekly rebuild (which writes, so it uses "default").
REPLICA_MODELS = frozenset({"facilities.publiclistentry", "facilities.publiclistbuild"})

_replica_reads: ContextVar[bool] = ContextVar("replica_reads", default=False)


@contextmanager
def replica_reads() -> Iterator[None]:
    """Reads of any model inside go to the replica (when there is one): for pages that only
    count or list, where a few seconds' lag does no harm."""
    token = _replica_reads.set(True)
    try:
        yield
    finally:
        _replica_reads.reset(token)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    def db_for_read(self, model, **hints) -> str:
        if not replica_configured():
            return DEFAULT_DB_ALIAS
        instance = hints.get("instance")
        if instance is not None and instance._state.db:
            return instance._state.db  # related objects come from where their owner came
        if connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS  # a transaction reads its own writes
        if model._meta.label_lower in REPLICA_MODELS or _replica_reads.get():
            return REPLICA
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints) -> bool:
        return True  # the replica holds the same rows as the primary

    def allow_migrate(self, db, app_label, model_name=None, **hints) -> bool:
        return db == DEFAULT_DB_ALIAS
