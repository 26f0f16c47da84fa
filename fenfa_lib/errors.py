"""The error a service raises when a request cannot be done; the web edge answers it in the envelope."""


class ApiError(Exception):
    """An error answered as `{"ok": false, "error": {"code", "message"}}` with its HTTP status."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message
