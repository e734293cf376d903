from django.apps import AppConfig


class SubsidiesConfig(AppConfig):
    name = "subsidies"
    verbose_name = "補助金"

    def ready(self) -> None:
        from portal.demo import add_part

        from .demo import load_demo_grants

        add_part(load_demo_grants)
