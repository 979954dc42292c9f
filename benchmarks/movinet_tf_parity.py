"""MoViNet TF-checkpoint parity: the reference TF model with random weights, saved as TensorFlow saves it,
converted by `vidnas weights convert`, compared on the same clip.

Runs in two environments, because vidnas must not need TensorFlow:

1. ``--make DIR`` (in an environment with tensorflow-cpu 2.21, tf-keras and tf-models-official installed with
   --no-deps; ``TF_USE_LEGACY_KERAS=1``): for each model, build ``movinet_model.MovinetClassifier`` as the
   tensorflow/models README builds it for the published checkpoints, give every variable random values
   (BatchNorm statistics and ReZero scales included), ``tf.train.Checkpoint(model=...).save``, and write the
   clip, the TF logits, and the checkpoint's key/shape table (``tests/data/movinet_tf_keys/NAME.json`` is this
   table, committed, so the default test lane checks the converter against trees TensorFlow really writes).
2. ``--check DIR`` (vidnas's environment): convert each checkpoint, run vidnas on the clip, print max
   |Δlogit| / max |logit| per model.

    TF_USE_LEGACY_KERAS=1 /path/to/tf-venv/bin/python benchmarks/movinet_tf_parity.py --make /tmp/mtf
    python benchmarks/movinet_tf_parity.py --check /tmp/mtf
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

MODELS = ["a0", "a1", "a2", "a3", "a4", "a5"]
CLIP = (1, 8, 80, 80, 3)  # NTHWC; 80 -> 40 -> 20 -> 10 -> 5 -> 3 exercises SAME padding on odd sizes


def make(folder: Path, names: list[str]) -> None:
    import tensorflow as tf
    from official.projects.movinet.modeling import movinet, movinet_model

    rng = np.random.default_rng(0)
    clip = rng.random(CLIP, dtype=np.float32)
    np.save(folder / "clip.npy", clip)
    for name in names:
        variant, stream = name.split("_")[1], name.endswith("_stream")
        kwargs = {"model_id": variant}
        if stream:  # the README's streaming models: causal (2+1)D, 2plus3d SE, hard swish / hard sigmoid
            kwargs.update(causal=True, conv_type="2plus1d", se_type="2plus3d", activation="hard_swish", gating_activation="hard_sigmoid",
                          use_positional_encoding=variant in ("a3", "a4", "a5"), use_external_states=False)
        backbone = movinet.Movinet(**kwargs)
        # the classifier's activation: swish, except hard swish in the A1- and A4-stream configs (configs/yaml)
        head_act = "hard_swish" if stream and variant in ("a1", "a4") else "swish"
        model = movinet_model.MovinetClassifier(backbone, num_classes=600, activation=head_act, output_states=False)
        model.build([1, *CLIP[1:]])
        for variable in model.variables:
            shape, path = variable.shape.as_list(), variable.name
            if "moving_variance" in path or "gamma" in path or "rezero" in path or "scale" in path.split("/")[-1]:
                value = rng.uniform(0.5, 1.5, shape)
            elif "depthwise_kernel" in path:
                value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[:2]))
            elif "kernel" in path:
                value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[:-1]))
            else:  # beta, moving_mean, biases, positional-encoding scales
                value = rng.standard_normal(shape) * 0.1
            variable.assign(value.astype(np.float32))
        logits = model(clip, training=False).numpy()
        out = folder / name
        out.mkdir(parents=True, exist_ok=True)
        prefix = tf.train.Checkpoint(model=model).save(str(out / "ckpt"))
        np.save(folder / f"{name}.logits.npy", logits)
        reader = tf.train.load_checkpoint(prefix)
        table = {key: reader.get_variable_to_shape_map()[key] for key in sorted(reader.get_variable_to_shape_map())}
        (folder / f"{name}.keys.json").write_text(json.dumps(table, indent=0) + "\n", encoding="utf-8")
        print(f"{name}: {len(table)} checkpoint entries, logits max {np.abs(logits).max():.3f}", flush=True)


def check(folder: Path, names: list[str]) -> None:
    import torch

    import vidnas
    from vidnas.zoo import convert

    clip = torch.from_numpy(np.load(folder / "clip.npy")).permute(0, 4, 1, 2, 3).contiguous()
    print("| model | converted tensors | max abs logit (TF) | max abs diff | relative |")
    print("|---|---|---|---|---|")
    for name in names:
        result = convert(folder / name, name, folder / f"{name}.safetensors")
        model = vidnas.create_model(name, weights=result.out).eval()
        with torch.no_grad():
            ours = model(clip).numpy()
        theirs = np.load(folder / f"{name}.logits.npy")
        diff = float(np.abs(ours - theirs).max())
        print(f"| {name} | {result.tensors} | {np.abs(theirs).max():.3f} | {diff:.2e} | {diff / np.abs(theirs).max():.2e} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--make", type=Path)
    group.add_argument("--check", type=Path)
    parser.add_argument("--models", default=",".join(f"movinet_{v}_{k}" for v in MODELS for k in ("base", "stream")))
    args = parser.parse_args()
    names = [n.replace("_base", "") if n.endswith("_base") else n for n in args.models.split(",")]
    names = [n if n.startswith("movinet_") else f"movinet_{n}" for n in names]
    if args.make:
        args.make.mkdir(parents=True, exist_ok=True)
        make(args.make, names)
    else:
        check(args.check, names)


if __name__ == "__main__":
    main()
