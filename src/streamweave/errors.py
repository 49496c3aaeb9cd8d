"""Exceptions of StreamWeave's services: each message says what an admin can do about it."""


class StreamWeaveError(Exception):
    """Base of every error StreamWeave raises on purpose."""


class ConfigurationError(StreamWeaveError):
    """The settings cannot work; the message names the setting and the fix."""


class NotFound(StreamWeaveError):
    """The resource does not exist, or the caller may not see it (both look the same)."""


class Conflict(StreamWeaveError):
    """The change would break a uniqueness or state rule."""


class InvalidInput(StreamWeaveError):
    """The request is well-formed but its values cannot be accepted."""


class Forbidden(StreamWeaveError):
    """The caller is known and may see the resource but may not do this to it."""
