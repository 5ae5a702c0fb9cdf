"""Errors the use cases raise; the web, API and CLI turn each into a clear message."""


class ServiceError(Exception):
    """Base of the errors a caller is expected to show to a person."""


class NotFoundError(ServiceError):
    """No such object, or one the actor may not see (the two are never told apart)."""


class PermissionDeniedError(ServiceError):
    """The actor may see the object but not do this to it."""


class ConflictError(ServiceError):
    """Someone else changed the object first; nothing was changed by this request."""


class FrozenRecordError(ConflictError):
    """The record is finished (a hazard closed or rejected): what it holds may no longer change."""


class InvalidInputError(ServiceError):
    """Input that no form validates (e.g. an unknown enterprise)."""


class FieldsInvalid(InvalidInputError):
    """Fields of a form that are wrong: field name → the message shown beside it (all of them at once)."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("；".join(errors.values()))
        self.errors = errors
