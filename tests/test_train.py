"""Training engine: metrics, safetensors checkpoints, exact resume, reproducibility, candidate evaluation, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vidnas.cli import app
from vidnas.data import synthesize
from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node
from vidnas import build_model
from vidnas.train import (
    CheckpointHook,
    EvaluationHook,
    Hook,
    JsonlHook,
    Recipe,
    Trainer,
    clip_dataset,
    resolve_data,
    average_precision,
    classification_report,
    evaluate_candidate,
    evaluate_weights,
    load_checkpoint,
    mean_average_precision,
    topk_correct,
    train_model,
)

pytest.importorskip("safetensors")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return synthesize(tmp_path_factory.mktemp("train-data"), classes=4, train_per_class=4, val_per_class=2, size=16, frames=6, seed=2)


def tiny(temporal: int = 3) -> Genotype:
    return Genotype(
        name="tiny",
        input=InputSpec(frames=4, size=16),
        nodes=[Node(name="n", layers=[Conv(out=8, kernel=(temporal, 3, 3), stride=(1, 2, 2), act="relu"), Conv(out=8, kernel=(temporal, 3, 3), act="relu")])],
        head=Head(num_classes=4, dropout=0.2),
    )


TIMINGS = {"train_seconds", "train_gmacs_per_s"}  # what two identical runs measure differently
RECIPE = Recipe(epochs=2, batch_size=4, lr=0.01, optimizer="adamw", frames=4, size=16, warmup_epochs=0.5, seed=3)


def _train(data: dict[str, Path], out: Path | None, recipe: Recipe = RECIPE, resume: Path | None = None):  # noqa: ANN202
    return train_model(tiny(), recipe=recipe, out_dir=out, data=data["train"], val=data["val"], classes=data["classes"], resume=resume)


def test_metrics_have_their_textbook_values() -> None:
    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 1.0], [1.0, 0.0, 2.0], [2.0, 1.0, 0.0]])
    labels = torch.tensor([0, 2, 1, 1])
    assert topk_correct(logits, labels, 1) == 1 and topk_correct(logits, labels, 2) == 3
    report = classification_report(logits, labels, ["a", "b", "c"])
    assert report["top1"] == 0.25 and report["confusion"] == [[1, 0, 0], [1, 0, 1], [0, 1, 0]]
    assert report["per_class"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    # AP: positives ranked 1st and 3rd -> (1/1 + 2/3) / 2
    assert average_precision(np.array([0.9, 0.8, 0.7, 0.1]), np.array([1, 0, 1, 0])) == pytest.approx(5 / 6)
    scores = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert mean_average_precision(scores, np.array([[1, 0], [0, 1]])) == 1.0


def test_training_writes_checkpoints_metrics_and_a_confusion_plot(data: dict[str, Path], tmp_path: Path) -> None:
    trainer, metrics = _train(data, tmp_path / "run")
    files = sorted(p.name for p in (tmp_path / "run").iterdir())
    assert {"last.json", "last.safetensors", "last.state.safetensors", "best.json", "best.safetensors", "metrics.jsonl", "confusion_best.png"} <= set(files)
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == [1, 2] and all("val_top1" in line for line in lines)
    sidecar = json.loads((tmp_path / "run" / "last.json").read_text())
    assert sidecar["class_names"] == ["move_right", "move_left", "move_down", "move_up"] and sidecar["genotype"]["name"] == "tiny"
    assert sidecar["recipe"]["seed"] == 3 and sidecar["vidnas_version"] and sidecar["step"] == trainer.step
    model, _ = load_checkpoint(tmp_path / "run")
    for (name, a), b in zip(trainer.model.state_dict().items(), model.state_dict().values()):
        assert torch.equal(a.cpu(), b), name
    assert metrics["step"] == 8  # 16 clips / batch 4 = 4 steps per epoch, 2 epochs


def test_two_runs_with_one_seed_are_identical(data: dict[str, Path]) -> None:
    _, a = _train(data, None)
    _, b = _train(data, None)
    assert a == b | {key: a[key] for key in TIMINGS}


def test_training_reports_its_throughput(data: dict[str, Path]) -> None:
    """GMAC/s = 3 × forward MACs per clip × clips ÷ step seconds, over the steps after the first."""
    from vidnas.measure import profile

    trainer, metrics = _train(data, None)
    macs = profile(tiny().with_num_classes(4)).macs.macs
    assert trainer.clip_macs == macs
    assert trainer.timed_clips == 16 * 2 - 4  # two epochs of 16 clips, less the first step's batch of 4
    expected = 3 * macs * trainer.timed_clips / trainer.timed_seconds / 1e9
    assert metrics["train_gmacs_per_s"] == round(expected, 2) > 0


class _KillAfterFirstEpoch(Hook):
    def after_epoch(self, trainer) -> None:  # noqa: ANN001
        raise KeyboardInterrupt  # as if the process were killed right after the epoch's checkpoint


def test_resume_reproduces_the_uninterrupted_run(data: dict[str, Path], tmp_path: Path) -> None:
    recipe = RECIPE.model_copy(update={"epochs": 3})
    full, full_metrics = _train(data, tmp_path / "full", recipe)
    train_source, val_source = resolve_data(data["train"], data["val"], classes=data["classes"])
    genotype = tiny().with_num_classes(4)
    killed = Trainer(
        build_model(genotype, seed=recipe.seed), recipe, clip_dataset(train_source, recipe, genotype, train=True),
        clip_dataset(val_source, recipe, genotype, train=False), out_dir=tmp_path / "cut",
        hooks=[EvaluationHook(), CheckpointHook(), JsonlHook(), _KillAfterFirstEpoch()],
    )
    with pytest.raises(KeyboardInterrupt):
        killed.fit()
    assert json.loads((tmp_path / "cut" / "last.json").read_text())["epoch"] == 1
    resumed, resumed_metrics = _train(data, tmp_path / "cut", recipe, resume=tmp_path / "cut" / "last.json")
    assert {k: v for k, v in resumed_metrics.items() if k not in TIMINGS} == {k: v for k, v in full_metrics.items() if k not in TIMINGS}
    for (name, a), b in zip(full.model.state_dict().items(), resumed.model.state_dict().values()):
        assert torch.equal(a, b), name
    assert resumed.loss_curve == full.loss_curve


def test_evaluate_checkpoint_with_multiple_views(data: dict[str, Path], tmp_path: Path) -> None:
    _train(data, tmp_path / "run")
    single = evaluate_weights(tmp_path / "run" / "last.json", data=data["val"], classes=data["classes"])
    multi = evaluate_weights(tmp_path / "run" / "last.json", data=data["val"], classes=data["classes"], views=(2, 3))
    assert single["num_clips"] == multi["num_clips"] == 8
    assert 0 <= multi["top1"] <= 1 and multi["top5"] == 1.0  # 4 classes: the top 5 hold every class


def test_candidate_evaluation_reports_results_and_failures(data: dict[str, Path]) -> None:
    kwargs = dict(data=data["train"], val=data["val"])
    recipe = RECIPE.model_copy(update={"epochs": 1})
    ok = evaluate_candidate(tiny(), recipe, latency=False, **kwargs)
    assert ok["status"] == "ok" and 0 <= ok["top1"] <= 1 and ok["steps"] == 4 and len(ok["loss_curve"]) == 4
    assert ok["params"] > 0 and ok["macs"] > 0
    invalid = tiny().to_dict()
    invalid["nodes"][0]["layers"][0]["kernel"] = [3, 99, 99]
    invalid["nodes"][0]["layers"][0]["padding"] = "valid"
    failed = evaluate_candidate(invalid, recipe, **kwargs)
    assert failed["status"] == "failed" and failed["reason"].startswith("invalid genotype: nodes[0].layers[0].kernel")
    diverged = evaluate_candidate(tiny(), recipe.model_copy(update={"lr": 1e12, "optimizer": "sgd"}), **kwargs)
    assert diverged["status"] == "failed" and "diverged" in diverged["reason"]


def test_train_and_eval_cli(data: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    genotype = tmp_path / "tiny.json"
    genotype.write_text(tiny().to_json())
    common = ["--data", str(data["train"]), "--val", str(data["val"]), "--classes", str(data["classes"]), "--frames", "4", "--size", "16", "--batch-size", "4", "--lr", "0.01", "--optimizer", "adamw"]
    result = runner.invoke(app, ["train", str(genotype), "--out", str(tmp_path / "run"), "--epochs", "1", *common])
    assert result.exit_code == 0, result.output
    resumed = runner.invoke(app, ["train", str(genotype), "--out", str(tmp_path / "run"), "--epochs", "2", "--resume", *common])
    assert resumed.exit_code == 0, resumed.output
    assert json.loads((tmp_path / "run" / "last.json").read_text())["epoch"] == 2
    evaluation = runner.invoke(app, ["eval", str(tmp_path / "run"), "--data", str(data["val"]), "--classes", str(data["classes"]), "--views", "2x1", "--json"])
    assert evaluation.exit_code == 0, evaluation.output
    report = json.loads(evaluation.stdout)
    assert {"top1", "top5", "num_clips"} <= set(report) and report["num_clips"] == 8
    bad = runner.invoke(app, ["eval", str(tmp_path / "nothing")])
    assert bad.exit_code == 2 and "nothing: no such file or folder" in bad.stderr


def test_distributed_data_parallel_on_cpu_with_two_processes(data: dict[str, Path], tmp_path: Path) -> None:
    import subprocess
    import sys

    script = Path(__file__).parent / "_ddp_script.py"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script), str(data["train"].parent), str(tmp_path)],
        capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    reports = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert [r["world"] for r in reports] == [2, 2]
    assert reports[0]["steps"] == reports[1]["steps"] == 4  # 16 clips over 2 ranks, batch 2
    assert reports[0]["checksum"] == reports[1]["checksum"]  # gradients were averaged: the replicas agree
    assert (tmp_path / "last.json").is_file() and len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 1


def test_candidate_evaluation_in_a_worker_process_matches_in_process(data: dict[str, Path]) -> None:
    from vidnas.train import evaluate_candidate_in_process

    recipe = RECIPE.model_copy(update={"epochs": 1})
    here = evaluate_candidate(tiny(), recipe, data=data["train"], val=data["val"], latency=False)
    there = evaluate_candidate_in_process(tiny(), recipe, data=data["train"], val=data["val"], latency=False, timeout=300)
    assert there["status"] == "ok"
    assert {k: there[k] for k in ("top1", "val_loss", "steps", "params", "macs")} == {k: here[k] for k in ("top1", "val_loss", "steps", "params", "macs")}
    assert [list(p) for p in here["loss_curve"]] == there["loss_curve"]


def test_ema_weights_are_evaluated_and_checkpointed(data: dict[str, Path], tmp_path: Path) -> None:
    from safetensors.torch import load_file

    trainer, _ = _train(data, tmp_path / "run", RECIPE.model_copy(update={"ema_decay": 0.9, "epochs": 1}))
    assert trainer.ema is not None
    state = load_file(str(tmp_path / "run" / "last.state.safetensors"))
    ema_keys = [k for k in state if k.startswith("ema.")]
    assert ema_keys and "ema.n_averaged" in state and int(state["ema.n_averaged"]) == trainer.step
    averaged = dict(trainer.ema.module.named_parameters())
    assert any(not torch.equal(averaged[n], p) for n, p in trainer.model.named_parameters())  # an average, not a copy


def test_training_on_raw_videos_decodes_them_once_into_a_reused_cache(data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from vidnas.data import CachedClips, VideoClips
    from vidnas.train import _api

    monkeypatch.setenv("VIDNAS_HOME", str(tmp_path / "home"))
    recipe = RECIPE.model_copy(update={"epochs": 1})
    logs: list[str] = []
    trainer, first = train_model(tiny(), recipe=recipe, out_dir=None, data=data["train"], val=data["val"], classes=data["classes"], log=logs.append)
    assert isinstance(trainer.train_data, CachedClips) and isinstance(trainer.val_data, CachedClips)
    assert sum("decoding 16 train videos once" in line for line in logs) == 1 and sum("decoding 8 val videos" in line for line in logs) == 1
    caches = sorted(p.name.split("-")[0] for p in (tmp_path / "home" / "clip-cache").iterdir())
    assert caches == ["train", "val"]
    # the cache keeps every frame of the 6-frame clips (the span is 4), so training still crops in time
    assert trainer.train_data.cache.frames == 6

    logs.clear()
    trainer, second = train_model(tiny(), recipe=recipe, out_dir=None, data=data["train"], val=data["val"], classes=data["classes"], log=logs.append)
    assert all("reusing" in line for line in logs) and len(logs) == 2
    assert second["train_loss"] == first["train_loss"]  # same seed, same clips

    # a changed video is decoded again
    video = Path(trainer.train_data.cache.entries[0]["path"])
    stat = video.stat()
    os.utime(video, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    logs.clear()
    train_model(tiny(), recipe=recipe, out_dir=None, data=data["train"], val=data["val"], classes=data["classes"], log=logs.append)
    assert any("decoding 16 train videos" in line for line in logs) and any("reusing" in line and "val" in line for line in logs)

    # videos much longer than the clip are decoded on the fly (a fixed-length cache would change their frame rate)
    monkeypatch.setattr(_api, "CACHE_MAX_LENGTH", 1)
    logs.clear()
    trainer, _ = train_model(tiny(), recipe=recipe, out_dir=None, data=data["train"], val=data["val"], classes=data["classes"], log=logs.append)
    assert isinstance(trainer.train_data, VideoClips) and any("decoding on the fly" in line for line in logs)
    trainer, _ = train_model(tiny(), recipe=recipe, out_dir=None, data=data["train"], val=data["val"], classes=data["classes"], cache=False)
    assert isinstance(trainer.train_data, VideoClips)


def test_training_reads_the_genotypes_frame_stride_unless_the_recipe_sets_one(data: dict[str, Path]) -> None:
    from vidnas.train import clip_geometry

    strided = tiny().model_copy(update={"input": InputSpec(frames=3, size=16, frame_stride=2)})
    assert clip_geometry(Recipe(), strided) == (3, 16, 2)
    assert clip_geometry(Recipe(frame_stride=1, frames=2, size=8), strided) == (2, 8, 1)
    source, _ = resolve_data(data["train"], classes=data["classes"])
    assert clip_dataset(source, Recipe(), strided, train=True).frame_stride == 2


def test_train_cli_keeps_a_recipe_files_settings_and_names_a_bad_field(data: dict[str, Path], tmp_path: Path) -> None:
    runner = CliRunner()
    genotype = tmp_path / "tiny.json"
    genotype.write_text(tiny().to_json())
    recipe = tmp_path / "recipe.json"
    recipe.write_text(json.dumps({"epochs": 2, "batch_size": 4, "lr": 0.01, "optimizer": "adamw", "frames": 4, "size": 16}))
    common = ["--data", str(data["train"]), "--val", str(data["val"]), "--classes", str(data["classes"])]
    result = runner.invoke(app, ["train", str(genotype), "--out", str(tmp_path / "run"), "--recipe", str(recipe), *common])
    assert result.exit_code == 0, result.output
    last = json.loads((tmp_path / "run" / "last.json").read_text())
    assert last["epoch"] == 2 and last["recipe"]["batch_size"] == 4  # not the command's own defaults (10 epochs, batch 8)
    recipe.write_text(json.dumps({"epochs": 2, "lr": -1}))
    bad = runner.invoke(app, ["train", str(genotype), "--out", str(tmp_path / "bad"), "--recipe", str(recipe), *common])
    assert bad.exit_code == 2 and "recipe.json" in bad.stderr and "lr" in bad.stderr
    recipe.write_text("{epochs: 2")
    bad = runner.invoke(app, ["train", str(genotype), "--out", str(tmp_path / "bad"), "--recipe", str(recipe), *common])
    assert bad.exit_code == 2 and "not valid JSON" in bad.stderr


class _Payload:
    """Unpickling this object writes a file: the test shows no vidnas path ever unpickles what it is given."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path(self.marker).write_text, ("unpickled!",))


def test_a_pickle_disguised_as_weights_is_refused_without_unpickling(data: dict[str, Path], tmp_path: Path) -> None:
    import pickle

    from vidnas.train._checkpoint import CheckpointError

    out = tmp_path / "run"
    _train(data, out, RECIPE.model_copy(update={"epochs": 1}))
    marker = tmp_path / "marker.txt"
    for name in ("last.safetensors", "last.state.safetensors"):
        (out / name).write_bytes(pickle.dumps({"weight": _Payload(str(marker))}))
    with pytest.raises(CheckpointError, match="not a safetensors file"):
        load_checkpoint(out)
    with pytest.raises(CheckpointError, match="never unpickles"):
        _train(data, out, RECIPE.model_copy(update={"epochs": 2}), resume=out / "last.json")
    result = CliRunner().invoke(app, ["eval", str(out / "last.json"), "--data", str(data["val"]), "--classes", str(data["classes"])])
    assert result.exit_code == 2 and "not a safetensors file" in result.stderr
    assert not marker.exists()


def test_no_module_unpickles_or_extracts_archives() -> None:
    """A static guard beside the behavioural one above: the package never calls an unpickling loader or extracts
    an archive (where issue 12's checkpoint tarballs are read, members must be checked for path traversal)."""
    import re

    source = Path(__file__).resolve().parents[1] / "src" / "vidnas"
    pattern = re.compile(r"^\s*(import pickle|from pickle|import dill|import cloudpickle)|torch\.load\(.*|allow_pickle\s*=\s*True|\.extractall\(|pickle\.loads?\(", re.M)
    offenders = [f"{p.relative_to(source)}: {m.group(0).strip()}" for p in source.rglob("*.py") for m in pattern.finditer(p.read_text(encoding="utf-8"))
                 if "weights_only=True" not in m.group(0)]  # torch's restricted unpickler (tensors and plain containers only)
    assert offenders == []
    loads = [p.name for p in source.rglob("*.py") if "torch.load(" in p.read_text(encoding="utf-8")]
    assert loads == ["_sources.py"], loads  # published .pyth checkpoints are read in one place


def test_validation_in_the_inference_form_equals_the_training_network(data: dict[str, Path]) -> None:
    from vidnas.train._loop import evaluate, inference_form

    trainer, _ = _train(data, None, RECIPE.model_copy(update={"epochs": 1, "ema_decay": 0.9}))
    model = trainer.model.eval()
    for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm3d)):  # statistics far from the identity
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    network, channels_last = inference_form(model, torch.device("cpu"))
    assert network is not model and channels_last and not any(isinstance(m, torch.nn.BatchNorm3d) for m in network.modules())
    assert inference_form(trainer.ema, torch.device("cpu"))[0] is not trainer.ema  # the EMA copy is folded too
    fast = evaluate(model, trainer.val_data)
    plain = evaluate(model, trainer.val_data, fast=False, batch_size=3)
    assert fast["top1"] == plain["top1"] and fast["confusion"] == plain["confusion"]
    assert fast["loss"] == pytest.approx(plain["loss"], rel=1e-5) and fast["p_true"] == pytest.approx(plain["p_true"], rel=1e-5)
    assert any(isinstance(m, torch.nn.BatchNorm3d) for m in model.modules())  # the trained network is left as it was
