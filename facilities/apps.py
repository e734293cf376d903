from django.apps import AppConfig


class FacilitiesConfig(AppConfig):
    name = "facilities"
    verbose_name = "施設・利用申請"

    def ready(self) -> None:
        from portal.demo import add_notes, add_part
        from portal.history import add_trail

        from .demo import load_demo, unlinked_notes
        from .selectors import activity_entries

        add_part(load_demo)
        add_notes(unlinked_notes)
        # The facility's history (Activity) is one of the trails of an object's whole
        # history, which the kernel reads without importing this app.
        add_trail(activity_entries)
