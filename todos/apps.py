from django.apps import AppConfig


class TodosConfig(AppConfig):
    name = "todos"
    verbose_name = "やることリスト・お知らせメール"

    def ready(self) -> None:
        from facilities.home_sections import add_section

        from .views import facility_home_section

        add_section(facility_home_section)
