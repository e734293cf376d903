from django.apps import AppConfig


class EligibilityConfig(AppConfig):
    name = "eligibility"
    verbose_name = "支給判定"

    def ready(self):
        # Results follow the facts: facilities tells us when a facility's facts change.
        from facilities import fact_changes
        from portal.demo import add_part

        from .demo import load_demo_incentives
        from .services import queue_redetermination, request_redetermination

        fact_changes.listen(request_redetermination)
        fact_changes.listen_settled(queue_redetermination)
        # The demo's statistics, report, attestation and results (after its facilities).
        add_part(load_demo_incentives)
