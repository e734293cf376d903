from django.apps import AppConfig


class ObligationConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "obligation"
    verbose_name = "義務化への対応"

    def ready(self):
        # The compliance status follows the facts, as eligibility's results do.
        from facilities import fact_changes

        from .compliance import recompute_after_commit, recompute_collected
        from .program import register_obligation

        # Its entry in the program registry and `simulate exemption` (obligation/program.py).
        register_obligation()
        fact_changes.listen(recompute_after_commit)
        fact_changes.listen_settled(recompute_collected)
