"""The refusals a service may give, shown to the user in Japanese, and the one place that
puts them on a form (next to the field named, or at the top when none is)."""


class ServiceError(Exception):
    """A refusal to show the user: `message` is Japanese, `field` names the form field."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class IllegalTransition(ServiceError):
    """A move the object's state does not allow (already decided, or decided meanwhile)."""


class NotPermitted(ServiceError):
    """The user lacks the permission a move or an action needs."""

    def __init__(self, message: str = "この操作を行う権限がありません。", field: str | None = None):
        super().__init__(message, field)


def add_error_to_form(form, error: ServiceError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)
