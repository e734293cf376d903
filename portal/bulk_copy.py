"""Many rows into one table at once, for the synthetic dataset (each app its own tables): on
PostgreSQL with COPY, elsewhere with bulk_create in batches."""

from collections.abc import Iterable, Sequence

from django.db import connection


def copy_rows(model, columns: Sequence[str], rows: Iterable[tuple]) -> int:
    """Insert `rows` (tuples in the order of `columns`) into `model`'s table; their count."""
    table = model._meta.db_table
    count = 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            raw = cursor.cursor  # the psycopg cursor, for COPY
            with raw.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    batch = []
    for row in rows:
        batch.append(model(**dict(zip(columns, row, strict=True))))
        if len(batch) >= 5000:
            model.objects.bulk_create(batch)
            count += len(batch)
            batch = []
    model.objects.bulk_create(batch)
    return count + len(batch)
