"""One rule per option (kvt_models/settings/options.py): kvt-train, kvt-train compare, kvt-tui's flags, the
app's form and RunConfig.validate accept and refuse the same values, with the same one-line message.

The messages differ only in what they call the option: ``--epochs`` on a
command line, ``epochs`` in the form and the engine.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from kvt_models import variants
from kvt_models.cli.main import main
from kvt_models.cli.parsers import build_compare_parser, build_parser
from kvt_models.compare.plan import parse_seeds, parse_variant
from kvt_models.errors import ConfigError, DataError
from kvt_models.settings import options
from kvt_models.settings.config import RunConfig
from kvt_models.settings.recipes import RECIPES
from kvt_tui.cli import build_parser as build_tui_parser
from kvt_tui.widgets.config_form import BACKEND_OPTIONS, FORM_FIELDS, FRAMEWORK_OPTIONS, TEXT_FIELDS, read_field

# option key -> (the form's field id, whether kvt-tui has the flag too). The form types text into
# Inputs, which it reads with read_field (ConfigForm._check_field); its Selects are never parsed: they
# offer only the option's own choices (test_the_form_s_selects_offer_exactly_the_options_choices).
FRONT_ENDS: dict[str, tuple[str, bool]] = {
    "framework": ("framework", True),
    "activation": ("activation", True),
    "backend": ("backend", True),
    "data": ("data-path", True),
    "recipe": ("recipe", False),
    "epochs": ("epochs", True),
    "batch_size": ("batch-size", False),
    "lr": ("lr", False),
    "seed": ("seed", False),
    "train_limit": ("train-limit", False),
    "test_limit": ("test-limit", False),
    "precision": ("precision", False),
}

ABSENT = "no-such-dataset"  # a relative path; each test runs in an empty tmp_path

# (option key, typed text, the value it means, or None and a fragment of the refusal)
CASES: list[tuple[str, str, Any, str | None]] = [
    ("framework", "keras", "keras", None),
    ("framework", "TensorFlow", "tensorflow", None),
    ("framework", "pytorch", None, "must be one of keras, tensorflow, got 'pytorch'"),
    ("framework", "", None, "must be one of keras, tensorflow, got ''"),
    ("activation", "crelu", "crelu", None),
    ("activation", " GELU ", "gelu", None),
    ("activation", "tanh", None, "must be one of relu, crelu, elu, gelu, swish, got 'tanh'"),
    ("backend", "jax", "jax", None),
    ("backend", "Keras2", "keras2", None),
    ("backend", "pytorch", None, "must be one of tensorflow, jax, torch, keras2, got 'pytorch'"),
    ("data", "cifar10", "cifar10", None),
    ("data", "CIFAR-10", "cifar10", None),
    ("data", "cifar_10", "cifar10", None),
    ("data", "Cifar10", "cifar10", None),
    ("data", "Sample", "sample", None),
    ("data", "SAMPLE", "sample", None),
    ("data", "", None, "given: choose cifar10, sample, or the path of an existing folder or .tar.gz"),
    ("data", ABSENT, None, "does not exist: choose cifar10, sample, or the path of an existing folder or .tar.gz"),
    ("recipe", "fast", "fast", None),
    ("recipe", "Seed-2018", "seed-2018", None),
    ("recipe", "slow", None, "must be one of seed-2018, fast, got 'slow'"),
    ("epochs", "1", 1, None),
    ("epochs", "10000", 10000, None),
    ("epochs", "", None, None),  # empty: the recipe's
    ("epochs", "0", None, "must be a whole number from 1 to 10000, got 0"),
    ("epochs", "-3", None, "must be a whole number from 1 to 10000, got -3"),
    ("epochs", "10001", None, "must be a whole number from 1 to 10000, got 10001"),
    ("epochs", "abc", None, "must be a whole number from 1 to 10000, got 'abc'"),
    ("epochs", "1.5", None, "must be a whole number from 1 to 10000, got '1.5'"),
    ("batch_size", "64", 64, None),
    ("batch_size", "0", None, "must be a whole number from 1 to 65536, got 0"),
    ("batch_size", "65537", None, "must be a whole number from 1 to 65536, got 65537"),
    ("lr", "0.01", 0.01, None),
    ("lr", "10", 10.0, None),
    ("lr", "0", None, "must be a number above 0 and at most 10, such as 0.01, got '0'"),
    ("lr", "-0.1", None, "must be a number above 0 and at most 10, such as 0.01, got '-0.1'"),
    ("lr", "11", None, "must be a number above 0 and at most 10, such as 0.01, got '11'"),
    ("lr", "nan", None, "must be a number above 0 and at most 10, such as 0.01, got 'nan'"),
    ("lr", "inf", None, "must be a number above 0 and at most 10, such as 0.01, got 'inf'"),
    ("lr", "fast", None, "must be a number above 0 and at most 10, such as 0.01, got 'fast'"),
    ("seed", "0", 0, None),
    ("seed", "4294967295", 2**32 - 1, None),
    ("seed", "-1", None, "must be a whole number from 0 to 4294967295, got -1"),
    ("seed", "4294967296", None, "must be a whole number from 0 to 4294967295, got 4294967296"),
    ("train_limit", "200", 200, None),
    ("train_limit", "0", None, "must be a whole number of at least 1, got 0"),
    ("test_limit", "100", 100, None),
    ("test_limit", "many", None, "must be a whole number of at least 1, got 'many'"),
]


def _typed(text: str) -> Any:
    """What code (or a config.json) would hold for ``text``: an int, a float, else the text."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _kvt_train(option: options.Option, text: str) -> tuple[Any, str | None]:
    try:
        return getattr(build_parser().parse_args([option.flag, text]), option.key), None
    except ConfigError as exc:
        return None, str(exc)


def _kvt_tui(option: options.Option, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[Any, str | None]:
    capsys.readouterr()
    try:
        return getattr(build_tui_parser().parse_args([option.flag, text]), option.key), None
    except SystemExit as exc:
        assert exc.code == 2
        err = capsys.readouterr().err
        assert err.startswith("kvt-tui: ") and err.count("\n") == 1
        return None, err.removeprefix("kvt-tui: ").rstrip("\n")


def _form(field_id: str, text: str) -> tuple[Any, str | None]:
    try:
        return read_field(field_id, text), None
    except ConfigError as exc:
        return None, str(exc)


def _validate(key: str, value: Any, **others: Any) -> str | None:
    try:
        RunConfig(**{key: value, **others}).validate()
    except ConfigError as exc:
        return str(exc)
    return None


def _kvt_train_error(argv: list[str]) -> str | None:
    """What kvt-train says for a combination of flags, before anything trains."""
    from kvt_models.cli.parsers import config_from_args

    try:
        config_from_args(build_parser().parse_args(argv))
    except ConfigError as exc:
        return str(exc)
    return None


@pytest.mark.parametrize("key, text, value, refusal", CASES, ids=[f"{c[0]}={c[1]!r}" for c in CASES])
def test_every_front_end_reads_an_option_the_same_way(
    key: str, text: str, value: Any, refusal: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    option = options.RUN_OPTIONS[key]
    field_id, in_kvt_tui = FRONT_ENDS[key]
    results = {"kvt-train": _kvt_train(option, text)}
    if field_id in TEXT_FIELDS or field_id == "data-path":  # a typed field of the form
        results["form"] = _form(field_id, text)
    if in_kvt_tui:
        results["kvt-tui"] = _kvt_tui(option, text, capsys)
    if refusal is None:
        if key == "data" or text:  # an empty number field is the recipe's, on every side
            for where, (got, error) in results.items():
                assert error is None, f"{where} refused {text!r}: {error}"
                assert got == value and type(got) is type(value), where
        assert _validate(key, text) is None
        assert _validate(key, value) is None
        return

    messages = {where: error for where, (_, error) in results.items()}
    assert all(messages.values()), messages
    # The command lines name the flag, the form and RunConfig.validate the setting: otherwise one text.
    expected = messages["kvt-train"].replace(option.flag, option.name, 1)
    if "form" in messages:
        assert messages["form"] == expected
    assert refusal in expected and "\n" not in expected
    assert expected.startswith(option.name) or expected.startswith(f"no {option.name} ")
    for where in ("kvt-train", "kvt-tui"):
        if where in messages:
            assert messages[where] == expected.replace(option.name, option.flag, 1), where
    assert _validate(key, text) == expected
    typed = _typed(text)
    if typed != text and str(typed) == text:  # 0, -3, 1.5, nan: the value code would hold reads the same
        assert _validate(key, typed) == expected


def test_the_form_s_selects_offer_exactly_the_options_choices() -> None:
    """What a Select can hold is what the option's rule accepts, so the form needs no parsing of its own there."""
    assert [value for _, value in FRAMEWORK_OPTIONS] == list(variants.FRAMEWORKS)
    assert [value for _, value in BACKEND_OPTIONS] == list(variants.BACKENDS)
    for option, choices in ((options.FRAMEWORK, variants.FRAMEWORKS), (options.BACKEND, variants.BACKENDS),
                            (options.ACTIVATION, variants.ACTIVATIONS), (options.RECIPE, RECIPES),
                            (options.PRECISION, options.PRECISIONS)):
        assert all(option.parse(choice) == choice for choice in choices)
        with pytest.raises(ConfigError):
            option.parse("no-such-choice")


def test_every_run_option_has_a_form_field_and_a_flag() -> None:
    assert set(FRONT_ENDS) == set(options.RUN_OPTIONS)
    assert {FRONT_ENDS[k][0] for k in FRONT_ENDS} == set(FORM_FIELDS)
    flags = {a.option_strings[0] for a in build_parser()._actions if a.option_strings}
    assert {o.flag for o in options.RUN_OPTIONS.values()} <= flags


def test_validate_refuses_what_code_gets_wrong_with_the_same_words() -> None:
    assert _validate("epochs", True) == "epochs must be a whole number from 1 to 10000, got 'True'"
    assert _validate("epochs", 3.0) == "epochs must be a whole number from 1 to 10000, got '3.0'"
    assert _validate("lr", math.nan) == "learning rate must be a number above 0 and at most 10, such as 0.01, got 'nan'"
    assert _validate("framework", None) == "framework must be one of keras, tensorflow, got ''"


def test_resolved_puts_values_in_their_canonical_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "imgs").mkdir()
    cfg = RunConfig(framework="Keras", activation="CReLU", data="Sample", recipe="FAST", seed=3).resolved()
    assert (cfg.framework, cfg.activation, cfg.data, cfg.recipe) == ("keras", "crelu", "sample", "fast")
    assert (cfg.epochs, cfg.batch_size, cfg.lr, cfg.seed) == (4, 32, 0.1, 3)  # the recipe's
    assert RunConfig(data="imgs").resolved().data == str(tmp_path / "imgs")  # absolute: resumable from anywhere
    with pytest.raises(ConfigError, match="does not exist"):
        RunConfig(data="./sample").resolved()  # a folder named sample is a path, which must exist


@pytest.mark.parametrize(
    "text, seeds",
    [("3", [1, 2, 3]), ("1,4,9", [1, 4, 9]), (" 2 ", [1, 2]), ("0,5", [0, 5]), ("100", list(range(1, 101))),
     ("auto", "auto"), ("Auto", "auto")],
)
def test_compare_seeds_are_read_the_same_by_the_parser_and_parse_seeds(text: str, seeds: list[int]) -> None:
    assert build_compare_parser().parse_args(["keras:relu", "--seeds", text]).seeds == seeds
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["0", "x", "1,1", "-2,3", "101", "1,,x", ""])
def test_compare_seeds_refusals(text: str) -> None:
    with pytest.raises(ConfigError) as from_parser:
        build_compare_parser().parse_args(["keras:relu", f"--seeds={text}"])  # = : argparse takes -2,3 for a flag
    with pytest.raises(ConfigError) as from_function:
        parse_seeds(text)
    assert str(from_parser.value) == str(from_function.value) == (
        "--seeds must be a count from 1 to 100 (seeds 1..K), a list of distinct seeds from 0 to 4294967295 "
        f"such as 1,2,7, or auto, got {text!r}"
    )


@pytest.mark.parametrize("flag, text, message", [
    ("--max-seeds", "2", "--max-seeds must be a whole number from 3 to 100, got 2"),
    ("--max-seeds", "x", "--max-seeds must be a whole number from 3 to 100, got 'x'"),
    ("--min-effect", "0", "--min-effect must be a number of accuracy points above 0 and at most 100, such as 1.0, got '0'"),
    ("--min-effect", "nan", "--min-effect must be a number of accuracy points above 0 and at most 100, such as 1.0, got 'nan'"),
])
def test_max_seeds_and_min_effect_refusals(flag: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        build_compare_parser().parse_args(["keras:relu", "--seeds", "auto", f"{flag}={text}"])
    assert str(refused.value) == message
    args = build_compare_parser().parse_args(["keras:relu", "--seeds", "auto", "--max-seeds", "6", "--min-effect", "2.5"])
    assert (args.seeds, args.max_seeds, args.min_effect) == ("auto", 6, 2.5)
    args = build_compare_parser().parse_args(["keras:relu"])
    assert (args.seeds, args.max_seeds, args.min_effect) == ([1, 2, 3], None, 1.0)  # --max-seeds: None, unless given


def test_max_seeds_needs_seeds_auto(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "keras:relu", "keras:elu", "--seeds", "4", "--max-seeds", "6", "--data", "sample"]) == 2
    assert "--max-seeds applies only with --seeds auto" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["keras", "keras:tanh", "torch:relu", ":relu", "keras:relu:x", "keras:relu@mxnet", "keras:relu@"])
def test_compare_variants_refusals(text: str) -> None:
    with pytest.raises(ConfigError) as from_parser:
        build_compare_parser().parse_args([text])
    with pytest.raises(ConfigError) as from_function:
        parse_variant(text)
    assert str(from_parser.value) == str(from_function.value) == (
        f"variant {text!r} must be framework:activation[@backend], with framework one of keras, tensorflow, "
        "activation one of relu, crelu, elu, gelu, swish and backend one of tensorflow, jax, torch, keras2, "
        "such as keras:relu or keras:relu@jax"
    )


def test_compare_variants_are_read_like_the_framework_activation_and_backend_flags() -> None:
    args = build_compare_parser().parse_args(["Keras:ReLU", " tensorflow:crelu ", "keras:gelu@JAX", "tensorflow:crelu@keras2"])
    expected = [("keras", "relu", None), ("tensorflow", "crelu", None), ("keras", "gelu", "jax"), ("tensorflow", "crelu", "keras2")]
    assert args.variants == expected == [parse_variant(v) for v in ("Keras:ReLU", "tensorflow:crelu", "keras:gelu@JAX", "tensorflow:crelu@keras2")]
    assert [v.name for v in args.variants] == ["keras:relu", "tensorflow:crelu", "keras:gelu@jax", "tensorflow:crelu@keras2"]
    assert parse_variant("keras:relu@tensorflow").name == "keras:relu"  # the default runtime is not written


def test_the_tensorflow_framework_is_refused_on_jax_and_torch_with_the_same_reason_everywhere() -> None:
    reason = ("the tensorflow framework cannot run on jax: its layers call raw tf.nn ops, which only TensorFlow "
              "executes; use backend tensorflow or keras2, or the keras framework on jax")
    with pytest.raises(ConfigError) as from_variant:
        parse_variant("tensorflow:crelu@jax")
    assert str(from_variant.value) == f"variant 'tensorflow:crelu@jax': {reason}"
    assert _validate("framework", "tensorflow", backend="jax") == reason
    assert _kvt_train_error(["--framework", "tensorflow", "--backend", "jax"]) == reason
    assert _validate("framework", "tensorflow", backend="keras2") is None


def test_runs_dir_and_preset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "runs"
    a_file.write_text("")
    assert _kvt_train(options.RUNS_DIR, str(a_file)) == (None, f"--runs-dir {a_file} is a file, not a folder: pass a folder path")
    assert _kvt_tui(options.RUNS_DIR, str(a_file), capsys) == _kvt_train(options.RUNS_DIR, str(a_file))
    assert _kvt_train(options.RUNS_DIR, str(tmp_path / "new")) == (tmp_path / "new", None)
    assert _kvt_train(options.PRESET, "TensorFlow") == ("tensorflow", None)
    assert _kvt_train(options.PRESET, "tf") == (None, "--preset must be one of keras, tensorflow, got 'tf'")


def test_the_loader_reads_a_spec_as_the_options_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kvt_models.data.loader import describe_spec

    monkeypatch.chdir(tmp_path)
    for spelling in ("cifar10", "CIFAR-10", "cifar_10", "Cifar10"):
        assert describe_spec(spelling) == "CIFAR-10 (Keras download and cache)"
    assert describe_spec("Sample") == describe_spec("sample") == "bundled sample (6,000 images)"
    with pytest.raises(DataError) as loader:
        describe_spec(ABSENT)
    assert str(loader.value) == _form("data-path", ABSENT)[1]  # the form names the setting "dataset", as the loader does


def test_the_form_preselects_a_named_dataset_in_any_spelling(tmp_path: Path) -> None:
    import asyncio

    from textual.widgets import Select

    from kvt_tui.cli import create_app

    async def dataset_choice(spec: str) -> tuple[str, bool]:
        app = create_app(data=spec, runs_dir=tmp_path / "runs")
        async with app.run_test(size=(100, 30)) as pilot:
            await app.main_screen.ui_ready.wait()
            await pilot.pause()
            form = app.main_screen.query_one("ConfigForm")
            return str(app.main_screen.query_one("#dataset", Select).value), form.build_config().data

    assert asyncio.run(dataset_choice("Sample")) == ("sample", "sample")
    assert asyncio.run(dataset_choice("CIFAR-10")) == ("cifar10", "cifar10")


def test_kvt_train_data_sample_in_any_case_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's example: `--data Sample` used to fail with "/abs/path/Sample does not exist"."""
    runs = tmp_path / "runs"
    code = main(["--data", "Sample", "--train-limit", "200", "--test-limit", "100", "--epochs", "1", "--runs-dir", str(runs)])
    out, err = capsys.readouterr()
    assert code == 0, err[-2000:]
    assert "Epoch 1/1 - " in out
    (run,) = runs.iterdir()
    saved = json.loads((run / "config.json").read_text())["config"]
    assert (saved["data"], saved["train_limit"], saved["test_limit"], saved["epochs"]) == ("sample", 200, 100, 1)
