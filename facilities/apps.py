from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "facilities"
    verbose_name = "施設・利用申請"

    def ready(self):
        # The facility's history (Activity) is one of the trails of an object's whole
        # history, which the kernel reads without importing this app.
        from portal.history import add_trail

        from .selectors import activity_entries

        add_trail(activity_entries)
