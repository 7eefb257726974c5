"""User-facing errors: one line that says what was wrong and how to fix it.

Front ends (the CLI and the app) catch :class:`KvtError` and show its message
as is, without a traceback. Anything else is a bug in kvt and keeps its
traceback (in the log), and reaches the screen as :func:`one_line`.

Whether a failure is the user's mistake (the CLI exits 2, the app says
"Cannot train") or a run that went wrong (exit 1, "Training failed") is
decided here, once, by :func:`is_user_error`.
"""

from __future__ import annotations

# The exit statuses of kvt-train and kvt-tui: done; a crash or a diverged run; the user's mistake.
# A stop by signal N exits 128 + N, after the run is saved.
EXIT_OK, EXIT_CRASH, EXIT_USAGE = 0, 1, 2


class KvtError(Exception):
    """A failure explained in one line; by default a mistake in what the user asked for."""

    user_error = True


class ConfigError(KvtError, ValueError):
    """A training setting is out of range or of the wrong type."""


class DataError(KvtError):
    """A dataset could not be found, read or trusted."""


class RunStoreError(KvtError):
    """The runs folder cannot be used (not a folder, not writable, disk full)."""


class DiskFull(RunStoreError):
    """No space left (or over quota) where a run writes. Not the user's mistake: the run fails (exit 1).

    Every file is written to a temporary file first, so what was saved
    before (the last checkpoint, the history) is intact, and the run resumes
    once there is room. ``folder`` and ``name``: the file that could not be written.
    """

    user_error = False

    def __init__(self, folder: str, name: str, message: str = ""):
        super().__init__(message or f"no space left on the device of {folder} (writing {name}): free some space "
                                    "there; what was saved before is intact")
        self.folder, self.name = folder, name

    def __reduce__(self) -> tuple:  # it travels from a run's child process to its parent
        return type(self), (self.folder, self.name, str(self))


class TrainingDiverged(KvtError):
    """The loss became NaN or infinite; the run is kept and marked failed.

    The settings were legal, so this is not the user's mistake: the run
    failed, as a crash would (exit 1), though it is explained in one line.
    """

    user_error = False


class ChildDied(RuntimeError):
    """A run's process ended without a result (killed, or crashed below Python), or Ray gave up on its task.

    ``run_dir`` is the run folder the process was writing, if it had made one;
    that run is marked failed and can be resumed from its last finished epoch.
    """

    def __init__(self, message: str, run_dir: str = ""):
        super().__init__(message)
        self.run_dir = run_dir


class ClusterError(KvtError):
    """The cluster cannot be used as asked (Ray missing, unreachable, too small, another kvt on a worker)."""


def is_user_error(exc: BaseException) -> bool:
    """True when ``exc`` is a mistake in what the user asked for, rather than a run that failed."""
    return isinstance(exc, KvtError) and exc.user_error


def one_line(exc: BaseException, *, with_type: bool = False, limit: int = 160) -> str:
    """``exc``'s text as one short line: whitespace flattened, cut at ``limit`` characters.

    Texts from tarfile, zlib, pickle, TensorFlow... can span many lines or run
    long. A :class:`KvtError` is never cut: it is our own line, and its end
    says how to fix the problem. ``with_type`` puts the exception's type
    first, for crashes, where the type is the first clue; a text-less
    exception is named by its type anyway.
    """
    text = " ".join(str(exc).split())
    if with_type or not text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    if isinstance(exc, KvtError) or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."
