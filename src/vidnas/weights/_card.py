"""The model card of a trained network: a Markdown page in the Hugging Face model-card layout (a YAML header with
the library, tags and metrics, then what the network is, its data and labels, recipe, accuracy against the
baselines it was retrained with, speed per runtime on the machine that measured it, and how to use it), written
from the network's sidecar alone, so it says what the file holds and nothing else."""

from __future__ import annotations

import json
from typing import Any

from vidnas.weights._files import WeightsInfo

def _q(value: Any) -> str:  # noqa: ANN401
    """A YAML scalar: JSON's double-quoted strings and numbers are valid YAML."""
    return json.dumps(value)


def _num(value: Any, digits: int = 3) -> str:  # noqa: ANN401
    return "—" if value is None else f"{value:.{digits}f}"


def _count(value: Any) -> str:  # noqa: ANN401
    if value is None:
        return "—"
    value = float(value)
    return f"{value / 1e9:.2f} G" if value >= 1e9 else f"{value / 1e6:.1f} M" if value >= 1e6 else f"{value / 1e3:.1f} k"


def _header(info: WeightsInfo, name: str, family: str) -> list[str]:
    metrics = info.metrics or {}
    tags = ["video-classification", "vidnas", family] + (["neural-architecture-search"] if (info.source or {}).get("search") else [])
    lines = ["---", "library_name: vidnas", "pipeline_tag: video-classification", "tags:"] + [f"- {_q(t)}" for t in tags]
    if info.label_set:
        lines.append(f"datasets:\n- {_q(info.label_set)}")
    accuracy = metrics.get("accuracy")
    if accuracy is not None:
        data = (info.data or {}).get("val") or (info.data or {}).get("train") or "validation split"
        lines += ["metrics:", "- accuracy", "model-index:", f"- name: {_q(name)}", "  results:", "  - task:", "      type: video-classification",
                  "    dataset:", f"      name: {_q(str(data))}", f"      type: {_q(str(data))}", "    metrics:", "    - type: accuracy",
                  f"      value: {round(float(accuracy), 4)}", f"      name: {_q(metrics.get('accuracy_name', 'validation top-1'))}"]
    return lines + ["---", ""]


def _architecture(info: WeightsInfo) -> tuple[str, str, bool, str]:
    """(name, family, causal, one line of what it is) from the genotype or zoo entry."""
    try:
        genotype = info.architecture()
    except Exception:  # noqa: BLE001 - a card of a file whose architecture cannot be built still says the rest
        return info.model or info.path.stem, "video", False, ""
    member = genotype.members[0] if hasattr(genotype, "members") else genotype
    causal = bool(info.preprocessing.get("streaming"))  # recorded by whoever built the network and tried a streaming step
    streams = ", ".join(f"{s.name} ({s.modality})" for s in member.input.streams)
    nodes = len(member.nodes)
    what = (f"{len(genotype.members)}-member ensemble" if hasattr(genotype, "members") else f"{nodes} node{'s' if nodes != 1 else ''}") + f", reading {streams}"
    return genotype.name, genotype.family, causal, what


def model_card(info: WeightsInfo, *, weights_file: str | None = None, onnx: dict[str, str] | None = None) -> str:
    """The Markdown model card of ``info`` (``vidnas.weights.read_info``). ``weights_file``: how the card names the
    weights (default: the file's name); ``onnx``: exported graphs it sits beside ({"clip": "model.onnx", ...})."""
    name, family, causal, what = _architecture(info)
    weights_file = weights_file or info.path.name
    pre, metrics, costs, data = info.preprocessing or {}, info.metrics or {}, info.costs or {}, info.data or {}
    source = info.source or {}
    names = info.names() or []
    lines = _header(info, name, family)
    lines.append(f"# {name}")
    lines.append("")
    if source.get("search"):
        kind = source.get("what") or source.get("kind") or "found by the search"
        origin = (f"the answer of the vidnas search `{source['search']}`: {kind}"
                  + (f" ({source['candidate']})" if source.get("candidate") and source.get("kind") == "search" else "")
                  + (", the winner of its final retraining" if metrics.get("selected_by") == "final retraining" else
                     ", its best screened candidate (no final retraining had finished)" if metrics.get("selected_by") else ""))
    elif source.get("format"):
        origin = f"converted from the published {source.get('description') or source['format']} checkpoint `{source.get('file')}`"
    elif source.get("checkpoint"):
        origin = f"trained with vidnas (checkpoint `{source['checkpoint']}`)"
    else:
        origin = "a vidnas network"
    lines.append(f"A video classifier of the {family} family, {origin}. {len(names) or info.num_classes or '?'} classes; {what}."
                 + (" Causal: it also runs frame by frame with constant memory (a streaming step)." if causal else ""))
    lines.append("")

    lines += ["## Model", "", "| | |", "|---|---|", f"| family | {family} |"]
    if pre.get("frames"):
        crop = pre.get("crop") or ["?", "?"]
        lines.append(f"| input | {pre['frames']} frames × {crop[0]}×{crop[1]} RGB, sampled {pre.get('frame_stride') or 1} source frames apart"
                     + (f" at {pre['fps']} fps" if pre.get("fps") else "") + " |")
    lines.append(f"| parameters | {_count(costs.get('params'))} |")
    lines.append(f"| MACs per clip | {_count(costs.get('macs'))} (one multiply-add = one MAC; batch 1) |")
    lines.append(f"| causal (streams frame by frame) | {'yes' if causal else 'no'} |")
    lines.append(f"| weights | `{weights_file}` (safetensors) + `{weights_file.rsplit('.', 1)[0]}.json` (this card's data) |")
    lines.append("")

    lines += ["## Data and labels", ""]
    if data:
        lines.append(f"Trained on `{data.get('train', '?')}`, validated on `{data.get('val', '?')}`"
                     + (f" ({data['val_clips']} validation clips)" if data.get("val_clips") else "") + ".")
    elif info.label_set:
        lines.append(f"Trained on {info.label_set} (the label set's published weights).")
    if names:
        shown = ", ".join(f"`{n}`" for n in names[:40]) + (f", … ({len(names)} in all)" if len(names) > 40 else "")
        lines.append(f"Labels in output order: {shown}.")
    lines.append("")

    recipe = info.recipe or {}
    if recipe:
        steps = metrics.get("steps") or recipe.get("max_steps")
        lines += ["## Training recipe", "", f"{recipe.get('optimizer', 'sgd')} (lr {recipe.get('lr')}, weight decay {recipe.get('weight_decay')}), "
                  f"batch {recipe.get('batch_size')}, {steps or '?'} steps, warm-up then cosine, label smoothing {recipe.get('label_smoothing', 0)}, "
                  f"horizontal flips {'on' if recipe.get('hflip') else 'off'}, seed {recipe.get('seed')}. "
                  "The full recipe is the sidecar's `recipe` (`vidnas train --recipe` reads it).", ""]

    if metrics.get("accuracy") is not None:
        lines += ["## Accuracy", ""]
        seeds = metrics.get("seeds") or 1
        spread = f" ± {metrics['se']:.3f} (standard error over {seeds} training seeds; range {_num(metrics.get('min'))}–{_num(metrics.get('max'))})" if metrics.get("se") is not None else ""
        lines.append(f"Validation top-1: **{metrics['accuracy']:.3f}**{spread}"
                     + (f", after {metrics['steps']} steps" if metrics.get("steps") else "") + ".")
        mine = metrics.get("file")
        if mine:
            lines.append(f"This file is the run of seed {mine.get('seed')}: {_num(mine.get('accuracy'))} on the same split"
                         + (" (the best of the seeds: expect the mean above when you retrain)" if seeds > 1 else "") + ".")
        if metrics.get("verdict"):
            lines += ["", f"> {metrics['verdict']}"]
        rows = info.comparison or []
        if rows:
            lines += ["", "Retrained with the same recipe, data and steps:", "",
                      "| model | what | top-1 (mean ± s.e.) | latency ms | MACs | params | fits the limit |", "|---|---|---|---|---|---|---|"]
            for row in rows:
                bold = "**" if row.get("winner") else ""
                se = f" ± {row['se']:.3f}" if row.get("se") is not None else ""
                lines.append(f"| {bold}{row.get('name')}{bold} | {row.get('what') or row.get('kind')} | {_num(row.get('accuracy'))}{se} | "
                             f"{_num(row.get('latency_ms'), 2)} | {_count(row.get('macs'))} | {_count(row.get('params'))} | {'yes' if row.get('fits', True) else 'no'} |")
        lines.append("")

    runtimes = costs.get("runtimes") or {}
    if runtimes or costs.get("latency_ms") is not None or costs.get("int8"):
        machine = costs.get("machine") or {}
        where = ", ".join(str(v) for v in (machine.get("cpu"), f"{machine.get('threads')} threads" if machine.get("threads") else None,
                                            machine.get("gpu"), f"torch {machine.get('torch')}" if machine.get("torch") else None) if v)
        lines += ["## Speed", "", f"Median latency of one clip (batch 1), measured on {where or 'the machine that ran the search'}; "
                  "runtimes timed in turns so drift hits all alike:", "", "| runtime | ms per clip |", "|---|---|"]
        for runtime, ms in sorted(runtimes.items(), key=lambda kv: kv[1]):
            lines.append(f"| {runtime} | {ms:.2f} |")
        if not runtimes and costs.get("latency_ms") is not None:
            lines.append(f"| eager | {costs['latency_ms']:.2f} |")
        for runtime, ms in sorted((costs.get("stream_runtimes") or {}).items(), key=lambda kv: kv[1]):
            lines.append(f"| {runtime}, one streaming step | {ms:.2f} |")
        quantised = costs.get("int8")
        if quantised:
            lines.append(f"| onnxruntime int8 (`model_int8.onnx`) | {quantised['int8_ms']:.2f} (fp32 graph in the same turns: {quantised['fp32_ms']:.2f}) |")
            lines.append(f"\nThe int8 graph agrees with fp32 on the top-1 class of {quantised['agreement']:.1%} of {quantised['checked']} clips of its "
                         f"calibration videos ({', '.join(quantised.get('calibration_videos') or [])}; {quantised.get('method')} ranges).")
        if costs.get("peak_memory_mb") is not None:
            weights_mb = f" (besides the weights, {4 * costs['params'] / 2**20:.1f} MB in fp32)" if costs.get("params") else ""
            lines.append(f"\nMemory of one clip's forward pass in eager PyTorch: {costs['peak_memory_mb']:.1f} MB at its peak{weights_mb}, "
                         "measured as the process's resident-set growth.")
        lines.append("")

    lines += _usage(weights_file, causal, pre, onnx)
    lines += ["## Provenance", ""]
    for key, value in sorted(source.items()):
        lines.append(f"- {key}: `{value}`")
    lines.append("")
    return "\n".join(lines)


def _usage(weights_file: str, causal: bool, pre: dict[str, Any], onnx: dict[str, str] | None) -> list[str]:
    lines = ["## Use it", "", "With vidnas installed, every command takes this file (or the folder it is in):", "", "```bash",
             f"vidnas eval {weights_file} --data my_videos/          # accuracy on your labelled clips (class folders)"]
    if causal:
        lines.append(f"vidnas stream video.mp4 --model {weights_file}      # frame by frame, rolling top-5")
    lines += [f"vidnas export {weights_file} --bundle deploy/         # ONNX (+ --int8 --calibrate V.mp4), labels, a standalone example",
              f"vidnas benchmark {weights_file} --data my_videos/     # accuracy and latency on every runtime",
              f"vidnas train {weights_file} --data other/ --out run/  # fine-tune, a new classifier for another class count",
              "```", "", "```python", "import vidnas", "", f"model = vidnas.create_model({weights_file!r}).eval()",
              "names = model.weights_info.names()", "```", ""]
    if onnx:
        graph = onnx.get("clip", "model.onnx")
        mean, std = pre.get("mean", [0.45] * 3), pre.get("std", [0.225] * 3)
        lines += [f"Without vidnas: `{graph}` takes `rgb`, a float32 clip of shape (batch, 3, {pre.get('frames', 'T')}, "
                  f"{(pre.get('crop') or ['H', 'W'])[0]}, {(pre.get('crop') or ['H', 'W'])[1]}) — frames {pre.get('frame_stride') or 1} apart, the short "
                  f"side resized to the crop then centre-cropped, RGB scaled to [0, 1], minus mean {mean}, divided by std {std} — "
                  "and returns the class logits; `example.py` beside it does exactly that with onnxruntime and PyAV only:", "", "```bash",
                  "pip install onnxruntime av numpy", "python example.py video.mp4", "```", ""]
        if onnx.get("stream"):
            lines += [f"`{onnx['stream']}` is one streaming step: the new frame (batch, 3, 1, H, W) and the state tensors in, the logits so far and "
                      "the next state out (names `state.*`; zeros to start).", ""]
        if onnx.get("int8"):
            lines += [f"`{onnx['int8']}` is the int8 graph (static quantisation calibrated on the videos named in the sidecar); "
                      "same inputs and outputs.", ""]
    return lines
