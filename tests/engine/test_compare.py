"""Seeded repeatability and the statistics of `kvt-train compare`."""

from __future__ import annotations

import json
import math

import pytest
from scipy import stats

from kvt_models.cli.main import main
from kvt_models.compare.files import compare_runs, group_runs
from kvt_models.compare.plan import parse_seeds, parse_variant
from kvt_models.compare.queue import run_comparison
from kvt_models.compare.stats import Stat, mean_std, welch
from kvt_models.compare.summary import PairSummary, VariantSummary
from kvt_models.compare.verdict import verdict
from kvt_models.errors import ConfigError, KvtError
from kvt_models.settings.config import RunConfig
from kvt_models.store.runs import RunStore
from kvt_models.train.training import train

TINY = dict(data="sample", train_limit=160, test_limit=60, epochs=2, batch_size=16)


def _metrics(history):
    return [{k: v for k, v in row.items() if k not in ("seconds", "train_seconds")} for row in history]


@pytest.mark.long
def test_the_same_seed_gives_the_same_history_and_another_seed_does_not(tmp_path):
    # the fast recipe: shuffling and augmentation must be seeded too
    # One epoch is enough: every batch of it is shuffled and augmented from the seed.
    runs = [train(RunConfig(recipe="fast", seed=s, **{**TINY, "epochs": 1}), runs_dir=tmp_path) for s in (11, 11, 12)]
    assert _metrics(runs[0].history) == _metrics(runs[1].history)
    assert _metrics(runs[0].history) != _metrics(runs[2].history)


def test_welch_matches_scipy_and_the_ci_brackets_the_difference():
    a, b = Stat.of([0.70, 0.72, 0.71, 0.69]), Stat.of([0.74, 0.73, 0.76])
    diff, (lo, hi), p = welch(a, b)
    assert diff == pytest.approx(b.mean - a.mean)
    assert p == pytest.approx(stats.ttest_ind([0.74, 0.73, 0.76], [0.70, 0.72, 0.71, 0.69], equal_var=False).pvalue)
    assert lo < diff < hi and lo > 0  # clearly separated here
    ci = stats.ttest_ind([0.74, 0.73, 0.76], [0.70, 0.72, 0.71, 0.69], equal_var=False).confidence_interval(0.95)
    assert (lo, hi) == pytest.approx((ci.low, ci.high))
    d1, ci1, p1 = welch(Stat.of([0.7]), Stat.of([0.8]))
    assert d1 == pytest.approx(0.1) and math.isnan(p1) and math.isnan(ci1[0])


def test_the_welch_ci_from_scipy_equals_the_numbers_kvt_derived_by_hand_before():
    # Welch-Satterthwaite by hand (kvt <= 0.1: diff -+ t(0.975, df) * se), recorded on these samples.
    a, b = Stat.of([0.70, 0.72, 0.71, 0.69]), Stat.of([0.74, 0.73, 0.76])
    assert welch(a, b)[1] == pytest.approx((0.007866018745608872, 0.06880064792105779), rel=1e-12)
    a, b = Stat.of([0.41, 0.43]), Stat.of([0.45, 0.44, 0.47])
    diff, ci, p = welch(a, b)
    assert ci == pytest.approx((-0.015377091833938275, 0.08204375850060493), rel=1e-12)
    assert p == pytest.approx(0.10762541533920723, rel=1e-12) and isinstance(ci[0], float)
    # Identical, noise-free results: the difference is exact, as before (scipy alone would say NaN).
    diff, ci, p = welch(Stat.of([0.5, 0.5, 0.5]), Stat.of([0.6, 0.6, 0.6]))
    assert ci == (diff, diff) and p == 0.0
    assert welch(Stat.of([0.5, 0.5]), Stat.of([0.5, 0.5]))[1:] == ((0.0, 0.0), 1.0)


def test_mean_std_is_one_format_for_the_cli_table_and_the_app():
    assert mean_std(Stat.of([0.4123, 0.4256])) == "41.89 ± 0.94"
    assert mean_std(Stat.of([0.42])) == "42.00 ± n/a"
    assert mean_std(Stat.of([])) == "-"
    # The CLI's plain-text column pads both numbers so that the ± signs line up.
    assert mean_std(Stat.of([0.42]), aligned=True) == " 42.00 ±   n/a"
    assert mean_std(Stat.of([0.4123, 0.4256]), aligned=True) == " 41.89 ±  0.94"


def _variant(name, values):
    return VariantSummary(name, Stat.of(values), Stat.of(values), 1.0, 1, [], [])


def test_verdict_sentences():
    a, b = _variant("keras:relu", [0.70, 0.71, 0.69]), _variant("tensorflow:crelu", [0.71, 0.70, 0.72])
    diff, ci, p = welch(a.final_accuracy, b.final_accuracy)
    text = verdict([a, b], [PairSummary(a.variant, b.variant, diff, ci, p, p < 0.05)])
    assert text.startswith("tensorflow:crelu is 1.0 points better than keras:relu, but with 3 seeds that is not significant")
    assert text.endswith("run more seeds.")
    c = _variant("tensorflow:crelu", [0.80, 0.81, 0.805])
    diff, ci, p = welch(a.final_accuracy, c.final_accuracy)
    assert "that is significant" in verdict([a, c], [PairSummary(a.variant, c.variant, diff, ci, p, p < 0.05)])


@pytest.mark.parametrize("text", ["keras", "keras:tanh", "torch:relu", ":relu"])
def test_bad_variants_are_one_line_errors(text):
    with pytest.raises(ConfigError, match="framework:activation"):
        parse_variant(text)


def test_seed_lists():
    assert parse_seeds("3") == [1, 2, 3]
    assert parse_seeds("4,9") == [4, 9]
    for bad in ("0", "x", "1,1", "-2,3"):
        with pytest.raises(ConfigError):
            parse_seeds(bad)


@pytest.mark.long
def test_a_comparison_runs_then_reuses_its_runs_and_reproduces_the_numbers(tmp_path):
    base = RunConfig(seed=0, **{**TINY, "epochs": 1})
    variants = [("keras", "relu"), ("tensorflow", "crelu")]
    first = run_comparison(variants, [1, 2], base, runs_dir=tmp_path)
    assert (first.trained, first.reused, first.stopped) == (4, 0, False)
    saved = json.loads((first.folder / "comparison.json").read_text())
    assert (first.folder / "overlay.png").read_bytes()[:4] == b"\x89PNG"
    by_name = {v["variant"]: v for v in saved["variants"]}
    assert by_name["tensorflow:crelu"]["params"] == 4_331_434 and by_name["keras:relu"]["final_accuracy"]["n"] == 2
    assert saved["pairs"][0]["a"] == "keras:relu" and "p_value" in saved["pairs"][0] and "ci95" in saved["pairs"][0]

    second = run_comparison(variants, [1, 2], base, runs_dir=tmp_path)
    assert (second.trained, second.reused) == (0, 4)
    again = json.loads((second.folder / "comparison.json").read_text())
    assert again["variants"] == saved["variants"] and again["pairs"] == saved["pairs"]
    assert again["verdict"] == saved["verdict"]


def test_compare_cli_rejects_bad_input_with_exit_2(capsys):
    assert main(["compare", "keras:relu", "pytorch:relu", "--data", "sample"]) == 2
    assert "variant 'pytorch:relu' must be framework:activation" in capsys.readouterr().err
    assert main(["compare", "keras:relu", "--seeds", "zero"]) == 2


def _finished_run(store, framework, activation, seed, accs, **settings):
    """A finished run made with the run store's own writer (no training)."""
    config = {"framework": framework, "activation": activation, "data": "sample", "recipe": "seed-2018",
              "epochs": len(accs), "batch_size": 32, "lr": 0.01, "seed": seed, **settings}
    writer = store.create({"config": config, "params": 1000}, f"{framework}-{activation}")
    for epoch, acc in enumerate(accs, start=1):
        writer.append_history({"epoch": epoch, "loss": 2 - acc, "accuracy": acc, "val_loss": 2.1 - acc,
                               "val_accuracy": acc, "lr": 0.01, "seconds": 1.5})
    writer.set_status("finished")
    return writer.path


def test_marked_runs_group_by_variant_in_the_canonical_order_and_differences_are_listed(tmp_path):
    store = RunStore(tmp_path)
    crelu = _finished_run(store, "tensorflow", "crelu", 3, [0.3, 0.45])
    relu1 = _finished_run(store, "keras", "relu", 1, [0.3, 0.42])
    relu2 = _finished_run(store, "keras", "relu", 2, [0.31, 0.40], lr=0.02)
    groups, settings = group_runs([crelu, relu1, relu2])
    # keras before tensorflow whatever the order of the paths, so pairs read "b - a" the same way.
    assert list(groups) == ["keras:relu", "tensorflow:crelu"]
    assert [r.path for r in groups["keras:relu"]] == [relu1, relu2]
    assert [r.path for r in groups["tensorflow:crelu"]] == [crelu]
    assert settings["seeds"] == [1, 2, 3]
    assert settings["lr"] == [0.01, 0.02]  # a difference is shown, not hidden
    assert (settings["epochs"], settings["data"], settings["batch_size"]) == (2, "sample", 32)
    assert not {"framework", "activation", "seed"} & set(settings)


def test_a_run_without_a_finished_epoch_cannot_be_compared(tmp_path):
    store = RunStore(tmp_path)
    done = _finished_run(store, "keras", "relu", 1, [0.3])
    empty = store.create({"config": {"framework": "keras", "activation": "elu", "epochs": 2, "seed": 1}}, "keras-elu")
    empty.set_status("stopped")
    with pytest.raises(KvtError, match=f"run {empty.run_id} has no finished epoch"):
        group_runs([done, empty.path])
    (tmp_path / "not-a-run").mkdir()
    with pytest.raises(KvtError, match="not a kvt run folder"):
        group_runs([done, tmp_path / "not-a-run"])


def test_comparing_finished_runs_writes_the_comparison(tmp_path):
    store = RunStore(tmp_path)
    paths = [_finished_run(store, "tensorflow", "crelu", 2, [0.32, 0.45]), _finished_run(store, "keras", "relu", 1, [0.30, 0.42])]
    comparison, folder = compare_runs(paths, tmp_path)
    assert folder.parent == tmp_path / "comparisons"
    assert (folder / "comparison.json").is_file() and (folder / "overlay.png").read_bytes()[:4] == b"\x89PNG"
    assert [(v.variant, v.final_accuracy.n, v.final_accuracy.mean) for v in comparison.variants] == [
        ("keras:relu", 1, pytest.approx(0.42)), ("tensorflow:crelu", 1, pytest.approx(0.45)),
    ]
    assert comparison.settings["seeds"] == [1, 2]
    assert "one seed each" in comparison.verdict


def test_a_comparison_has_the_difference_per_epoch_in_its_json_its_png_and_its_table(tmp_path):
    """Issue 13: relu leads early, crelu from epoch 3 on; the table, the json and the PNG say so."""
    from kvt_models.compare.verdict import format_table

    store = RunStore(tmp_path)
    relu = [[0.40, 0.50, 0.55, 0.58], [0.41, 0.51, 0.56, 0.57], [0.39, 0.49, 0.54, 0.59]]
    crelu = [[0.35, 0.47, 0.58, 0.62], [0.36, 0.46, 0.59, 0.63], [0.34, 0.48, 0.57, 0.61]]
    paths = [_finished_run(store, "keras", "relu", s, accs) for s, accs in enumerate(relu, start=1)]
    paths += [_finished_run(store, "tensorflow", "crelu", s, accs) for s, accs in enumerate(crelu, start=1)]
    comparison, folder = compare_runs(paths, tmp_path)

    [pair] = comparison.per_epoch.pairs
    assert (pair.a, pair.b, pair.settled_from, pair.lead_changed_at) == ("keras:relu", "tensorflow:crelu", 3, 3)
    assert "The lead changed at epoch 3 of 4; longer training may change the answer." in comparison.verdict

    saved = json.loads((folder / "comparison.json").read_text())
    [saved_pair] = saved["per_epoch"]["pairs"]
    assert [e["epoch"] for e in saved_pair["epochs"]] == [1, 2, 3, 4] and saved_pair["settled_from"] == 3
    assert saved_pair["epochs"][0]["n_a"] == 3 and saved_pair["epochs"][0]["ci_high"] < 0
    png = folder / "diff-keras-relu-vs-tensorflow-crelu.png"
    assert png.read_bytes()[:4] == b"\x89PNG"

    table = format_table(comparison)
    assert "B - A per epoch, A = keras:relu, B = tensorflow:crelu" in table
    assert table.splitlines()[-1].startswith("settled from epoch 3: tensorflow:crelu is better than keras:relu")


def test_three_variants_are_each_compared_with_the_first_and_holm_corrected(tmp_path):
    store = RunStore(tmp_path)
    paths = []
    for framework, activation, accs in (("keras", "relu", [0.50, 0.51, 0.52]), ("keras", "gelu", [0.55, 0.56, 0.57]),
                                        ("tensorflow", "crelu", [0.50, 0.52, 0.51])):
        paths += [_finished_run(store, framework, activation, s, [a]) for s, a in enumerate(accs, start=1)]
    comparison, _ = compare_runs(paths, tmp_path)
    assert [(p.a, p.b) for p in comparison.pairs] == [("keras:relu", "keras:gelu"), ("keras:relu", "tensorflow:crelu")]
    ps = [p.p_value for p in comparison.pairs]
    low, high = sorted(range(2), key=lambda i: ps[i])
    assert comparison.pairs[low].p_holm == pytest.approx(min(1, 2 * ps[low]))
    assert comparison.pairs[high].p_holm == pytest.approx(max(comparison.pairs[low].p_holm, ps[high]))
    assert "Holm-corrected p=" in comparison.verdict


def test_a_local_queue_trains_two_runs_at_once_each_with_one_inter_op_thread(tmp_path):
    from kvt_models.compare.placement import LocalRuns, where_runs_train
    from kvt_models.settings.options import PARALLEL
    from kvt_models.train.isolated import thread_env

    seen = []

    def local(config, listener, **kwargs):
        seen.append(kwargs)

    with where_runs_train(None, local=local, parallel=PARALLEL.default) as train_fn:
        assert isinstance(train_fn, LocalRuns) and train_fn.concurrency == PARALLEL.default == 2
        train_fn(RunConfig(), None, runs_dir=tmp_path)
    assert seen == [{"inter_op_threads": 1, "runs_dir": tmp_path}]
    with where_runs_train(None, local=local, parallel=1) as train_fn:
        assert train_fn is local  # one at a time: the runtime's own thread pools
    # Only the inter-op pool: the intra-op pool's size changes a seeded run's numbers (docs/performance.md).
    assert thread_env(1) == {"TF_NUM_INTEROP_THREADS": "1"} and thread_env(None) == {}


def test_parallel_is_for_local_queues(capsys):
    assert main(["compare", "keras:relu", "keras:elu", "--ray", "--parallel", "2", "--data", "sample"]) == 2
    assert "--parallel applies only to a local queue" in capsys.readouterr().err
    assert main(["compare", "keras:relu", "--parallel", "0"]) == 2
    assert "--parallel must be a whole number from 1 to 64, got 0" in capsys.readouterr().err
