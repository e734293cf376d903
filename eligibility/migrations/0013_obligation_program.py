"""The obligation's two dates (docs/domain.md §7) as the parameters of a program, version 1 applied:
"70 or older as of April 2024" = born on or before 1954-04-01, and the last planned date of a
closure or of the end of 受領委任 accepted, 2025-12-02. In force from 2024-12-02, the day the
obligation began. The values are written here, as data: the code has no default."""

import datetime

from django.db import migrations

NOTICE = ("厚生労働省「オンライン資格確認が未導入の柔道整復師、はり師、きゅう師及び"
          "あん摩マッサージ指圧師の施術所等への対応について」")
PARAMS = {"born_on_or_before": "1954-04-01", "deadline": "2025-12-02", "notice": NOTICE}


def create(apps, schema_editor):
    Program = apps.get_model("eligibility", "Program")
    ParameterVersion = apps.get_model("eligibility", "ParameterVersion")
    program, _ = Program.objects.get_or_create(
        code="obligation", defaults={"name": "義務化の猶予（やむを得ない事由）", "rule": "obligation",
                                     "is_open": True})
    if not ParameterVersion.objects.filter(program=program).exists():
        ParameterVersion.objects.create(
            program=program, version=1, effective_from=datetime.date(2024, 12, 2),
            notice=NOTICE, params=PARAMS, status="active",
            applied_at=datetime.datetime.now(datetime.UTC))


def remove(apps, schema_editor):
    Program = apps.get_model("eligibility", "Program")
    ParameterVersion = apps.get_model("eligibility", "ParameterVersion")
    ParameterVersion.objects.filter(program__code="obligation").delete()
    Program.objects.filter(code="obligation").delete()


class Migration(migrations.Migration):
    dependencies = [("eligibility", "0012_parameter_history")]
    operations = [migrations.RunPython(create, remove)]
