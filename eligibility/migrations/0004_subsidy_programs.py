"""The claim-based subsidy programs of docs/domain.md §6 with their parameters as version 1."""

import datetime

from django.db import migrations

from eligibility.rules.subsidies import (
    DEFAULT_DEVICE_LIMITED,
    DEFAULT_DEVICE_SEJUTSU,
    DEFAULT_READER_EXPANSION_2024,
    DEFAULT_RECECOM,
)

PROGRAMS = [
    ("device-sejutsu", "補助金: 施術所のモバイル端末等（最大4.1万円）", "device_sejutsu",
     DEFAULT_DEVICE_SEJUTSU, datetime.date(2024, 4, 1), True),
    ("device-limited", "補助金: 義務化対象外機関の資格確認限定型（3/4・最大3.1万円）",
     "device_limited", DEFAULT_DEVICE_LIMITED, datetime.date(2024, 6, 21), True),
    ("reader-expansion-2024", "補助金: 顔認証付きカードリーダーの増設（1/2）", "reader_expansion",
     DEFAULT_READER_EXPANSION_2024, datetime.date(2024, 9, 1), True),
    ("rececom", "補助金: レセコン連携機能の改修", "rececom", DEFAULT_RECECOM,
     datetime.date(2024, 12, 23), False),
]


def create(apps, schema_editor):
    Program = apps.get_model("eligibility", "Program")
    ParameterVersion = apps.get_model("eligibility", "ParameterVersion")
    for code, name, rule, params, effective, is_open in PROGRAMS:
        program, _ = Program.objects.get_or_create(
            code=code, defaults={"name": name, "rule": rule, "is_open": is_open}
        )
        if not ParameterVersion.objects.filter(program=program).exists():
            ParameterVersion.objects.create(
                program=program, version=1, effective_from=effective, notice=params["notice"],
                params=params, status="active", applied_at=datetime.datetime.now(datetime.UTC),
            )


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0003_program_rules")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
