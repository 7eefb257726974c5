"""Which input pipeline feeds a runtime fastest: tf.data, keras.utils.PyDataset, or whole float arrays.

One runtime per process (``--backend``): the three forms alternate in one
sequence, each training the same net for two epochs on the same images;
only the second epoch is timed (the first one compiles). kvt uses tf.data
where TensorFlow runs the model and its PyDataset on JAX and PyTorch
(kvt_models/train/pipeline.py); this is the measurement behind that choice.

    python bench/pipelines.py --backend jax --images 2000 --repeats 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kvt_models.backend import runtime


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backend", default="tensorflow")
    p.add_argument("--data", default="sample")
    p.add_argument("--images", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--repeats", type=int, default=2)
    args = p.parse_args()
    keras = runtime.activate(args.backend)

    import numpy as np

    from kvt_models.data.loader import load_dataset
    from kvt_models.settings.config import RunConfig
    from kvt_models.train import pipeline
    from kvt_models.train.training import build_compiled_model

    data = load_dataset(args.data, train_limit=args.images, test_limit=100, seed=1)
    cfg = RunConfig(backend=args.backend, epochs=2, batch_size=args.batch_size, seed=1).resolved()
    steps = -(-len(data.x_train) // cfg.batch_size)
    n = data.num_classes
    forms = {
        "tf.data": lambda: (pipeline._tf_dataset(data.x_train, data.y_train, cfg.batch_size, num_classes=n,
                                                 shuffle=True, augment=False, seed=1),),
        "PyDataset": lambda: (pipeline._py_dataset_class()(data.x_train, data.y_train, cfg.batch_size, num_classes=n,
                                                           shuffle=True, seed=1),),
        # The float32 copy that kvt avoids (600 MB for CIFAR-10's training set).
        "numpy": lambda: (data.x_train.astype(np.float32) / 255.0, np.eye(n, dtype=np.float32)[data.y_train]),
    }

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.last = time.perf_counter() - self.start

    speeds: dict[str, list[float]] = {name: [] for name in forms}
    for repeat in range(1, args.repeats + 1):
        for name, make in forms.items():
            runtime.seed_everything(repeat)
            model = build_compiled_model(cfg, n, steps)
            timer = EpochTimer()
            extra = {"batch_size": cfg.batch_size, "shuffle": True} if name == "numpy" else {}
            model.fit(*make(), epochs=2, verbose=0, callbacks=[timer], **extra)
            speeds[name].append(len(data.x_train) / timer.last)
            print(f"repeat {repeat}  {name:<10} {speeds[name][-1]:7.1f} img/s", flush=True)
    print(f"\n{args.backend}, {len(data.x_train)} images, batch {cfg.batch_size}, 2nd epoch, median of {args.repeats}: "
          + ", ".join(f"{name} {statistics.median(v):.0f}" for name, v in speeds.items()) + " img/s")


if __name__ == "__main__":
    main()
