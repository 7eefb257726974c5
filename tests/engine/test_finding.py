"""Finding runs without the app: `kvt-train runs` (filters, sort, JSON, pipes), `kvt-train show`, notes and tags."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from runfactory import history_rows, write_run

from kvt_models.cli.finding import runs_main, show_main
from kvt_models.cli.main import main
from kvt_models.cli.parsers import build_compare_parser, build_parser, config_from_args
from kvt_models.errors import EXIT_OK, EXIT_USAGE, ConfigError
from kvt_models.events import QueueProgress, TrainStarted
from kvt_models.settings.sharing import NOTE, TAG, TAGS
from kvt_models.store.catalog import list_rows, matches, select, sort_rows
from kvt_models.store.notes import NOTES_FILE, Tagging, read_notes, write_notes

CONFIG = {"framework": "keras", "activation": "relu", "backend": "tensorflow", "data": "sample", "recipe": "seed-2018",
          "epochs": 2, "batch_size": 32, "lr": 0.01, "seed": 1, "train_limit": None, "test_limit": None}


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    """Three runs: an old relu run (tagged baseline), a newer elu run on jax with a note, and a damaged one."""
    root = tmp_path / "runs"
    old = write_run(root, CONFIG, history_rows([0.30, 0.40]), run_id="20250101-100000-keras-relu-aaaa",
                    created="2025-01-01T10:00:00", train_samples=100)
    write_notes(old, "", ["baseline"])
    new = write_run(root, {**CONFIG, "activation": "elu", "backend": "jax", "epochs": 3, "lr": 0.02},
                    history_rows([0.50, 0.45]), status="stopped", run_id="20250102-100000-keras-elu-jax-bbbb",
                    created="2025-01-02T10:00:00", train_samples=100)
    write_notes(new, "Tried ELU on JAX", ["paper", "Baseline"])
    bad = write_run(root, CONFIG, history_rows([0.2]), run_id="20250103-100000-keras-relu-cccc",
                    created="2025-01-03T10:00:00")
    (bad / "history.csv").write_text("not,a,history\n")
    (root / "20250104-100000-keras-relu-dddd").mkdir()
    (root / "20250104-100000-keras-relu-dddd" / "config.json").write_text("{not json")
    (root / "comparisons").mkdir()  # not a run: left out
    return root


def _runs(root: Path, *args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = runs_main([*args, "--runs-dir", str(root)], out, err)
    return code, out.getvalue() + err.getvalue()


def test_runs_json_lists_every_run_newest_first_with_damaged_ones_marked(runs: Path) -> None:
    code, text = _runs(runs, "--json")
    assert code == EXIT_OK
    listed = json.loads(text)
    assert [r["id"][-4:] for r in listed] == ["dddd", "cccc", "bbbb", "aaaa"]
    assert [r["status"] for r in listed] == ["damaged", "damaged", "stopped", "finished"]
    assert "config.json is damaged" in listed[0]["problem"] and "history.csv is damaged" in listed[1]["problem"]
    elu = listed[2]
    assert elu["variant"] == "keras:elu@jax" and elu["tags"] == ["paper", "Baseline"] and elu["note"] == "Tried ELU on JAX"
    assert (elu["best_accuracy"], elu["final_accuracy"], elu["epochs_done"], elu["epochs_total"]) == (0.5, 0.45, 2, 3)
    assert elu["images_per_second"] == pytest.approx(200 / 3.0)  # 2 epochs of 100 images in 2 x 1.5 s


def test_runs_filters_by_status_tag_and_search_and_sorts_by_accuracy(runs: Path) -> None:
    def ids(*args: str) -> list[str]:
        return [r["id"][-4:] for r in json.loads(_runs(runs, "--json", *args)[1])]

    assert ids("--status", "finished") == ["aaaa"]
    assert ids("--tag", "BASELINE") == ["bbbb", "aaaa"]  # tags in any case
    assert ids("--tag", "baseline", "--tag", "paper") == ["bbbb"]  # every tag given
    assert ids("--search", "elu jax") == ["bbbb"]  # every word, over id, variant, note, tags, data
    assert ids("--search", "tried") == ["bbbb"]  # the note
    assert ids("--search", "elu") == ["bbbb"]  # a word's beginning: keras:elu, not keras:relu
    assert ids("--search", "keras:relu") == ["dddd", "cccc", "aaaa"]  # dddd by its id: its config cannot be read
    assert ids("--search", "SAMPLE", "--status", "finished") == ["aaaa"]  # the data
    assert ids("--sort", "accuracy") == ["bbbb", "aaaa", "dddd", "cccc"]  # final 45%, 40%, then none (newest first)


def test_runs_in_a_pipe_is_tab_separated_and_bad_values_are_one_line(runs: Path) -> None:
    code, text = _runs(runs, "--tag", "paper")
    header, line = text.splitlines()
    assert header.split("\t") == ["id", "variant", "backend", "recipe", "status", "epochs", "best", "final", "img/s",
                                  "tags", "note"]
    assert line.split("\t") == ["20250102-100000-keras-elu-jax-bbbb", "keras:elu@jax", "jax", "seed-2018", "stopped",
                                "2/3", "50.00", "45.00", "67", "paper,Baseline", "Tried ELU on JAX"]
    code, text = _runs(runs, "--status", "done")
    assert code == EXIT_USAGE and text.count("\n") == 1 and "--status must be one of running, finished" in text


def test_the_app_and_the_cli_share_one_search_rule(runs: Path) -> None:
    rows = list_rows(runs)
    assert [r.run_id[-4:] for r in rows if matches(r, "Baseline JAX")] == ["bbbb"]
    assert [r.run_id[-4:] for r in select(rows, search="")] == ["dddd", "cccc", "bbbb", "aaaa"]
    assert [r.run_id[-4:] for r in sort_rows(rows, "date")] == ["dddd", "cccc", "bbbb", "aaaa"]


def test_show_one_run_prints_settings_history_report_and_files(runs: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["show", "bbbb", "--runs-dir", str(runs)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "status   stopped" in text and "note     Tried ELU on JAX" in text and "tags     paper, Baseline" in text
    assert re.search(r"\n  lr +0.02\n", text) and "history (2 of 3 epochs)" in text and NOTES_FILE in text
    damaged = main(["show", str(runs / "20250104-100000-keras-relu-dddd")])
    assert damaged == EXIT_OK and "damaged  config.json is damaged" in capsys.readouterr().out


def test_show_several_runs_prints_only_the_settings_that_differ_then_metrics_side_by_side(runs: Path) -> None:
    out = io.StringIO()
    assert show_main(["aaaa", "bbbb", "--runs-dir", str(runs)], out, io.StringIO()) == EXIT_OK
    text = out.getvalue()
    differ = text.split("settings that differ")[1].split("shared:")[0]
    assert [line.split() for line in differ.strip().splitlines()[3:]] == [
        ["activation", "relu", "elu"], ["backend", "tensorflow", "jax"],
        ["epochs", "2", "3"], ["lr", "0.01", "0.02"]]
    shared = text.split("shared: ")[1].splitlines()[0]
    assert "batch_size" not in differ and "batch_size=32" in shared and "data=sample" in shared
    assert re.search(r"final test acc % +40.00 +45.00\n", text)


@pytest.mark.parametrize("args, fragment", [
    (["nope"], "no run 'nope' in"),
    (["keras-relu"], "3 runs in"),  # aaaa, cccc, dddd: ambiguous
])
def test_show_refuses_an_unknown_or_ambiguous_run_in_one_line(runs: Path, args: list[str], fragment: str) -> None:
    err = io.StringIO()
    assert show_main([*args, "--runs-dir", str(runs)], io.StringIO(), err) == EXIT_USAGE
    assert fragment in err.getvalue() and err.getvalue().count("\n") == 1


def test_subcommands_leave_the_plain_flags_and_compare_as_they_were() -> None:
    args = build_parser().parse_args(["--epochs", "1", "--data", "sample", "--note", "a try", "--tag", "x", "--tag", "y",
                                      "--no-tensorboard"])
    config = config_from_args(args)
    assert (config.epochs, args.note, args.tags, config.tensorboard) == (1, "a try", ["x", "y"], False)
    assert build_parser().parse_args(["--epochs", "1"]).tensorboard is True
    compare = build_compare_parser().parse_args(["keras:relu", "keras:elu", "--seeds", "2", "--tag", "cmp",
                                                 "--export", "out"])
    assert (compare.tags, str(compare.export), compare.note) == (["cmp"], "out", "")
    with pytest.raises(ConfigError, match="--tag must be one word"):
        build_parser().parse_args(["--tag", "two words"])


def test_note_and_tag_rules() -> None:
    assert TAGS.parse("a, b  c,a") == ["a", "b", "c"]
    with pytest.raises(ConfigError, match="tag must be one word"):
        TAG.parse("a;b")
    with pytest.raises(ConfigError, match="one line"):
        NOTE.parse("two\nlines")
    with pytest.raises(ConfigError, match="at most 500"):
        NOTE.parse("x" * 501)


def test_notes_go_to_their_own_file_and_queued_runs_get_them(tmp_path: Path) -> None:
    seen = []
    run = tmp_path / "run"
    run.mkdir()
    (run / "status.json").write_text('{"status": "running"}')
    listener = Tagging(seen.append, "first note", ["a"])
    listener(TrainStarted("run", str(run), "keras", "relu", 1, 1, 1, 1, 1, 1, ["x"]))
    assert read_notes(run).note == "first note" and read_notes(run).tags == ["a"]
    assert (run / "status.json").read_text() == '{"status": "running"}'  # untouched
    # A reused run of a later comparison: its tags grow, its own note stays.
    Tagging(seen.append, "second", ["b", "a"])(QueueProgress(1, 1, "keras:relu", 1, True, str(run)))
    assert (read_notes(run).note, read_notes(run).tags) == ("first note", ["a", "b"])
    assert len(seen) == 2  # every event goes on
    (run / NOTES_FILE).write_text("[damaged")
    assert read_notes(run).note == "" and read_notes(run).tags == []


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_runs_on_a_terminal_is_an_aligned_table_with_a_line_per_damaged_run(runs: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "250")  # the table is cut to the terminal's width
    out = _Terminal()
    assert runs_main(["--runs-dir", str(runs)], out, io.StringIO()) == EXIT_OK
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["id", "variant", "backend", "recipe", "status", "epochs", "best", "final", "img/s",
                                "tags", "note"]
    assert set(lines[1]) == {"-", " "} and "\t" not in out.getvalue()
    assert lines[4].split()[:8] == ["20250102-100000-keras-elu-jax-bbbb", "keras:elu@jax", "jax", "seed-2018",
                                    "stopped", "2/3", "50.00", "45.00"]
    assert lines[-1].startswith("20250103-100000-keras-relu-cccc: history.csv is damaged")


def test_compare_refuses_an_export_folder_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    (tmp_path / "file").write_text("")
    assert main(["compare", "keras:relu", "keras:elu", "--export", str(tmp_path / "file")]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--export" in err and "is a file, not a folder" in err
