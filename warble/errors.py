"""One exception type per user-facing failure class.

The CLI turns any `WarbleError` into a one-line message and a non-zero exit code (see `warble.cli`);
everything else is a bug and keeps its traceback.
"""


class WarbleError(Exception):
    """Base class: a failure the user can act on (bad input, bad config, missing file)."""

    exit_code = 2


class ConfigError(WarbleError):
    """A configuration value or flag is invalid."""


class InputError(WarbleError):
    """An input path or file cannot be used at all (missing, unreadable, unknown format)."""


class RecordError(ValueError):
    """One record is malformed. Not fatal: the record is quarantined with `reason` and the run goes on."""

    def __init__(self, reason: str, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail
