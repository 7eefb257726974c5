"""PNG export: matplotlib's object API, safe to use from two threads at once."""

from __future__ import annotations

import shutil
import threading

from kvt_models.plots import export_run_pngs, save_overlay
from kvt_models.store.runs import RunStore

PNG = b"\x89PNG\r\n\x1a\n"
CLASSES = ["cat", "dog", "frog"]
CURVES = {"keras:relu": {"val_accuracy_mean": [0.2, 0.4, 0.5], "val_accuracy_std": [0.01, 0.02, 0.01],
                         "val_loss_mean": [2.0, 1.5, 1.2], "val_loss_std": [0.1, 0.1, 0.05]}}


def _run(root, label: str):
    writer = RunStore(root).create({"config": {"epochs": 4, "framework": "keras", "activation": label}}, label)
    for epoch in range(1, 5):
        writer.append_history({"epoch": epoch, "loss": 2.0 / epoch, "accuracy": 0.2 * epoch, "val_loss": 2.1 / epoch,
                               "val_accuracy": 0.18 * epoch, "lr": 0.01, "seconds": 1.0})
    writer.write_report({"accuracy": 0.5}, [[5, 1, 0], [2, 3, 1], [0, 1, 6]], CLASSES)
    writer.set_status("finished")
    writer.close()
    return writer.path


def test_two_threads_export_at_the_same_time_and_both_pngs_are_whole(tmp_path):
    run = _run(tmp_path / "runs", "relu")
    # What each file looks like when drawn alone (Agg output is deterministic).
    alone = {p.name: p.read_bytes() for p in export_run_pngs(run)}
    alone["overlay.png"] = save_overlay(CURVES, tmp_path / "overlay.png", title="mean").read_bytes()
    copies = [tmp_path / f"copy{i}" for i in range(2)]
    for copy in copies:
        shutil.copytree(run, copy)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []
    written: dict[str, list] = {}

    def job(name, work):
        try:
            barrier.wait(timeout=30)
            for _ in range(3):  # a few rounds, so that the threads overlap for sure
                written[name] = work()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    # What the app does: the export worker and the compare worker, each on a thread of its own.
    threads = [
        threading.Thread(target=job, args=("a", lambda: export_run_pngs(copies[0]))),
        threading.Thread(target=job, args=("b", lambda: export_run_pngs(copies[1]))),
        threading.Thread(target=job, args=("c", lambda: [save_overlay(CURVES, tmp_path / "c" / "overlay.png", title="mean")])),
    ]
    (tmp_path / "c").mkdir()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sorted(p.name for p in written["a"]) == sorted(p.name for p in written["b"]) == ["confusion.png", "curves.png"]
    for path in [*written["a"], *written["b"], *written["c"]]:
        data = path.read_bytes()
        assert data[:8] == PNG and len(data) > 5_000, path
        # Not only valid: the same picture as drawn alone (no style or figure of another thread in it).
        assert data == alone[path.name], path
