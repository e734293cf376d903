"""The public list's search: a normalised search column (filled here for the entries already
listed), a GIN trigram index on it on PostgreSQL (pg_trgm; SQLite has none and scans), a
prefix index on the code and (prefecture, code) as the list's order and page key."""

from django.db import migrations, models

from facilities.models import public_list_search_text

TRIGRAM_INDEX = "public_list_search_trgm"


def fill_search_text(apps, schema_editor):
    entry_model = apps.get_model("facilities", "PublicListEntry")
    batch = []
    for entry in entry_model.objects.only("name", "prefecture", "address").iterator(
            chunk_size=5000):
        entry.search_text = public_list_search_text(
            name=entry.name, prefecture=entry.prefecture, address=entry.address)
        batch.append(entry)
        if len(batch) >= 5000:
            entry_model.objects.bulk_update(batch, ["search_text"])
            batch = []
    entry_model.objects.bulk_update(batch, ["search_text"])


def add_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {TRIGRAM_INDEX} ON facilities_publiclistentry "
        "USING gin (search_text gin_trgm_ops)")


def drop_trigram_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")


class Migration(migrations.Migration):

    dependencies = [
        ("facilities", "0005_admin_labels_and_assignment"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="publiclistentry",
            name="facilities__prefect_fb8d9e_idx",
        ),
        migrations.AddField(
            model_name="publiclistentry",
            name="search_text",
            field=models.TextField(blank=True, default="", verbose_name="検索用の文字列"),
        ),
        migrations.AlterField(
            model_name="publiclistentry",
            name="name",
            field=models.CharField(max_length=200),
        ),
        migrations.AddIndex(
            model_name="publiclistentry",
            index=models.Index(fields=["code"], name="public_list_code_prefix",
                               opclasses=["varchar_pattern_ops"]),
        ),
        migrations.AddConstraint(
            model_name="publiclistentry",
            constraint=models.UniqueConstraint(fields=("prefecture", "code"),
                                               name="public_list_order"),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop),
        migrations.RunPython(add_trigram_index, drop_trigram_index),
    ]
