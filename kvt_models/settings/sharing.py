"""The settings of finding and sharing runs, each declared once as an :class:`~kvt_models.settings.options.Option`.

A note and tags (``--note``, ``--tag``, the app's notes box: kvt_models.store.notes),
the filters of ``kvt-train runs`` and the app's runs view (kvt_models.store.catalog),
``--no-tensorboard`` and ``compare --export``. Apart from :mod:`~kvt_models.settings.options`
because none of them is a setting of training: they say what is recorded beside a run,
and how runs are found.
"""

from __future__ import annotations

from kvt_models.errors import ConfigError
from kvt_models.settings.options import Option, one_of, runs_folder

MAX_NOTE = 500  # characters: a sentence or three, one line in the runs table
MAX_TAG = 40
# The statuses a run can read as in `kvt-train runs` and the runs view: the run store's, and "damaged"
# (a file kvt_models.store.damage finds broken).
RUN_STATES = ("running", "finished", "stopped", "failed", "damaged")
SORTS = ("date", "accuracy")


def note_text(text: str, name: str) -> str:
    """One line of free text, at most MAX_NOTE characters (control characters refused: it is shown in tables)."""
    if len(text) > MAX_NOTE:
        raise ConfigError(f"{name} must be at most {MAX_NOTE} characters, got {len(text)}")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise ConfigError(f"{name} must be one line of text, without tabs or control characters")
    return text


def tag_name(text: str, name: str) -> str:
    """A tag: one word of letters, digits and ``-_.:/+=@``, at most MAX_TAG characters, kept as typed."""
    if len(text) > MAX_TAG or not all(ch.isalnum() or ch in "-_.:/+=@" for ch in text):
        raise ConfigError(f"{name} must be one word of letters, digits and -_.:/+=@ (at most {MAX_TAG} "
                          f"characters), such as baseline or paper-v2, got {text!r}")
    return text


def tag_list(text: str, name: str) -> list[str]:
    """Tags separated by commas or spaces (the app's field), each by :func:`tag_name`; duplicates dropped."""
    return list(dict.fromkeys(tag_name(part, name) for part in text.replace(",", " ").split()))


def search_text(text: str, name: str) -> str:
    return note_text(text, name)


NOTE = Option(
    "note", "note", "--note", rule=note_text, default="", empty_means_default=True, metavar="TEXT",
    help=f"a note for the run (every run of a comparison), one line of at most {MAX_NOTE} characters; "
    "kept in the run folder's notes.json, editable later in the app's runs view (n)",
)
TAG = Option(
    "tags", "tag", "--tag", rule=tag_name, metavar="TAG",
    help="a tag for the run (every run of a comparison); repeat for several: --tag baseline --tag paper",
)
TAGS = Option(
    "tags", "tags", "--tags", rule=tag_list, default=[], empty_means_default=True, metavar="TAGS",
    help="tags separated by commas or spaces (the app's notes field)",
)
SEARCH = Option(
    "search", "search", "--search", rule=search_text, default="", empty_means_default=True, metavar="TEXT",
    help="only runs where every word of TEXT begins a word of the id, variant, note, tags or data (any case)",
)
RUN_STATE = Option(
    "status", "status", "--status", rule=one_of(RUN_STATES), metavar="{" + ",".join(RUN_STATES) + "}",
    help="only runs with this status",
)
SORT = Option(
    "sort", "sort", "--sort", rule=one_of(SORTS), default="date", metavar="{" + ",".join(SORTS) + "}",
    help="newest first (date, the default) or best final test accuracy first (accuracy)",
)
# A switch, not a typed value: --no-tensorboard turns RunConfig.tensorboard off.
TENSORBOARD = Option(
    "tensorboard", "TensorBoard files", "--no-tensorboard", rule=one_of(("true", "false")), default=True,
    help="do not write TensorBoard event files into the run folder (docs/run-folders.md says what they cost)",
)
EXPORT = Option(
    "export", "export folder", "--export", rule=runs_folder, metavar="DIR",
    help="also write an evidence bundle into DIR: report.md, table.tex, the PNGs and comparison.json, "
    "all made again from the run folders",
)
