"""The configuration pane: every setting of a run, checked as it is typed.

Each field is read by its option's rule (:mod:`kvt_models.settings.options`), the one
the CLI's flags and ``RunConfig.validate`` use, so a bad value gets the same
one-line message in both front ends. The message shows right under the
field, and the form reports itself invalid until every field parses; the app
then refuses to train (the Train key and button are disabled).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Input, Label, OptionList, Select, Static

from kvt_models import variants
from kvt_models.backend import runtime
from kvt_models.errors import KvtError
from kvt_models.settings import alerts, options
from kvt_models.settings.config import RunConfig
from kvt_models.settings.datasets import dataset_name
from kvt_models.settings.options import Option
from kvt_models.settings.recipes import RECIPES

# The selects' labels are the heads of the vocabulary's descriptions (kvt_models.variants), so that
# a framework or runtime added there shows here too: the pane is 35 columns wide, and a Select beside
# its label has ~20, so a label stops before the description's details ("(...)", ": ...").
FRAMEWORK_OPTIONS: list[tuple[str, str]] = [
    (description.split(" (")[0], name) for name, description in variants.FRAMEWORKS.items()
]
# The runtimes, in BACKENDS's order; those not installed are greyed out (see _check_runtimes).
# All but keras2 are Keras 3, so "Keras 3 on" goes without saying: "JAX", "Keras 2 (tf_keras)".
BACKEND_OPTIONS: list[tuple[str, str]] = [
    (description.removeprefix("Keras 3 on ").split(":")[0], name) for name, description in variants.BACKENDS.items()
]
BACKEND_NAMES = dict((value, prompt) for prompt, value in BACKEND_OPTIONS)
FRAMEWORK_NOTE = "tf.keras is Keras 3 (TF ≥ 2.16; Keras 2 on the keras2 backend): the TensorFlow side differs by raw tf.nn ops in its layers (m)."
DATASET_OPTIONS: list[tuple[str, str]] = [
    ("CIFAR-10", "cifar10"),
    ("bundled sample", "sample"),
    ("a path…", "path"),
]

# Text field id -> (label, option). An empty field means the option's default
# (None: the recipe's value, a random seed, every image).
TEXT_FIELDS: dict[str, tuple[str, Option]] = {
    "epochs": ("Epochs", options.EPOCHS),
    "batch-size": ("Batch", options.BATCH_SIZE),
    "lr": ("LR", options.LR),
    "seed": ("Seed", options.SEED),
    "train-limit": ("Train lim", options.TRAIN_LIMIT),
    "test-limit": ("Test lim", options.TEST_LIMIT),
}
# Every field id -> its option; the selects' values pass the same rules.
FORM_FIELDS: dict[str, Option] = {
    "framework": options.FRAMEWORK,
    "activation": options.ACTIVATION,
    "backend": options.BACKEND,
    "data-path": options.DATA,
    "recipe": options.RECIPE,
    "precision": options.PRECISION,
    **{field_id: option for field_id, (_, option) in TEXT_FIELDS.items()},
}


def read_field(field_id: str, text: str) -> object:
    """The form's validator: the value of a field, or ConfigError with the option's one-line message."""
    return FORM_FIELDS[field_id].parse(text)


def missing_runtimes_text(missing: list[str]) -> str:
    """The hint under the backend: what is greyed out (not installed), and the pip command for each."""
    if not missing:
        return ""
    return "\n".join(f"{BACKEND_NAMES[b]} not installed: {runtime.install_hint(b)}" for b in missing)


def describe_data(spec: str) -> str:
    """One line about a dataset spec; raises KvtError (DataError) for a missing path."""
    # Deferred: kvt_models.data pulls in numpy, which the first frame does not need.
    from kvt_models.data.loader import describe_spec

    return describe_spec(spec)


def recipe_hint(name: str) -> str:
    """One line under the recipe: its defaults (the help screen's Recipes section has each one's summary)."""
    recipe = RECIPES[name]
    extras = " · augment" if recipe.augment else ""
    return f"{recipe.epochs} epochs · batch {recipe.batch_size} · lr {recipe.lr:g}{extras}"


def _text(value: object) -> str:
    return "" if value is None else str(value)


class ConfigForm(VerticalScroll, can_focus=False):
    """Framework, activation, dataset, recipe and the numbers of a run.

    Not focusable itself (fields scroll into view as they get the focus), so
    the first Tab stop is the first field.
    """

    class ValidityChanged(Message):
        """Posted when the form becomes valid or invalid."""

        def __init__(self, valid: bool) -> None:
            super().__init__()
            self.valid = valid

    def __init__(self, initial: RunConfig, *, bell: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.initial = initial
        self.bell = bell
        self.errors: dict[str, KvtError] = {}
        self._valid = True

    # -- layout --------------------------------------------------------------
    def compose(self) -> ComposeResult:
        cfg = self.initial
        yield Static("Configuration", classes="pane-title")
        # The framework's label sits above its select: the TensorFlow option's
        # name is too long to share a line with a label in a 35-column pane.
        yield Vertical(
            Label("Framework", classes="field-label"),
            Select(FRAMEWORK_OPTIONS, value=cfg.framework, allow_blank=False, compact=True, id="framework"),
            classes="field-stack",
            id="framework-row",
        )
        yield Static(FRAMEWORK_NOTE, id="framework-note", classes="hint")
        yield self._row(
            "Activation",
            Select([(a, a) for a in variants.ACTIVATIONS], value=cfg.activation, allow_blank=False, compact=True, id="activation"),
        )
        yield self._row(
            "Backend",
            Select(BACKEND_OPTIONS, value=cfg.backend, allow_blank=False, compact=True, id="backend"),
        )
        yield Static("", id="backend-error", classes="field-error", markup=False)
        backend_hint = Static("", id="backend-hint", classes="hint", markup=False)
        backend_hint.display = False  # until _check_runtimes finds one missing
        yield backend_hint
        named = dataset_name(cfg.data)
        yield self._row(
            "Dataset",
            Select(DATASET_OPTIONS, value=named or "path", allow_blank=False, compact=True, id="dataset"),
        )
        path_row = self._row(
            "Path",
            Input(value="" if named else cfg.data, placeholder="folder or .tar.gz", compact=True, id="data-path"),
        )
        path_row.display = named is None
        yield path_row
        yield Static("", id="data-path-error", classes="field-error", markup=False)
        yield Static("", id="data-hint", classes="hint", markup=False)
        yield self._row(
            "Recipe",
            Select([(name, name) for name in RECIPES], value=cfg.recipe, allow_blank=False, compact=True, id="recipe"),
        )
        yield Static(recipe_hint(cfg.recipe), id="recipe-hint", classes="hint", markup=False)
        yield self._row(
            "Precision",
            Select([(p, p) for p in options.PRECISIONS], value=cfg.precision, allow_blank=False, compact=True,
                   id="precision"),
        )
        values = {
            "epochs": cfg.epochs,
            "batch-size": cfg.batch_size,
            "lr": cfg.lr,
            "seed": cfg.seed,
            "train-limit": cfg.train_limit,
            "test-limit": cfg.test_limit,
        }
        for field_id, (label, _) in TEXT_FIELDS.items():
            yield self._row(label, Input(value=_text(values[field_id]), compact=True, id=field_id))
            yield Static("", id=f"{field_id}-error", classes="field-error", markup=False)
        with Horizontal(id="form-buttons"):
            yield Button("Train (t)", id="train-button", variant="success", compact=True)
            yield Button("Stop (s)", id="stop-button", variant="error", compact=True, disabled=True)
        # An app setting, not a run's: kvt-tui --bell (alerts.BELL) sets where it starts.
        yield Checkbox("Bell when done", value=self.bell, compact=True, id="bell", tooltip=alerts.BELL.help)

    @staticmethod
    def _row(label: str, widget: Select | Input) -> Horizontal:
        return Horizontal(Label(label, classes="field-label"), widget, classes="field-row", id=f"{widget.id}-row")

    def on_mount(self) -> None:
        self._update_placeholders()
        self._check_all()
        # After the first frame: describing the dataset imports numpy, and finding
        # the installed runtimes looks on disk.
        self.call_after_refresh(self._check_data)
        self.call_after_refresh(self._check_runtimes)

    # -- reading -------------------------------------------------------------
    @property
    def is_valid(self) -> bool:
        return not self.errors

    def data_spec(self) -> str:
        choice = self.query_one("#dataset", Select).value
        if choice == "path":
            return self.query_one("#data-path", Input).value.strip()
        return str(choice)

    def build_config(self) -> RunConfig:
        """The RunConfig the form describes; ConfigError (one line) when a field is wrong."""
        self._check_all()
        self._check_data()
        self._check_backend()
        if self.errors:
            raise next(iter(self.errors.values()))
        values = {fid: read_field(fid, self.query_one(f"#{fid}", Input).value) for fid in TEXT_FIELDS}
        config = RunConfig(
            framework=str(self.query_one("#framework", Select).value),
            activation=str(self.query_one("#activation", Select).value),
            backend=str(self.query_one("#backend", Select).value),
            data=read_field("data-path", self.data_spec()),  # type: ignore[arg-type]
            recipe=str(self.query_one("#recipe", Select).value),
            precision=str(self.query_one("#precision", Select).value),
            epochs=values["epochs"],  # type: ignore[arg-type]
            batch_size=values["batch-size"],  # type: ignore[arg-type]
            lr=values["lr"],  # type: ignore[arg-type]
            seed=values["seed"],  # type: ignore[arg-type]
            train_limit=values["train-limit"],  # type: ignore[arg-type]
            test_limit=values["test-limit"],  # type: ignore[arg-type]
        )
        config.validate()
        return config

    # -- checking as typed -----------------------------------------------------
    @on(Input.Changed)
    def _input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if event.input.id == "data-path":
            self._check_data()
        elif event.input.id in TEXT_FIELDS:
            self._check_field(event.input.id)
        self._publish_validity()

    @on(Input.Submitted)
    def _input_submitted(self, event: Input.Submitted) -> None:
        # Enter moves on like Tab: starting a long run is always an explicit `t`.
        event.stop()
        self.screen.focus_next()

    @on(Select.Changed, "#dataset")
    def _dataset_changed(self, event: Select.Changed) -> None:
        is_path = event.value == "path"
        self.query_one("#data-path-row").display = is_path
        self._check_data()
        self._publish_validity()
        if is_path and event.select.has_focus:
            # Chosen by the user just now: the path is what they type next.
            self.query_one("#data-path", Input).focus()

    @on(Select.Changed, "#framework, #backend")
    def _runtime_changed(self) -> None:
        self._check_backend()

    def _check_runtimes(self) -> None:
        """Grey out the runtimes that are not installed, and say how to install them."""
        missing = [b for _, b in BACKEND_OPTIONS if not runtime.available(b)]
        overlay = self.query_one("#backend", Select).query_one(OptionList)
        for index, (_, value) in enumerate(BACKEND_OPTIONS):
            if value in missing:
                overlay.disable_option_at_index(index)
        hint = self.query_one("#backend-hint", Static)
        hint.update(missing_runtimes_text(missing))
        hint.display = bool(missing)
        self._check_backend()

    def _check_backend(self) -> None:
        """The framework must run on the backend (tf.nn ops need TensorFlow), and the backend must be installed."""
        framework = str(self.query_one("#framework", Select).value)
        backend = str(self.query_one("#backend", Select).value)
        try:
            variants.check_runs_on(framework, backend)
            runtime.require(backend)
        except KvtError as exc:
            self._set_error("backend", exc)
        else:
            self._set_error("backend", None)
        self._publish_validity()

    @on(Select.Changed, "#recipe")
    def _recipe_changed(self, event: Select.Changed) -> None:
        self.query_one("#recipe-hint", Static).update(recipe_hint(str(event.value)))
        self._update_placeholders()

    def _update_placeholders(self) -> None:
        """Empty fields mean "the recipe's value" (or random / all): say which."""
        recipe = RECIPES[str(self.query_one("#recipe", Select).value)]
        placeholders = {
            "epochs": f"{recipe.epochs} (recipe)",
            "batch-size": f"{recipe.batch_size} (recipe)",
            "lr": f"{recipe.lr:g} (recipe)",
            "seed": "random",
            "train-limit": "all",
            "test-limit": "all",
        }
        for field_id, text in placeholders.items():
            self.query_one(f"#{field_id}", Input).placeholder = text

    def _check_field(self, field_id: str) -> None:
        try:
            read_field(field_id, self.query_one(f"#{field_id}", Input).value)
        except KvtError as exc:
            self._set_error(field_id, exc)
        else:
            self._set_error(field_id, None)

    def _check_all(self) -> None:
        for field_id in TEXT_FIELDS:
            self._check_field(field_id)

    def _check_data(self) -> None:
        spec = self.data_spec()
        hint = self.query_one("#data-hint", Static)
        try:
            # --data's rule first (cheap, and the CLI's very message); then the
            # description, which looks inside the folder or archive.
            read_field("data-path", spec)
            description = describe_data(spec)
        except KvtError as exc:
            self._set_error("data-path", exc)
            hint.update("")
        else:
            self._set_error("data-path", None)
            hint.update(description)
        self._publish_validity()

    def _set_error(self, field_id: str, error: KvtError | None) -> None:
        label = self.query_one(f"#{field_id}-error", Static)
        widget = self.query_one(f"#{field_id}")
        if error is None:
            self.errors.pop(field_id, None)
            label.update("")
            label.display = False
            widget.remove_class("invalid")
        else:
            self.errors[field_id] = error
            label.update(str(error))
            label.display = True
            widget.add_class("invalid")

    def _publish_validity(self) -> None:
        valid = self.is_valid
        if valid != self._valid:
            self._valid = valid
            self.post_message(self.ValidityChanged(valid))
