from django.apps import AppConfig


class IncentivesConfig(AppConfig):
    name = "incentives"
    verbose_name = "協力金・一時金"

    def ready(self):
        # The go-live page asks what a change would do to the money (facilities cannot import
        # us: dependencies run one way).
        from facilities import money_effects

        from .effects import Estimator

        money_effects.register(Estimator())
