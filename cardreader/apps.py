from django.apps import AppConfig


class CardreaderConfig(AppConfig):
    name = "cardreader"
    verbose_name = "窓口での資格確認"
