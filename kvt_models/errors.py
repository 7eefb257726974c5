"""User-facing errors: one line that says what was wrong and how to fix it.

Front ends (the CLI and the app) catch :class:`KvtError` and show its message
as is, without a traceback. Anything else is a bug in kvt and keeps its
traceback.
"""


class KvtError(Exception):
    """A mistake in what the user asked for, explained in one line."""


class ConfigError(KvtError, ValueError):
    """A training setting is out of range or of the wrong type."""


class DataError(KvtError):
    """A dataset could not be found, read or trusted."""


class RunStoreError(KvtError):
    """The runs folder cannot be used (not a folder, not writable, disk full)."""
