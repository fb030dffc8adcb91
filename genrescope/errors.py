"""The one exception type for user errors."""


class GenrescopeError(Exception):
    """A problem the user can fix: a missing or unreadable file, a missing,
    damaged or mismatched checkpoint, an unknown model, a bad argument.

    The message says what happened and what to do. The command line prints it
    and exits with status 2, the API answers it as 4xx JSON and the web page
    shows it. ``status`` is the HTTP status the API uses.
    """

    def __init__(self, message: str, *, status: int = 422):
        super().__init__(message)
        self.status = status
