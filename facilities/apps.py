from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "facilities"
    verbose_name = "施設・利用申請"

    def ready(self) -> None:
        from portal.demo import add_part

        from .demo import load_demo

        add_part(load_demo)
