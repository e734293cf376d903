"""The programs of docs/domain.md §5 with their real parameters as version 1 (editable afterwards by
administrators as new versions)."""

import datetime

from django.db import migrations

from eligibility.rules.cooperation import DEFAULT_COOPERATION_2025
from eligibility.rules.lump_sum import DEFAULT_LUMP_SUM_2024

PROGRAMS = [
    ("cooperation-2025", "協力金（施術所・2025年）", "cooperation", DEFAULT_COOPERATION_2025,
     datetime.date(2025, 5, 1)),
    ("lump-sum-2024", "一時金（医療機関・薬局・2024年）", "lump_sum", DEFAULT_LUMP_SUM_2024,
     datetime.date(2024, 5, 1)),
]


def create(apps, schema_editor):
    Program = apps.get_model("eligibility", "Program")
    ParameterVersion = apps.get_model("eligibility", "ParameterVersion")
    for code, name, rule, params, effective in PROGRAMS:
        program, _ = Program.objects.get_or_create(code=code, defaults={"name": name, "rule": rule})
        if not ParameterVersion.objects.filter(program=program).exists():
            ParameterVersion.objects.create(
                program=program, version=1, effective_from=effective, notice=params["notice"],
                params=params, status="active", applied_at=datetime.datetime.now(datetime.UTC),
            )


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
