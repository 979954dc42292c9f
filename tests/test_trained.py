"""The trained network as the unit a user carries: one record read from every form vidnas writes (weights file,
checkpoint, run, search and bundle folders), its model card, the deployment bundle, ``vidnas benchmark``, and the
whole journey from a search on your own videos to a deployed, fine-tuned network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vidnas.data import load_source, synthesize
from vidnas.errors import GenotypeError
from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node, load_genotype
from vidnas.train import Recipe, evaluate_weights, train_model, trained_clips
from vidnas.weights import WeightsError, WeightsInfo, load_trained, model_card, read_info, save_weights


def _vidnas(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidnas.cli", *map(str, args)], capture_output=True, text=True, timeout=timeout, env=dict(os.environ))


def _tiny(classes: int = 4) -> Genotype:
    layers = [Conv(out=8, kernel=(3, 3, 3), stride=(1, 2, 2), act="relu"), Conv(out=16, kernel=(3, 3, 3), stride=(1, 2, 2), act="relu")]
    return Genotype(name="tiny", input=InputSpec(frames=4, size=16), nodes=[Node(name="body", layers=layers)], head=Head(num_classes=classes))


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("videos")
    return synthesize(root / "data", classes=4, train_per_class=4, val_per_class=2, size=16, frames=8, seed=2)


@pytest.fixture(scope="module")
def run_folder(videos: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    recipe = Recipe(epochs=1, max_steps=3, batch_size=4, frames=4, size=16, frame_stride=2, seed=0)
    train_model(_tiny(), recipe=recipe, out_dir=out, data=videos["train"], val=videos["val"], classes=videos["classes"])
    return out


# ------------------------------------------------------------------------------------------------ the record


def run_folder_classes(run_folder: Path) -> list[str]:
    return json.loads((run_folder / "last.json").read_text())["class_names"]


def test_every_form_of_a_trained_network_reads_as_one_record(run_folder: Path, tmp_path: Path) -> None:
    folder = read_info(run_folder)
    assert folder.kind == "checkpoint" and folder.path == run_folder / "best.safetensors"  # a run folder: its best checkpoint
    assert folder.class_names == run_folder_classes(run_folder)
    assert folder.preprocessing["frames"] == 4 and folder.preprocessing["crop"] == [16, 16] and folder.preprocessing["frame_stride"] == 2
    assert folder.preprocessing["mean"] == pytest.approx([0.45] * 3) and folder.recipe["max_steps"] == 3
    for form in (run_folder / "last.json", run_folder / "last.safetensors", run_folder / "last.state.safetensors"):
        assert read_info(form).path == run_folder / "last.safetensors"
    assert read_info(run_folder / "last.json").architecture().name == "tiny"
    model = load_trained(run_folder)
    assert model.genotype.head.num_classes == 4 and model.weights_info.kind == "checkpoint"
    # written as a weights file with a genotype, it reads back whole and rebuilds the same network
    tensors = {k: v for k, v in model.state_dict().items()}
    path = save_weights(tensors, tmp_path / "w.safetensors", model="tiny", genotype=json.loads(model.genotype.to_json()), class_names=list("abcd"),
                        preprocessing=folder.preprocessing, metrics={"accuracy": 0.5}, costs={"macs": 1.0})
    again = read_info(tmp_path / "w.json")
    assert again.kind == "weights" and again.class_names == list("abcd") and again.metrics == {"accuracy": 0.5} and again.costs == {"macs": 1.0}
    rebuilt = load_trained(path)
    x = torch.randn(1, 3, 4, 16, 16)
    with torch.no_grad():
        assert torch.equal(rebuilt.eval()(x), model.eval()(x))
    assert load_genotype(tmp_path / "w.json").name == "tiny"  # the sidecar is a genotype file too
    assert load_genotype(run_folder / "best.json").name == "tiny"
    assert load_trained(path, num_classes=2).genotype.head.num_classes == 2  # fine-tuning: a fresh classifier


def test_what_is_not_a_trained_network_is_refused_saying_what_it_is(run_folder: Path, tmp_path: Path) -> None:
    genotype = tmp_path / "g.json"
    genotype.write_text(_tiny().to_json())
    with pytest.raises(WeightsError, match="a genotype \\(an architecture without trained weights\\); train it"):
        read_info(genotype)
    (tmp_path / "other.json").write_text(json.dumps({"hello": 1}))
    (tmp_path / "other.safetensors").write_bytes(b"")
    with pytest.raises(WeightsError, match="other.json: not a vidnas weights sidecar"):
        read_info(tmp_path / "other.json")
    (tmp_path / "new.json").write_text(json.dumps({"vidnas_weights": 99}))
    with pytest.raises(WeightsError, match="version 99; this vidnas reads versions 1, 2"):
        read_info(tmp_path / "new.json")
    lonely = tmp_path / "lonely"
    lonely.mkdir()
    (lonely / "best.json").write_text((run_folder / "best.json").read_text())
    with pytest.raises(WeightsError, match="a search folder without trained weights"):
        read_info(lonely)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(WeightsError, match="no trained network here"):
        read_info(empty)
    with pytest.raises(WeightsError, match="no such file or folder"):
        read_info(tmp_path / "missing.safetensors")
    half = tmp_path / "half"
    half.mkdir()
    (half / "x.json").write_text((run_folder / "best.json").read_text())
    with pytest.raises(WeightsError, match="x.safetensors: missing \\(its sidecar x.json is there"):
        read_info(half / "x.json")
    (tmp_path / "zoo.json").write_text(json.dumps({"vidnas_weights": 1, "model": "x3d_xs"}))
    with pytest.raises(GenotypeError, match="without a genotype: use the zoo name 'x3d_xs'"):
        load_genotype(tmp_path / "zoo.json")
    (tmp_path / "zoo.safetensors").write_bytes(b"")
    with pytest.raises(WeightsError, match="names the zoo model x3d_xs but carries no genotype .* --weights"):
        load_trained(tmp_path / "zoo.safetensors")  # converted by an older vidnas: the zoo name must come with it


def test_evaluation_matches_the_data_to_the_network_by_class_names(run_folder: Path, videos: dict[str, Path]) -> None:
    result = evaluate_weights(run_folder, data=videos["val"], classes=videos["classes"])
    assert result["num_clips"] == 8 and 0.0 <= result["top1"] <= 1.0 and len(result["predictions"]) == 8
    with pytest.raises(WeightsError, match=r"was trained on 4 classes .*; the built-in validation split has .*pass --data"):
        evaluate_weights(run_folder)  # the built-in data has other classes: a clear error, not an IndexError


def test_the_model_card_says_what_the_record_holds(tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    info = WeightsInfo(tmp_path / "best.safetensors", model="tiny", genotype=json.loads(_tiny().to_json()), class_names=["left", "right", "up", "down"],
                       preprocessing={"frames": 4, "frame_stride": 2, "crop": [16, 16], "mean": [0.45] * 3, "std": [0.225] * 3, "streaming": False},
                       source={"search": "search", "kind": "search", "what": "found by the search", "candidate": "trial 7"},
                       recipe={"optimizer": "adamw", "lr": 0.003, "batch_size": 16, "seed": 0, "weight_decay": 0.05, "hflip": False},
                       data={"train": "clips/train", "val": "clips/val", "val_clips": 64},
                       metrics={"accuracy": 0.8125, "se": 0.0125, "min": 0.8, "max": 0.825, "seeds": 2, "steps": 300, "selected_by": "final retraining",
                                "file": {"seed": 1, "accuracy": 0.825}, "verdict": "Searching was worth it: ..."},
                       costs={"macs": 12.5e6, "params": 34_000, "runtimes": {"eager": 3.25, "onnxruntime": 1.5}, "machine": {"cpu": "Xeon", "threads": 2}},
                       comparison=[{"name": "trial 7", "what": "found by the search", "accuracy": 0.8125, "se": 0.0125, "latency_ms": 3.2, "macs": 12.5e6,
                                    "params": 34_000, "fits": True, "winner": True},
                                   {"name": "simple_3d_cnn", "what": "hand-written 3D CNN", "accuracy": 0.7, "se": 0.01, "latency_ms": 9.0, "macs": 1e8,
                                    "params": 1e5, "fits": True, "winner": False}])
    card = model_card(info, onnx={"clip": "model.onnx"})
    header = yaml.safe_load(card.split("---")[1])
    assert header["library_name"] == "vidnas" and "video-classification" in header["tags"] and "neural-architecture-search" in header["tags"]
    assert header["model-index"][0]["results"][0]["metrics"][0]["value"] == 0.8125
    assert "**0.812** ± 0.013 (standard error over 2 training seeds; range 0.800–0.825)" in card
    assert "This file is the run of seed 1: 0.825" in card and "> Searching was worth it" in card
    assert "| **trial 7** | found by the search | 0.812 ± 0.013 | 3.20 | 12.5 M |" in card
    assert "| simple_3d_cnn | hand-written 3D CNN | 0.700 ± 0.010 |" in card
    assert "| onnxruntime | 1.50 |" in card and card.index("| onnxruntime | 1.50 |") < card.index("| eager | 3.25 |")  # fastest first
    assert "`left`, `right`, `up`, `down`" in card and "4 frames × 16×16 RGB, sampled 2 source frames apart" in card
    assert "python example.py video.mp4" in card and "vidnas stream" not in card  # not causal: no streaming command offered


# ------------------------------------------------------------------------------------------------ the journey


def test_from_a_search_on_your_videos_to_a_deployed_and_fine_tuned_network(tmp_path: Path) -> None:
    """search → eval on held-out videos → export --bundle → the bundle's example → stream → benchmark → fine-tune
    on another class count: every step with the search's answer as it is, through the CLI."""
    data = synthesize(tmp_path / "data", classes=4, train_per_class=6, val_per_class=3, size=32, frames=16, seed=5)
    held_out = synthesize(tmp_path / "held", classes=4, train_per_class=1, val_per_class=2, size=32, frames=16, seed=9)
    other = synthesize(tmp_path / "other", classes=2, train_per_class=4, val_per_class=2, size=32, frames=16, seed=11)
    out = tmp_path / "search"
    search = _vidnas("search", "--data", data["train"].parent / "train", "--val", data["val"].parent / "val", "--space", "movinet", "--out", out,
                     "--budget", "2", "--rungs", "3", "--final-top-k", "1", "--final-seeds", "1", "--final-steps", "3", "--latency-ms", "1000",
                     "--strategy", "random")
    assert search.returncode == 0, search.stderr[-3000:]
    assert "trained network:" in search.stdout and (out / "best.safetensors").is_file() and (out / "best.md").is_file()
    info = read_info(out)
    assert info.path == out / "best.safetensors" and info.source["search"] == "search" and info.metrics["selected_by"] == "final retraining"
    assert info.class_names == list(load_source(data["train"].parent / "train").classes)  # the class folders, named
    assert info.preprocessing["streaming"] is True  # MoViNet-Stream: causal
    assert info.comparison and any(r["winner"] for r in info.comparison) and set(info.costs["runtimes"]) >= {"eager", "onnxruntime"}
    assert load_genotype(out / "best.json").name == info.model  # best.json is still the winner's genotype

    evaluated = _vidnas("eval", out, "--data", held_out["val"].parent / "val", "--json")
    assert evaluated.returncode == 0, evaluated.stderr[-2000:]
    assert json.loads(evaluated.stdout.strip().splitlines()[-1])["num_clips"] == 8
    shown = _vidnas("eval", out, "--data", held_out["val"].parent / "val", "--runtime", "eager")
    assert shown.returncode == 0 and "top1" in shown.stdout and info.class_names[0] in shown.stdout  # the numbers, not only the runtime line
    own = _vidnas("eval", out, "--json", "--runtime", "eager")  # no --data: the search's own validation clips, as its record names them
    assert own.returncode == 0, own.stderr[-2000:]
    report = json.loads(own.stdout.strip().splitlines()[-1])
    assert report["num_clips"] == 12 and report["top1"] == pytest.approx(info.metrics["file"]["accuracy"], abs=1e-6)

    bundle = tmp_path / "deploy"
    exported = _vidnas("export", out, "--bundle", bundle)
    assert exported.returncode == 0, exported.stderr[-2000:]
    assert {"README.md", "model.safetensors", "model.json", "model.onnx", "model_stream.onnx", "labels.txt", "example.py"} <= {p.name for p in bundle.iterdir()}
    assert "checked against PyTorch: model.onnx within" in exported.stdout
    assert (bundle / "labels.txt").read_text().split() == info.class_names and len((bundle / "example.py").read_text().splitlines()) <= 40
    video = sorted((held_out["val"].parent / "val").rglob("*.mp4"))[0]
    example = subprocess.run([sys.executable, bundle / "example.py", video], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert example.returncode == 0, example.stderr[-2000:]
    lines = [line.split("\t") for line in example.stdout.strip().splitlines()]
    assert len(lines) == 4 and {name for name, _ in lines} == set(info.class_names) and sum(float(p) for _, p in lines) == pytest.approx(1.0, abs=1e-3)
    # the example's preprocessing is the network's: its probabilities are vidnas's own on the same video, up to the resize
    model = load_trained(bundle).eval()
    single = tmp_path / "one"
    (single / video.parent.name).mkdir(parents=True)
    os.symlink(video, single / video.parent.name / video.name)
    clips, _, _ = trained_clips(model.weights_info, model, single)
    with torch.no_grad():
        ours = torch.softmax(model(clips[0]["video"][None]), dim=1)[0]
    theirs = {name: float(p) for name, p in lines}
    assert max(abs(theirs[name] - float(ours[i])) for i, name in enumerate(info.class_names)) < 0.02
    assert model.weights_info.source["bundled_from"] == str(out / "best.safetensors")
    assert read_info(bundle).path == bundle / "model.safetensors" and "vidnas export best" not in (bundle / "README.md").read_text()

    streamed = _vidnas("stream", video, "--model", out, "--max-frames", "6", "--json", "--runtime", "eager")
    assert streamed.returncode == 0, streamed.stderr[-2000:]
    assert len(streamed.stdout.strip().splitlines()) == 6 and json.loads(streamed.stdout.splitlines()[0])["top_k"][0]["name"] in info.class_names

    bench = _vidnas("benchmark", out, "--data", held_out["val"].parent / "val", "--rounds", "2", "--json")
    assert bench.returncode == 0, bench.stderr[-2000:]
    table = json.loads(bench.stdout.strip().splitlines()[-1])
    rows = {r["runtime"]: r for r in table["rows"]}
    assert {"eager", "deploy", "onnxruntime", "torchscript", "onnxruntime-int8"} <= set(rows)
    assert rows["eager"]["agreement"] == 1.0 and rows["onnxruntime"]["agreement"] == 1.0 and rows["onnxruntime"]["top1"] == rows["eager"]["top1"]
    assert all(r["median_ms"] > 0 and r["step_ms"] is not None for r in rows.values() if r["unavailable"] is None and r["runtime"] in ("eager", "onnxruntime"))

    tuned = _vidnas("train", out, "--data", other["train"].parent / "train", "--val", other["val"].parent / "val", "--out", tmp_path / "tuned",
                    "--max-steps", "2", "--batch-size", "4")
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    assert "a new classifier" in tuned.stdout + tuned.stderr
    assert read_info(tmp_path / "tuned").architecture().head.num_classes == 2


def test_an_int8_bundle_of_a_training_run_checks_its_graphs_and_says_how_int8_agrees(run_folder: Path, videos: dict[str, Path], tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime")
    from vidnas.export import ExportError
    from vidnas.runtime import export_bundle

    model = load_trained(run_folder).eval()
    calibration = sorted(Path(videos["train"]).parent.rglob("*.mp4"))[:3]
    result = export_bundle(model, model.weights_info, tmp_path / "bundle", int8=True, calibrate=calibration)
    assert {"README.md", "model.safetensors", "model.json", "model.onnx", "model_int8.onnx", "labels.txt", "example.py"} == set(result.files)
    assert "model_stream.onnx" not in result.files  # 3x3x3 convs read future frames: no streaming step for this network
    assert result.errors["model.onnx"] < 1e-4 and 0.0 <= result.int8["agreement"] <= 1.0
    card = (tmp_path / "bundle" / "README.md").read_text()
    assert "onnxruntime int8 (`model_int8.onnx`)" in card and "calibration videos" in card and "`model.onnx` takes `rgb`" in card
    bundled = read_info(tmp_path / "bundle")
    assert bundled.costs["macs"] > 0 and bundled.costs["int8"]["calibration_videos"] == [v.name for v in calibration]
    assert bundled.source["bundled_from"] == str(run_folder / "best.safetensors") and bundled.class_names == run_folder_classes(run_folder)
    with pytest.raises(ExportError, match="not empty"):
        export_bundle(model, model.weights_info, tmp_path / "bundle")
    with pytest.raises(ExportError, match="needs calibration videos"):
        export_bundle(model, model.weights_info, tmp_path / "other", int8=True)
