"""A result keeps the reason texts it was decided with (docs/domain.md §5.4): the batch stores them
with every row it writes. Results written while the texts were worded anew for each page
(they kept only their facts) get their texts once, here, worded by the rule under their own
parameter version as the page showed them until now; results that kept texts keep them."""

from django.db import migrations, models

CHUNK = 2000


def freeze_texts(apps, schema_editor):
    from eligibility.engine import RULES

    Determination = apps.get_model("eligibility", "Determination")
    rows = (Determination.objects.filter(facts__isnull=False, stored_reasons=[])
            .select_related("program", "parameter_version").order_by("pk"))
    parsed: dict[int, object] = {}
    last = 0
    while True:
        chunk = list(rows.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            return
        for row in chunk:
            binding = RULES.get(row.program.rule)
            if binding is None:
                continue
            params = parsed.get(row.parameter_version_id)
            if params is None:
                params = parsed[row.parameter_version_id] = binding.params_from_dict(
                    row.parameter_version.params)
            fact = binding.facts_type.from_json(row.facts)
            row.stored_reasons = binding.determine(params, fact).reason_texts
        Determination.objects.bulk_update(chunk, ["stored_reasons"])
        last = chunk[-1].pk


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0013_obligation_program"),
    ]

    operations = [
        migrations.AlterField(
            model_name="determination",
            name="stored_reasons",
            field=models.JSONField(blank=True, db_column="reasons", default=list,
                                   verbose_name="判定理由（判定時の文面）"),
        ),
        migrations.RunPython(freeze_texts, migrations.RunPython.noop),
    ]
