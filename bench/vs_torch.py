"""kvt's training path against native PyTorch, on the same MiniVGGNet and data.

    python bench/vs_torch.py --data ../shared/data/cifar10-jpeg.tar.gz --train-limit 10000

Both sides train the same net (MiniVGGNet, ReLU and CReLU: the same layers,
channels last, batch 32, plain SGD 0.01 as in the 2018 recipe) on the same
class-balanced subset, loaded by kvt's own loader, and evaluate the same test
subset after every epoch:

- **torch**: native PyTorch on the CPU, ``channels_last`` memory format, a
  hand-written loop (uint8 batches cast and scaled per batch, like kvt).
- **kvt**: ``kvt_models.train.training.train`` -- exactly what ``kvt-train`` runs,
  events, checkpoint per epoch, history file and all.

Each measurement runs in a fresh process (TensorFlow and PyTorch each own
their thread pools; in one process they would fight), and the sides
alternate in one sequence -- warm-up pair, then ``--pairs`` measured pairs per
activation -- so drift on a noisy machine hits both. The first epoch of every
run (graph tracing, oneDNN kernel selection) is not timed: img/s is over
epochs 2..N, training plus evaluation, as wall time.

The last line is the median ratio kvt/torch for relu and for crelu (the goal
of issue 10 is >= 1.3). Each run's peak RSS is printed too.

Precision: kvt runs its default (``--precision auto``: bf16 math over float32
weights where the CPU has native bf16, see ``kvt_models/settings/precision.py``) and
torch runs plain float32. ``--torch-precision bfloat16`` gives torch its own
mixed precision (autocast) for the like-for-like number; ``--precision
float32`` (and ``KVT_FUSED_BATCH_NORM=0``) takes kvt's speed-ups away. PyTorch comes
from the bench extra (``pip install -e '.[bench]'``); kvt never needs it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


# -- the torch side -------------------------------------------------------------
def torch_run(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch
    from torch import nn

    from kvt_models.data.loader import load_dataset

    torch.manual_seed(1)
    data = load_dataset(args.data, train_limit=args.train_limit, test_limit=args.test_limit, seed=1)
    num_classes = data.num_classes

    class CReLU(nn.Module):
        def forward(self, x):
            return torch.cat([torch.relu(x), torch.relu(-x)], dim=1)

    def act(name: str) -> tuple[nn.Module, int]:
        return (CReLU(), 2) if name == "crelu" else (nn.ReLU(), 1)

    def minivggnet(activation: str) -> nn.Module:
        layers: list[nn.Module] = []
        channels = 3
        for block, filters in ((1, 32), (2, 64)):
            for i in (1, 2):
                layers.append(nn.Conv2d(channels, filters, 3, padding=1))
                module, widen = act("relu" if block == 1 and i == 1 else activation)
                channels = filters * widen
                layers += [module, nn.BatchNorm2d(channels, eps=1e-3, momentum=0.01)]
            layers += [nn.MaxPool2d(2), nn.Dropout(0.25)]
        module, widen = act(activation)
        layers += [nn.Flatten(), nn.Linear(channels * 8 * 8, 512), module,
                   nn.BatchNorm1d(512 * widen, eps=1e-3, momentum=0.01), nn.Dropout(0.5),
                   nn.Linear(512 * widen, num_classes)]
        return nn.Sequential(*layers)

    model = minivggnet(args.activation).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    # The 2018 recipe's inverse-time decay, per step.
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + 0.01 / args.epochs * step))
    loss_fn = nn.CrossEntropyLoss()
    # NHWC uint8 -> NCHW logical shape over channels-last memory: no copy per batch.
    x_train = torch.from_numpy(data.x_train).permute(0, 3, 1, 2)
    y_train = torch.from_numpy(data.y_train.astype(np.int64))
    x_test = torch.from_numpy(data.x_test).permute(0, 3, 1, 2)
    y_test = torch.from_numpy(data.y_test.astype(np.int64))
    bs = args.batch_size
    ends = []
    start = time.perf_counter()
    # --torch-precision bfloat16: PyTorch's own mixed precision on the CPU (autocast), for a like-for-like
    # comparison with kvt's bf16 (see --precision); float32 (the default) is plain native PyTorch.
    autocast = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.torch_precision == "bfloat16")  # noqa: E731
    for _ in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(x_train)).split(bs):
            xb = x_train[idx].float().div_(255).contiguous(memory_format=torch.channels_last)
            optimizer.zero_grad(set_to_none=True)
            with autocast():
                loss = loss_fn(model(xb), y_train[idx])
            loss.backward()
            optimizer.step()
            schedule.step()
        model.eval()
        correct = 0
        with torch.no_grad(), autocast():
            for i in range(0, len(x_test), bs):
                xb = x_test[i:i + bs].float().div_(255).contiguous(memory_format=torch.channels_last)
                correct += int((model(xb).argmax(1) == y_test[i:i + bs]).sum())
        ends.append(time.perf_counter())
    return _result(ends, start, len(x_train), correct / len(x_test))


# -- the kvt side ---------------------------------------------------------------
def kvt_run(args: argparse.Namespace) -> dict:
    from kvt_models.events import EpochEnded
    from kvt_models.settings.config import RunConfig
    from kvt_models.train.training import train

    ends: list[float] = []
    last: dict = {}

    def listener(event) -> None:
        if isinstance(event, EpochEnded):
            ends.append(time.perf_counter())
            last["val_accuracy"] = event.val_accuracy

    cfg = RunConfig(framework=args.framework, activation=args.activation, data=args.data, recipe=args.recipe,
                    epochs=args.epochs, seed=1, batch_size=args.batch_size, train_limit=args.train_limit,
                    test_limit=args.test_limit, backend=args.backend, precision=args.precision)
    with tempfile.TemporaryDirectory() as runs_dir:
        start = time.perf_counter()
        result = train(cfg, listener, runs_dir=runs_dir)
    return _result(ends, start, result.images_trained // max(1, len(ends)), last.get("val_accuracy", 0.0))


def _result(ends: list[float], start: float, n_train: int, accuracy: float) -> dict:
    timed = ends[-1] - ends[0] if len(ends) > 1 else ends[-1] - start
    epochs = len(ends) - 1 if len(ends) > 1 else 1
    return {
        "img_s": epochs * n_train / timed,
        "epoch_seconds": [round(b - a, 2) for a, b in zip([start] + ends, ends)],
        "accuracy": accuracy,
        "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- the sequence ---------------------------------------------------------------
def measure(side: str, activation: str, args: argparse.Namespace, train_limit: int | None, epochs: int) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", side, "--activation", activation,
           "--data", args.data, "--test-limit", str(args.test_limit), "--epochs", str(epochs),
           "--batch-size", str(args.batch_size), "--framework", args.framework, "--recipe", args.recipe,
           "--backend", args.backend, "--precision", args.precision, "--torch-precision", args.torch_precision]
    if train_limit:
        cmd += ["--train-limit", str(train_limit)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": os.path.dirname(HERE)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{side} {activation} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="sample")
    p.add_argument("--train-limit", type=int)
    p.add_argument("--test-limit", type=int, default=2000)
    p.add_argument("--epochs", type=int, default=2, help="per run; the first is not timed")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--pairs", type=int, default=3, help="measured (torch, kvt) pairs per activation")
    p.add_argument("--activations", default="relu,crelu")
    p.add_argument("--framework", default="keras", help="kvt's side: keras or tensorflow")
    p.add_argument("--recipe", default="seed-2018", help="kvt's side (the torch loop is plain SGD 0.01)")
    p.add_argument("--backend", default="tensorflow", help="kvt's side: its runtime")
    p.add_argument("--precision", default="auto", help="kvt's side: auto (its default), float32 or bfloat16")
    p.add_argument("--torch-precision", default="float32", choices=["float32", "bfloat16"],
                   help="torch's side: float32 (plain, the default) or bfloat16 (autocast)")
    p.add_argument("--worker", choices=["torch", "kvt"], help=argparse.SUPPRESS)
    p.add_argument("--activation", default="relu", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        out = torch_run(args) if args.worker == "torch" else kvt_run(args)
        print(json.dumps(out), flush=True)
        return

    activations = [a.strip() for a in args.activations.split(",") if a.strip()]
    from kvt_models.settings.precision import resolve

    kvt_precision = resolve(args.precision, args.backend)
    print(f"# {_cpu()}; {os.cpu_count()} cores; data {args.data}, train {args.train_limit or 'all'}, "
          f"test {args.test_limit}, batch {args.batch_size}, {args.epochs} epochs per run (first untimed); "
          f"kvt {args.framework} on {args.backend} in {kvt_precision} (fused batch norm "
          f"{'off' if os.environ.get('KVT_FUSED_BATCH_NORM') == '0' else 'on'}), torch in {args.torch_precision}",
          flush=True)
    ratios: dict[str, list[float]] = {a: [] for a in activations}
    sides: dict[tuple[str, str], list[float]] = {}
    for activation in activations:
        warm = min(args.train_limit or 2000, 2000)
        measure("torch", activation, args, warm, 1)
        measure("kvt", activation, args, warm, 1)
        for i in range(1, args.pairs + 1):
            t = measure("torch", activation, args, args.train_limit, args.epochs)
            k = measure("kvt", activation, args, args.train_limit, args.epochs)
            ratios[activation].append(k["img_s"] / t["img_s"])
            sides.setdefault(("torch", activation), []).append(t["img_s"])
            sides.setdefault(("kvt", activation), []).append(k["img_s"])
            print(f"{activation:6} pair {i}: torch {t['img_s']:7.1f} img/s (acc {t['accuracy']:.3f}, "
                  f"{t['maxrss_mb']:5.0f} MB)  kvt {k['img_s']:7.1f} img/s (acc {k['accuracy']:.3f}, "
                  f"{k['maxrss_mb']:5.0f} MB)  ratio {k['img_s'] / t['img_s']:.2f}", flush=True)
    for (side, activation), values in sides.items():
        print(f"median {side:5} {activation:6} {statistics.median(values):7.1f} img/s")
    print("kvt/torch median ratio: " + ", ".join(
        f"{a} {statistics.median(r):.2f}" for a, r in ratios.items()))


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    main()
