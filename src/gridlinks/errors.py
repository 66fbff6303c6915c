"""The GridLinks error tree.

Every failure a client can cause is a ``GridLinksError`` carrying an HTTP status and a
ThingsBoard ``errorCode``; each edge (REST API, later MQTT) renders it once::

    GridLinksError (500, 2)
    ├── BadRequestError (400, 31)
    │   └── InvalidArgumentError (400, 30)
    ├── AuthenticationError (401, 10)
    │   └── TokenExpiredError (401, 11)
    ├── PermissionDeniedError (403, 20)
    ├── NotFoundError (404, 32)
    │   └── ConflictError (400, 31)  (ThingsBoard answers 400 for duplicates)
    ├── PayloadTooLargeError (413, 31)
    ├── TooManyRequestsError (429, 33)
    ├── RequestTimeoutError (408, 31)  (the body did not arrive in time)
    ├── ServiceUnavailableError (503, 2)  (Redis down, database pool exhausted: Retry-After)
    └── ConfigurationError (raised at start-up, never rendered to clients)

Messages never contain secrets: callers pass field names, not values.
"""

from __future__ import annotations


class GridLinksError(Exception):
    """Base of every error GridLinks raises on purpose."""

    status = 500
    error_code = 2
    default_message = "Internal server error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class BadRequestError(GridLinksError):
    """The request is malformed (bad JSON, bad parameter)."""

    status = 400
    error_code = 31
    default_message = "Bad request"


class InvalidArgumentError(BadRequestError):
    """The request is well-formed but a value is not acceptable."""

    error_code = 30
    default_message = "Invalid argument"


class AuthenticationError(GridLinksError):
    """No or bad credentials."""

    status = 401
    error_code = 10
    default_message = "Authentication failed"


class TokenExpiredError(AuthenticationError):
    """The JWT was valid once but has expired."""

    error_code = 11
    default_message = "Token has expired"


class PermissionDeniedError(GridLinksError):
    """The caller is known but may not do this."""

    status = 403
    error_code = 20
    default_message = "You don't have permission to perform this operation!"


class NotFoundError(GridLinksError):
    """The item does not exist, or the caller may not know it exists."""

    status = 404
    error_code = 32
    default_message = "Requested item wasn't found!"


class ConflictError(BadRequestError):
    """The item clashes with an existing one (duplicate name, token, e-mail)."""

    default_message = "Item already exists"


class PayloadTooLargeError(GridLinksError):
    """The request body is larger than the configured limit."""

    status = 413
    error_code = 31
    default_message = "Request body is too large"


class TooManyRequestsError(GridLinksError):
    """A rate limit was hit; ``retry_after_seconds`` says when to try again."""

    status = 429
    error_code = 33
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, retry_after_seconds: int = 60) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ServiceUnavailableError(GridLinksError):
    """A backing service (Redis, the database pool) did not answer in time; the client may
    retry after ``retry_after_seconds``."""

    status = 503
    error_code = 2
    default_message = "Service temporarily unavailable, try again later"

    def __init__(self, message: str | None = None, retry_after_seconds: int = 5) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class RequestTimeoutError(GridLinksError):
    """The client did not send its whole request in time (a stalled or trickled body)."""

    status = 408
    error_code = 31
    default_message = "Request timed out: the request body did not arrive in time"


class ConfigurationError(GridLinksError):
    """The server cannot start with the given settings; the message says what to change."""
