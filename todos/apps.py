from django.apps import AppConfig


class TodosConfig(AppConfig):
    name = "todos"
    verbose_name = "やることリスト・お知らせメール"
