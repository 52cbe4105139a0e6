"""Errors that decide what happens to an event whose apply fails.

Like queue_job's RetryableJobError / FailedJobError, the class says retry vs
dead-letter; the ORM model only stores the outcome. Handlers raise these;
anything else raised during apply is treated as transient (``failed``, then
retried with backoff until the attempt limit moves it to ``dead``).
"""


class ShopfloorError(Exception):
    """Base class; ``error_class`` is what the DLQ screen filters on."""

    error_class = "error"

    def __init__(self, message, **details):
        super().__init__(message)
        self.message = message
        self.details = details


class EventRejected(ShopfloorError):
    """The event itself is invalid (schema, types, limits): stored as ``rejected``, never applied."""

    error_class = "invalid"


class EventPending(ShopfloorError):
    """A prerequisite is missing (unknown order, downtime end before its start):
    stays ``pending`` and is retried for a bounded time, then fails visibly."""

    error_class = "pending"


class RetryableError(ShopfloorError):
    """A transient failure (lock, concurrent update): ``failed``, retried with backoff."""

    error_class = "transient"


class PermanentError(ShopfloorError):
    """Retrying cannot help (order done or cancelled, a quantity that cannot be
    booked): straight to ``dead`` for a person to fix."""

    error_class = "permanent"


class OnHold(EventPending):
    """The MO/WO is under a quality hold. Raised by the UI/RPC guards; for an event
    it means "wait": it stays ``pending`` and applies once the hold is released
    (or fails visibly when the pending bound passes first)."""

    error_class = "hold"
