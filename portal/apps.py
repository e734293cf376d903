from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_roles(sender, using="default", **kwargs):
    from .roles import sync_roles

    sync_roles(using=using)


class PortalConfig(AppConfig):
    name = "portal"
    verbose_name = "ポータル"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the deploy checks
        # After every migrate (and a test database flush): the roles hold their permissions.
        post_migrate.connect(_sync_roles, sender=self, dispatch_uid="portal-sync-roles")
