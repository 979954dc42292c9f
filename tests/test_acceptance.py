"""Acceptance of the training engine on the built-in data set: a 3D network learns the time-reversed class
pairs, a frame-order-blind 2D baseline (per-frame 2D convs, then the mean over time) cannot."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidnas.data import build_cache, load_source, synthesize
from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node
from vidnas.train import Recipe, train_model


def network(temporal: int, width: int = 24) -> Genotype:
    """temporal 3: a small 3D CNN; temporal 1: the same network with per-frame 2D convs (order-blind)."""
    k = temporal
    layers = [
        Conv(out=width, kernel=(k, 3, 3), act="relu"),
        Conv(out=2 * width, kernel=(k, 3, 3), stride=(1, 2, 2), act="relu"),
        Conv(out=2 * width, kernel=(k, 3, 3), act="relu"),
        Conv(out=4 * width, kernel=(k, 3, 3), stride=(1, 2, 2), act="relu"),
    ]
    return Genotype(name=f"k{k}", input=InputSpec(frames=8, size=32), nodes=[Node(name="body", layers=layers)], head=Head(num_classes=4))


def within_pair_accuracy(confusion: list[list[int]]) -> float:
    """Accuracy on the question 'which member of its time-reversal pair is this clip?' (chance: 0.5)."""
    matrix = torch.tensor(confusion)
    correct = total = 0
    for first in range(0, matrix.shape[0], 2):
        block = matrix[first : first + 2, first : first + 2]
        correct += int(block.diag().sum())
        total += int(block.sum())
    return correct / max(total, 1)


def run(root: Path, classes: int, per_class: int, epochs: int) -> dict[str, dict[str, float]]:
    paths = synthesize(root / "data", classes=classes, train_per_class=per_class, val_per_class=16, size=32, frames=16, seed=1)
    train = build_cache(load_source(paths["train"], classes=paths["classes"]), root / "train-cache", frames=16, size=32)
    val = build_cache(load_source(paths["val"], classes=paths["classes"]), root / "val-cache", frames=16, size=32)
    recipe = Recipe(epochs=epochs, batch_size=16, lr=3e-3, optimizer="adamw", weight_decay=1e-4, warmup_epochs=1, frames=8, size=32, frame_stride=2, scale=(0.8, 1.0), seed=0)
    table = {}
    for name, temporal in (("3d", 3), ("2d", 1)):
        genotype = network(temporal).with_num_classes(classes)
        trainer, _ = train_model(genotype, recipe=recipe, out_dir=None, data=train.root, val=val.root)
        table[name] = {"top1": trainer.last_eval["top1"], "within_pair": within_pair_accuracy(trainer.last_eval["confusion"])}
    print(table)
    return table


def test_a_3d_network_tells_time_reversed_pairs_apart_and_a_2d_one_cannot(tmp_path: Path) -> None:
    table = run(tmp_path, classes=4, per_class=48, epochs=15)
    # with the now byte-deterministic mp4 writer (x264 mbtree off) the 3D network reaches 0.694 within pairs and
    # the 2D one 0.531 (before, with run-to-run varying files: 0.7+); the bar sits between them with room
    assert table["3d"]["within_pair"] >= 0.65
    assert table["2d"]["within_pair"] <= 0.6
    assert table["3d"]["top1"] > table["2d"]["top1"]


@pytest.mark.slow
def test_longer_training_on_four_motion_pairs(tmp_path: Path) -> None:
    table = run(tmp_path, classes=8, per_class=48, epochs=20)
    # 128 validation clips: the standard error of a coin-flip within-pair accuracy is 0.044, so 0.65 is
    # more than three of them above chance (measured: 3D 0.694, 2D 0.436)
    assert table["3d"]["within_pair"] >= 0.65
    assert table["2d"]["within_pair"] <= 0.6
