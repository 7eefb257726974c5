"""How long a stop takes: from the signal (or the app's ``s``) to the process's exit (or the app's idle).

    python bench/stop_latency.py cli   --data ../shared/data/cifar10-jpeg.tar.gz   # kvt-train, Ctrl-C
    python bench/stop_latency.py cli   --signal TERM                             # ... or SIGTERM, SIGHUP
    python bench/stop_latency.py queue --data ../shared/data/cifar10-jpeg.tar.gz   # kvt-train compare
    python bench/stop_latency.py app   --data ../shared/data/cifar10-jpeg.tar.gz   # kvt-tui's s key, headless

Each waits for the line (or event) of epoch 1's end, then ``--after`` seconds
(3: well into epoch 2's training), sends the stop, and measures with its own
clock until the process has exited (cli, queue) or the app's training worker
is done (app). It then reads the run folder: the exit status, the epochs in
history.csv, and which epoch report.json describes (``"epoch"``, where the
kvt under test writes it) beside that epoch's ``val_accuracy``.

Defaults: keras + relu, ``--train-limit 20000`` images, 3 epochs, scored on
the data's whole test split. The data's first load decodes the archive (~20 s
for CIFAR-10's JPEGs); later loads come from kvt's cache.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


def _command(mode: str, args: argparse.Namespace, runs_dir: Path) -> list[str]:
    common = ["--data", args.data, "--train-limit", str(args.train_limit), "--epochs", str(args.epochs),
              "--seed", "1", "--runs-dir", str(runs_dir)]
    if mode == "queue":
        return [sys.executable, "-u", "-m", "kvt_models.cli", "compare", "keras:relu", "--seeds", "2", *common]
    return [sys.executable, "-u", "-m", "kvt_models.cli", *common]


def _wait_for_epoch_1(proc: subprocess.Popen, epochs: int, log: list[str]) -> float:
    """The moment the line of epoch 1's end is printed; everything printed is kept in ``log``."""
    assert proc.stdout is not None
    for line in proc.stdout:
        log.append(line)
        if f"Epoch 1/{epochs} - " in line:
            return time.monotonic()
    raise SystemExit("kvt-train ended before epoch 1 did:\n" + "".join(log))


def process_stop(mode: str, args: argparse.Namespace) -> dict:
    runs_dir = Path(tempfile.mkdtemp(prefix="kvt-stop-"))
    proc = subprocess.Popen(_command(mode, args, runs_dir), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_DFL))
    log: list[str] = []
    epoch_1 = _wait_for_epoch_1(proc, args.epochs, log)
    timed: list[tuple[float, str]] = []  # each later line, with when it came

    def drain() -> None:  # keep reading stdout, so that a full pipe never holds the process up
        for line in proc.stdout or []:
            timed.append((time.monotonic(), line.rstrip()))

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    time.sleep(max(0.0, epoch_1 + args.after - time.monotonic()))
    sent = time.monotonic()
    proc.send_signal(getattr(signal, f"SIG{args.signal}"))
    code = proc.wait()
    latency = time.monotonic() - sent
    reader.join(timeout=5)
    after = [f"{t - sent:+.2f} s {line[:90]}" for t, line in timed if t >= sent]
    return {"latency_s": round(latency, 2), "exit": code, **_run_facts(runs_dir), "after_stop": after[:8]}


def _run_facts(runs_dir: Path) -> dict:
    runs = sorted(p for p in runs_dir.iterdir() if (p / "config.json").is_file())
    if not runs:
        return {"run": None}
    run = runs[0]
    rows = [line.split(",") for line in (run / "history.csv").read_text().splitlines()[1:] if line.strip()] \
        if (run / "history.csv").is_file() else []
    report = json.loads((run / "report.json").read_text()) if (run / "report.json").is_file() else {}
    return {
        "run": str(run),
        "history_epochs": [int(r[0]) for r in rows],
        "last_val_accuracy": float(rows[-1][4]) if rows else None,
        "report_epoch": report.get("epoch"),
        "report_accuracy": (report.get("report") or {}).get("accuracy"),
        "status": json.loads((run / "status.json").read_text()).get("message"),
    }


def app_stop(args: argparse.Namespace) -> dict:
    from kvt_models.events import EpochEnded
    from kvt_models.train.isolated import train_isolated
    from kvt_tui.cli import create_app

    runs_dir = Path(tempfile.mkdtemp(prefix="kvt-stop-app-"))
    epoch_1 = threading.Event()

    def spying(config, listener, **kwargs):
        def spy(event):
            listener(event)
            if isinstance(event, EpochEnded):
                epoch_1.set()

        return train_isolated(config, spy, **kwargs)

    app = create_app(data=args.data, runs_dir=runs_dir, epochs=args.epochs, train_limit=args.train_limit,
                     train_fn=spying)

    async def drive() -> float:
        async with app.run_test(size=(100, 30)) as pilot:
            await app.main_screen.ui_ready.wait()
            await pilot.pause()
            await pilot.press("escape", "t")
            await asyncio.to_thread(epoch_1.wait)
            await asyncio.sleep(args.after)
            sent = time.monotonic()
            await pilot.press("s")
            await app.workers.wait_for_complete()
            while app.main_screen.runner.training:  # idle once the screen has handled the worker's end
                await pilot.pause()
            return time.monotonic() - sent

    latency = asyncio.run(drive())
    import multiprocessing

    return {"latency_s": round(latency, 2), "children_left": len(multiprocessing.active_children()),
            **_run_facts(runs_dir)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["cli", "queue", "app"])
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared/data/cifar10-jpeg.tar.gz"))
    parser.add_argument("--train-limit", type=int, default=20000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--after", type=float, default=3.0, help="seconds into epoch 2 to stop (default 3)")
    parser.add_argument("--signal", choices=["INT", "TERM", "HUP"], default="INT", help="cli and queue (default INT)")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    for i in range(args.repeats):
        facts = app_stop(args) if args.mode == "app" else process_stop(args.mode, args)
        print(json.dumps({"mode": args.mode, "signal": args.signal if args.mode != "app" else "s", "repeat": i + 1,
                          **facts}, indent=None), flush=True)


if __name__ == "__main__":
    main()
