"""Classification metrics: top-k accuracy, per-class accuracy, confusion matrix (and its PNG), mAP."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from vidnas._imports import optional_import


def topk_correct(logits: torch.Tensor, labels: torch.Tensor, k: int) -> int:
    """How many rows have their label among the ``k`` highest logits."""
    k = min(k, logits.shape[1])
    top = logits.topk(k, dim=1).indices
    return int((top == labels.view(-1, 1)).any(dim=1).sum())


def confusion_matrix(predictions: np.ndarray, labels: np.ndarray, classes: int) -> np.ndarray:
    """counts[true, predicted]."""
    matrix = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    return matrix


def average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """Area under the precision-recall curve of one class (the mean of precisions at each positive)."""
    positives = targets.sum()
    if positives == 0:
        return float("nan")
    order = np.argsort(-scores, kind="stable")
    hits = targets[order]
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / positives)


def mean_average_precision(scores: np.ndarray, targets: np.ndarray) -> float:
    """mAP over the classes that have at least one positive (the Charades convention)."""
    values = [average_precision(scores[:, c], targets[:, c]) for c in range(scores.shape[1])]
    values = [v for v in values if not np.isnan(v)]
    return float(np.mean(values)) if values else float("nan")


def classification_report(logits: torch.Tensor, labels: torch.Tensor, class_names: Sequence[str]) -> dict:
    """top1, top5, per-class accuracy and the confusion matrix of single-label predictions."""
    predictions = logits.argmax(dim=1).numpy()
    truth = labels.numpy()
    matrix = confusion_matrix(predictions, truth, len(class_names))
    per_class = {name: (float(matrix[i, i] / matrix[i].sum()) if matrix[i].sum() else None) for i, name in enumerate(class_names)}
    count = len(truth)
    return {
        "top1": topk_correct(logits, labels, 1) / count,
        "top5": topk_correct(logits, labels, 5) / count,
        "per_class": per_class,
        "confusion": matrix.tolist(),
        "num_clips": count,
    }


def save_confusion_png(matrix: np.ndarray | list, class_names: Sequence[str], path: str | Path, title: str = "") -> Path:
    """The confusion matrix as a PNG (rows: true class, columns: predicted), normalised per row."""
    matplotlib = optional_import("matplotlib", "confusion-matrix plots")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(matrix, dtype=float)
    rows = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, rows, out=np.zeros_like(matrix), where=rows > 0)
    size = max(4.0, 0.45 * len(class_names) + 2)
    figure, axes = plt.subplots(figsize=(size, size))
    image = axes.imshow(share, cmap="Blues", vmin=0, vmax=1)
    axes.set_xticks(range(len(class_names)), class_names, rotation=60, ha="right", fontsize=8)
    axes.set_yticks(range(len(class_names)), class_names, fontsize=8)
    axes.set_xlabel("predicted")
    axes.set_ylabel("true")
    for i in range(len(class_names)):
        for j in range(len(class_names)):
            if matrix[i, j]:
                axes.text(j, i, int(matrix[i, j]), ha="center", va="center", fontsize=7, color="white" if share[i, j] > 0.5 else "black")
    axes.set_title(title or "confusion matrix")
    figure.colorbar(image, ax=axes, fraction=0.046)
    figure.tight_layout()
    path = Path(path)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
