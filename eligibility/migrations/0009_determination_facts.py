"""A result keeps the facts its rule read and the cell it chose; the reason texts are written
by the rule when a page shows them. Texts stored before stay (as `stored_reasons`, the same
column) for results that have no facts, such as those already in a payout. A run records
where its time went. Two indexes that composite ones already cover are dropped."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("eligibility", "0008_attestation_label_terms"),
        ("facilities", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameField("determination", "reasons", "stored_reasons"),
                migrations.AlterField(
                    model_name="determination",
                    name="stored_reasons",
                    field=models.JSONField(blank=True, db_column="reasons", default=list,
                                           verbose_name="判定理由（記録済みの文面）"),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="determination",
            name="facts",
            field=models.JSONField(blank=True, null=True, verbose_name="判定に用いた事実"),
        ),
        migrations.AlterField(
            model_name="determination",
            name="details",
            field=models.JSONField(default=dict, verbose_name="判定の区分"),
        ),
        # Each is the first column of a composite index already.
        migrations.AlterField(
            model_name="determination",
            name="facility",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE,
                                    related_name="determinations", to="facilities.facility",
                                    verbose_name="施設"),
        ),
        migrations.AlterField(
            model_name="determination",
            name="program",
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT,
                                    related_name="determinations", to="eligibility.program",
                                    verbose_name="プログラム"),
        ),
        migrations.AddField(
            model_name="eligibilityrun",
            name="facts_seconds",
            field=models.FloatField(default=0, verbose_name="事実の収集（秒）"),
        ),
        migrations.AddField(
            model_name="eligibilityrun",
            name="rule_seconds",
            field=models.FloatField(default=0, verbose_name="判定（秒）"),
        ),
        migrations.AddField(
            model_name="eligibilityrun",
            name="write_seconds",
            field=models.FloatField(default=0, verbose_name="書き込み（秒）"),
        ),
        migrations.AddField(
            model_name="eligibilityrun",
            name="written",
            field=models.PositiveIntegerField(default=0, verbose_name="書き込んだ結果の数"),
        ),
    ]
