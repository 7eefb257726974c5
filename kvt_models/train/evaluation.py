"""Test-set evaluation: each finished epoch's scores, and its classification report and confusion matrix.

Keras's own validation pass (``fit(validation_data=...)``) runs at the end of
every epoch, also of one that a stop request has just cut short, before any
callback can skip it. So kvt fits without validation data, and
:class:`EpochScorer` scores the test split itself, from the callback, for the
epochs that ran to their end only. The predictions behind that epoch's
``val_loss`` and ``val_accuracy`` are the ones its report is made of (with a
mirrored pass more, for recipes with flip test-time augmentation): however a
run ends, finished or stopped, it never predicts again, and its report is
the report of the last epoch on disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

SOFTMAX_LAYER = "softmax"  # MiniVGGNet's last layer (kvt_models.model.architectures)

@dataclass
class Evaluation:
    report: dict[str, Any]  # classification_report(..., output_dict=True)
    confusion: list[list[int]]
    class_names: list[str]
    text: str  # the same report as sklearn prints it, for logs
    views: int = 1  # the test-time views whose softmax the predictions average (1: the plain image)


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str], *,
                         views: int = 1) -> Evaluation:
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(class_names)))
    kwargs = dict(labels=labels, target_names=class_names, zero_division=0)
    report = classification_report(y_true, y_pred, output_dict=True, **kwargs)
    text = classification_report(y_true, y_pred, digits=2, **kwargs)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return Evaluation(report=report, confusion=cm.astype(int).tolist(), class_names=list(class_names), text=text,
                      views=views)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    z = logits.astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def crossentropy(y_true: np.ndarray, log_probs: np.ndarray, label_smoothing: float = 0.0) -> float:
    """The mean categorical cross-entropy, from log-probabilities, with Keras's label smoothing.

    Keras computes a softmax model's loss from the logits behind the softmax
    (Keras 3 keeps them on the output, Keras 2 reads them off the op), not
    from clipped probabilities; so does this, for val_loss to be Keras's.
    """
    n, k = log_probs.shape
    target = np.full((n, k), label_smoothing / k, dtype=np.float64)
    target[np.arange(n), y_true] += 1.0 - label_smoothing
    return float(np.mean(-np.sum(target * log_probs, axis=1)))


def logits_model(model: Any, keras: Any) -> Any:
    """The same model (same weights) up to the input of its final softmax: what Keras's loss is computed from."""
    return keras.Model(model.inputs, model.get_layer(SOFTMAX_LAYER).input)


class EpochScorer:
    """Scores the model on the test split at the end of each finished epoch; keeps that epoch's report.

    ``flip``: the report (not ``val_accuracy``, which stays the plain
    prediction's, as Keras's was) averages each image's and its mirror
    image's softmax, for recipes that train on flipped images.
    """

    # Images per predicted batch, whatever the run trains with: faster than the run's 32 for little more
    # peak memory; larger batches save less time than they add memory (docs/faults.md).
    BATCH = 128

    def __init__(self, x_test: np.ndarray, y_test: np.ndarray, class_names: list[str], *,
                 label_smoothing: float = 0.0, flip: bool = False):
        self.x, self.y = x_test, y_test
        self.class_names = list(class_names)
        self.label_smoothing = label_smoothing
        self.flip = flip
        self.latest: Evaluation | None = None  # the report of the last epoch scored
        self._heads: dict[int, Any] = {}  # id(model) -> its logits model, made once per model

    def score(self, model: Any) -> tuple[float, float]:
        """``(val_loss, val_accuracy)`` of ``model`` now; its report becomes :attr:`latest`."""
        head = self._head(model)
        log_probs = log_softmax(self._logits(head, mirrored=False))
        val_loss = crossentropy(self.y, log_probs, self.label_smoothing)
        val_accuracy = float(np.mean(log_probs.argmax(axis=1) == self.y))
        if self.flip:
            probs = np.exp(log_probs) + np.exp(log_softmax(self._logits(head, mirrored=True)))
            predicted = probs.argmax(axis=1)
        else:
            predicted = log_probs.argmax(axis=1)
        self.latest = evaluate_predictions(self.y, predicted, self.class_names, views=2 if self.flip else 1)
        return val_loss, val_accuracy

    def _logits(self, head: Any, *, mirrored: bool) -> np.ndarray:
        """The logits of the test split (or of its mirror images), batch by batch from NumPy.

        Not ``predict`` on a tf.data pipeline: that builds an iterator per call and
        drops it at the end, and dropping tf.data iterators whose threads run
        ``tf.numpy_function`` is what stalled epochs for ~30 s (issue 19).
        """
        out = []
        for start in range(0, len(self.x), self.BATCH):
            images = self.x[start:start + self.BATCH]
            if mirrored:
                images = images[:, :, ::-1]
            batch = images.astype(np.float32) / 255.0
            if len(batch) < self.BATCH:
                # Padded to the full batch: one traced shape, not a second trace (seconds) for the last batch.
                batch = np.concatenate([batch, np.zeros((self.BATCH - len(batch), *batch.shape[1:]), np.float32)])
            out.append(np.asarray(head.predict_on_batch(batch))[:len(images)])
        return np.concatenate(out)

    def warm_up(self, model: Any) -> None:
        """Trace the prediction of ``model`` now (one batch), so that the first epoch's time holds no tracing of it."""
        if len(self.x):
            self._head(model).predict_on_batch(np.zeros((self.BATCH, *self.x.shape[1:]), np.float32))

    def _head(self, model: Any) -> Any:
        if id(model) not in self._heads:
            from kvt_models.backend import runtime

            self._heads[id(model)] = logits_model(model, runtime.keras())
        return self._heads[id(model)]

    def report(self) -> dict[str, Any] | None:
        """What report.json holds for the last epoch scored (the run store adds the epoch), or None."""
        e = self.latest
        if e is None:
            return None
        return {"report": e.report, "confusion": e.confusion, "class_names": e.class_names, "views": e.views}
