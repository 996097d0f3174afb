"""One error tree for the whole package.

A `UserError` is a mistake the person running winback can fix (a missing file, a bad column, a bad
setting). The CLI prints its message as one line and exits non-zero; everything else is a bug.
"""


class WinbackError(Exception):
    """Base of every error winback raises on purpose."""


class UserError(WinbackError):
    """A mistake in input or configuration, explained in one line."""


class InputFileError(UserError):
    """A file that cannot be read as a whole (missing, undecodable, lacking a required column)."""


class ConfigError(UserError):
    """A setting or mapping that is not valid."""


class NotFoundError(UserError):
    """A named thing (customer, dataset, entity) that does not exist."""


class SegmentError(UserError):
    """A segment expression that cannot be parsed or checked; `column` is the 1-based character position."""

    def __init__(self, message: str, *, column: int | None = None) -> None:
        super().__init__(f"segment, column {column}: {message}" if column is not None else f"segment: {message}")
        self.column = column
        self.reason = message


class StoreError(WinbackError):
    """The store is missing, out of date or unreachable."""


class StoreNotReadyError(StoreError, UserError):
    """The store has not been initialised or needs a migration (run `winback init`)."""
