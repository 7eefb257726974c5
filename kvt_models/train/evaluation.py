"""Test-set evaluation with scikit-learn: classification report and confusion matrix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass
class Evaluation:
    report: dict[str, Any]  # classification_report(..., output_dict=True)
    confusion: list[list[int]]
    class_names: list[str]
    text: str  # the same report as sklearn prints it, for logs


def evaluate_predictions(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> Evaluation:
    from sklearn.metrics import classification_report, confusion_matrix

    labels = list(range(len(class_names)))
    kwargs = dict(labels=labels, target_names=class_names, zero_division=0)
    report = classification_report(y_true, y_pred, output_dict=True, **kwargs)
    text = classification_report(y_true, y_pred, digits=2, **kwargs)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    return Evaluation(report=report, confusion=cm.astype(int).tolist(), class_names=list(class_names), text=text)


def predict_classes(model: Any, x_uint8: np.ndarray, batch_size: int, *, flip: bool = False) -> np.ndarray:
    """Argmax predictions, scaling each batch to [0, 1] on the fly (no float copy of the set).

    ``flip``: test-time augmentation -- the mean of the softmax of each image
    and of its mirror image, for recipes that train on flipped images.
    """
    from kvt_models.train.pipeline import make_dataset

    probs = np.asarray(model.predict(make_dataset(x_uint8, None, batch_size, shuffle=False), verbose=0))
    if flip:
        mirrored = np.ascontiguousarray(x_uint8[:, :, ::-1])
        probs = probs + np.asarray(model.predict(make_dataset(mirrored, None, batch_size, shuffle=False), verbose=0))
    return probs.argmax(axis=1)
