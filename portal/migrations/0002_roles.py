"""The administrators' roles as groups (portal/roles.py says what each may do)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from portal.roles import sync_roles

    sync_roles(apps, using=schema_editor.connection.alias)


class Migration(migrations.Migration):
    dependencies = [
        ("portal", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("facilities", "0004_workflow_and_permissions"),
        ("eligibility", "0005_workflow_and_permissions"),
        ("subsidies", "0002_workflow_and_permissions"),
        ("incentives", "0001_initial"),
        ("django_celery_beat", "__latest__"),
    ]

    operations = [migrations.RunPython(create_roles, migrations.RunPython.noop)]
