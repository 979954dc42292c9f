"""Run by test_train.py under torchrun: a tiny DDP training run on CPU (gloo); every rank reports a weight checksum."""

from __future__ import annotations

import json
import os
import sys

import torch

from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node
from vidnas.train import Recipe, train_model

data, out = sys.argv[1], sys.argv[2]
genotype = Genotype(
    name="tiny",
    input=InputSpec(frames=4, size=16),
    nodes=[Node(name="n", layers=[Conv(out=8, kernel=(3, 3, 3), stride=(1, 2, 2), act="relu")])],
    head=Head(num_classes=4),
)
recipe = Recipe(epochs=1, batch_size=2, lr=0.01, optimizer="adamw", frames=4, size=16, seed=1)
trainer, _ = train_model(genotype, recipe=recipe, out_dir=out, data=f"{data}/train.csv", val=f"{data}/val.csv", classes=f"{data}/classes.txt")
checksum = float(sum(p.double().sum() for p in trainer.model.parameters()))
with open(os.path.join(out, f"rank{trainer.rank}.json"), "w", encoding="utf-8") as handle:
    json.dump({"rank": trainer.rank, "world": trainer.world, "steps": trainer.step, "checksum": checksum}, handle)
torch.distributed.destroy_process_group()
