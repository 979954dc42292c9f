"""The model zoo: every registry entry builds, runs, and reproduces its reference numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

import vidnas
from vidnas.cli import app
from vidnas.genotype import Conv, Ensemble, Pool, load_genotype
from vidnas.measure import profile
from vidnas.zoo import REGISTRY, UnknownModelError, create_model, get_genotype, index_rows, list_models, model_info
from vidnas.zoo.generate import construct

EXPECTED_NAMES = (
    ["tvn1", "tvn2", "tvn3", "tvn4", "tvn_mobile1", "tvn_mobile2"]
    + ["evanet_arch1_rgb", "evanet_arch1_flow", "evanet_arch2_rgb", "evanet_arch2_flow", "evanet_ensemble"]
    + ["assemblenet50", "assemblenet101", "assemblenet_plus50"]
    + [f"movinet_{v}" for v in ("a0", "a1", "a2", "a3", "a4", "a5")]
    + [f"movinet_{v}_stream" for v in ("a0", "a1", "a2", "a3", "a4", "a5")]
    + ["movinet_t0"]
    + [f"x3d_{v}" for v in ("xs", "s", "m", "l", "xl")]
)
ALL = list_models()
SMALL_INPUT = {"tvn": (2, 64), "evanet": (8, 64), "assemblenet": (4, 64), "movinet": (4, 64), "x3d": (4, 64)}


def test_the_registry_holds_all_published_names() -> None:
    assert sorted(ALL) == sorted(EXPECTED_NAMES) and len(ALL) == 32
    assert vidnas.list_models("x3d_*") == ["x3d_xs", "x3d_s", "x3d_m", "x3d_l", "x3d_xl"]
    assert list_models(family="assemblenet") == ["assemblenet50", "assemblenet101", "assemblenet_plus50"]


@pytest.mark.parametrize("name", ALL)
def test_shipped_genotype_equals_its_constructor(name: str) -> None:
    assert get_genotype(name) == construct(name)  # the JSON and the published configuration never drift apart


def _within(value: float, reference: float, rel: float = 0.01) -> bool:
    return abs(value - reference) <= rel * abs(reference)


@pytest.mark.parametrize("name", ALL)
def test_params_and_macs_reproduce_the_reference(name: str) -> None:
    entry = model_info(name)
    ref = entry.reference
    genotype = get_genotype(name)
    result = profile(genotype, frames=ref.frames, size=ref.size)
    params, no_bn, macs = result.parameters.total, result.parameters.without_batchnorm, result.macs.macs
    if ref.exact:  # X3D: equal at the published rounding (3 decimals of millions / billions)
        assert round(no_bn / 1e6, 3) == round(ref.params_no_bn / 1e6, 3)
        assert round(macs / 1e9, 3) == round(ref.macs / 1e9, 3)
    if ref.params is not None:
        assert _within(params, ref.params), (params, ref.params)
    if ref.params_no_bn is not None:
        assert _within(no_bn, ref.params_no_bn)
    if ref.macs is not None:
        assert _within(macs, ref.macs), (macs, ref.macs)
    if ref.params is None and ref.macs is None:
        assert ref.note, "an entry without reference numbers must say why"
    row = next(r for r in index_rows() if r["name"] == name)  # what `vidnas zoo list` shows
    at_default = profile(genotype) if (ref.frames, ref.size) != (row["frames"], row["size"]) else result
    assert (row["params"], row["macs"], row["fingerprint"]) == (at_default.parameters.total, at_default.macs.macs, genotype.fingerprint())


@pytest.mark.parametrize("name", ALL)
def test_every_model_builds_and_classifies_a_small_clip(name: str) -> None:
    frames, size = SMALL_INPUT[model_info(name).family]
    model = create_model(name, num_classes=5, frames=frames, size=size, seed=0).eval()
    x = model.example_input(1)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (1, 5)
    assert torch.isfinite(logits).all()


def test_default_num_classes_follow_the_reference_datasets() -> None:
    classes = {"tvn1": 157, "assemblenet50": 157, "evanet_arch1_rgb": 400, "x3d_m": 400, "movinet_a0": 600, "movinet_a0_stream": 600}
    for name, count in classes.items():
        assert model_info(name).summary()["num_classes"] == count


def test_create_model_overrides() -> None:
    model = vidnas.create_model("x3d_xs", num_classes=7, frames=2, size=32, seed=1, dropout=0.1)
    assert model.genotype.head.num_classes == 7 and model.genotype.head.dropout == 0.1
    assert model.genotype.input.frames == 2 and model.genotype.input.size == (32, 32)
    again = vidnas.create_model("x3d_xs", num_classes=7, frames=2, size=32, seed=1, dropout=0.1)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert model(model.example_input(1)).shape == (1, 7)


def test_unknown_names_suggest_close_ones() -> None:
    with pytest.raises(UnknownModelError, match=r"no model named 'x3d_xxl' in the zoo; did you mean x3d_xl"):
        create_model("x3d_xxl")


def test_examples_are_copies_of_zoo_entries(example_path: Path) -> None:
    genotype = load_genotype(example_path)
    assert genotype == get_genotype(genotype.name)


def test_stream_models_are_causal_and_base_models_are_not() -> None:
    def temporal_ops(layers):  # noqa: ANN001, ANN202 - walks primitives of a genotype
        from vidnas.genotype import Residual

        for layer in layers:
            if isinstance(layer, Residual):
                yield from temporal_ops(layer.body)
            elif isinstance(layer, (Conv, Pool)) and layer.kernel[0] > 1:
                yield layer

    for name in list_models("movinet_*"):
        genotype = get_genotype(name)
        shape = genotype.check()["rgb"]
        expanded = []
        for layer in genotype.nodes[0].layers:
            expanded += layer.expansion(shape) if hasattr(layer, "expansion") else [layer]
            shape = layer.infer(shape, "x")
        ops = list(temporal_ops(expanded))
        assert ops, name
        assert all(op.causal for op in ops) == name.endswith("_stream"), name


def test_stream_models_use_positional_encoding_from_a3() -> None:
    def uses_pe(name: str) -> bool:
        return any(layer.se.positional_encoding for layer in get_genotype(name).nodes[0].layers if getattr(layer, "se", None))

    assert [uses_pe(f"movinet_{v}_stream") for v in ("a0", "a1", "a2", "a3", "a4", "a5")] == [False, False, False, True, True, True]


def test_evanet_ensemble_averages_its_members_logits() -> None:
    genotype = get_genotype("evanet_ensemble", frames=8, size=32, num_classes=3)
    assert isinstance(genotype, Ensemble) and [m.name for m in genotype.members] == [
        "evanet_arch1_rgb", "evanet_arch1_flow", "evanet_arch2_rgb", "evanet_arch2_flow"
    ]
    model = vidnas.build_model(genotype, seed=0).eval()
    x = model.example_input(2)
    assert set(x) == {"rgb", "flow"}
    with torch.no_grad():
        expected = sum(member(x[member.stream_names[0]]) for member in model.members) / 4
        assert torch.allclose(model(x), expected, atol=1e-6)


def test_assemblenet_plus_adds_peer_attention_to_the_same_graph() -> None:
    plain, plus = get_genotype("assemblenet50"), get_genotype("assemblenet_plus50")
    assert [n.inputs for n in plain.nodes] == [n.inputs for n in plus.nodes]
    assert {n.attention for n in plus.nodes[4:]} == {"peer"}
    assert plus.peers(14) == [f"node{i}" for i in range(14)]  # every lower-level node, stems included
    assert plus.peers(4) == ["node0", "node1", "node2", "node3"]
    model = create_model("assemblenet_plus50", frames=2, size=64, seed=0)
    logits = model(model.example_input(1))
    logits.sum().backward()
    mix = model.fusions["node14"].attention.mix_logits
    assert mix.shape == (2, 14) and mix.grad is not None and mix.grad.abs().sum() > 0


runner = CliRunner()


def test_zoo_list_cli_shows_every_model() -> None:
    result = runner.invoke(app, ["zoo", "list", "--json"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ALL
    assert {"family", "frames", "size", "params", "macs"} <= set(rows[0])
    table = runner.invoke(app, ["zoo", "list"], env={"COLUMNS": "160"})
    assert all(name in table.stdout for name in ALL)


def test_profile_accepts_a_model_name() -> None:
    result = runner.invoke(app, ["profile", "x3d_s", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["params_no_bn"] == 3762858 and round(data["macs"] / 1e9, 3) == 1.963
    bad = runner.invoke(app, ["profile", "x3d_q"])
    assert bad.exit_code == 2 and "did you mean" in bad.stderr


def test_zoo_info_carries_the_reference_and_source() -> None:
    result = runner.invoke(app, ["zoo", "info", "movinet_a2"])
    data = json.loads(result.stdout)
    assert data["reference"]["macs"] == 11.56e9 and "released spec" in data["reference"]["note"]
    assert data["input"]["frames"] == 50 and data["paper"].startswith("Kondratyuk")
    assert all(entry.paper and entry.reference.source for entry in REGISTRY.values())
