from django.apps import AppConfig


class ObligationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "obligation"
    verbose_name = "義務化への対応"
