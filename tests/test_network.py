"""The one builder: every family builds and runs, shapes agree with inference, the model surface works."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from genotype_strategies import genotypes
from hypothesis import HealthCheck, assume, given, settings
from torch import nn

from vidnas import build_model
from vidnas.errors import GenotypeError
from vidnas.genotype import Genotype, load_genotype, parse_genotype

SMALL = {"tvn1": (2, 64), "evanet_arch1_rgb": (8, 64), "assemblenet50": (4, 64), "movinet_a0_stream": (4, 64), "x3d_s": (4, 64)}


def _small(path: Path) -> Genotype:
    genotype = load_genotype(path)
    frames, size = SMALL[genotype.name]
    return genotype.with_input(frames=frames, size=size)


def test_every_example_builds_and_classifies(example_path: Path) -> None:
    genotype = _small(example_path)
    model = build_model(genotype, seed=0).eval()
    x = model.example_input(2)
    with torch.no_grad():
        logits = model(x)
        features = model.forward_features(x)
        again = model.forward_head(features)
        pre = model.forward_head(features, pre_logits=True)
    assert logits.shape == (2, genotype.head.num_classes)
    assert torch.isfinite(logits).all()
    assert torch.allclose(logits, again)
    assert pre.shape == (2, model.num_features)
    shapes = genotype.check()
    feature = features if isinstance(features, torch.Tensor) else features[0]
    assert tuple(feature.shape[1:]) == tuple(shapes[genotype.head_sources()[0]])


def test_reset_classifier_changes_the_output_and_the_genotype() -> None:
    model = build_model(_small(Path(__file__).parents[1] / "examples" / "x3d_s.json"), seed=0)
    model.reset_classifier(11)
    assert model(model.example_input(1)).shape == (1, 11)
    assert model.genotype.head.num_classes == 11 and model.num_classes == 11


def test_multi_stream_model_reads_a_dict_and_reports_connection_weights() -> None:
    genotype = _small(Path(__file__).parents[1] / "examples" / "assemblenet50.json")
    model = build_model(genotype, seed=0).eval()
    x = model.example_input(1)
    assert set(x) == {"rgb", "flow"} and x["flow"].shape[1] == 2
    with torch.no_grad():
        assert model(x).shape == (1, 157)
    weights = model.connection_weights()
    assert weights["node14"] == {"node12": pytest.approx(0.9892204403877258, abs=1e-6), "node13": pytest.approx(0.8454614877700806, abs=1e-6)}
    assert not model.fusions["node14"].edge_logits.requires_grad  # a found structure's weights are frozen
    with pytest.raises(ValueError, match=r"lacks the stream\(s\) \['flow'\]"):
        model({"rgb": x["rgb"]})
    with pytest.raises(ValueError, match="pass a dict"):
        model(x["rgb"])


def test_seed_makes_weights_reproducible_without_touching_global_rng() -> None:
    genotype = _small(Path(__file__).parents[1] / "examples" / "movinet_a0_stream.json")
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = build_model(genotype, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = build_model(genotype, seed=7)
    c = build_model(genotype, seed=8)
    for (name, pa), pb, pc in zip(a.state_dict().items(), b.state_dict().values(), c.state_dict().values()):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.state_dict().values(), c.state_dict().values()))


def test_initialisation_follows_the_genotype() -> None:
    x3d = build_model(_small(Path(__file__).parents[1] / "examples" / "x3d_s.json"), seed=0)
    zero_bns = [m for m in x3d.modules() if isinstance(m, nn.BatchNorm3d) and float(m.weight.detach().abs().sum()) == 0]
    assert len(zero_bns) == 26  # the last BN of every X3D-S block starts at γ = 0, and no other
    assert all(float(m.weight.detach().min()) == 1 for m in x3d.modules() if isinstance(m, nn.BatchNorm3d) and m not in zero_bns)
    assert not any(hasattr(m, "zero_init") for m in x3d.modules())  # data given to the initialiser, not an attribute
    conv = x3d.nodes["backbone"][0].conv
    fan_out = conv.out_channels * 9
    assert abs(float(conv.weight.std()) - math.sqrt(2 / fan_out)) < 0.2 * math.sqrt(2 / fan_out)
    assert abs(float(x3d.head.fc.weight.std()) - 0.01) < 0.002
    movinet = build_model(_small(Path(__file__).parents[1] / "examples" / "movinet_a0_stream.json"), seed=0)
    rezero = [p for n, p in movinet.named_parameters() if n.endswith("rezero")]
    assert len(rezero) == 15 and all(float(p.detach()) == 0 for p in rezero)
    bn = next(m for m in movinet.modules() if isinstance(m, nn.BatchNorm3d))
    assert bn.momentum == 0.01 and bn.eps == 1e-3
    tvn = build_model(_small(Path(__file__).parents[1] / "examples" / "tvn1.json"), seed=0)
    for conv in (m for m in tvn.modules() if isinstance(m, nn.Conv3d) and m.weight.numel() > 1000):
        sigma = math.sqrt(2.6 / (conv.weight[0].numel()))  # TF-contrib variance scaling 2.0, fan-in, truncated
        assert float(conv.weight.abs().max()) <= 2 * sigma + 1e-6  # truncated at two standard deviations
        assert 0.8 * sigma < float(conv.weight.std()) < 0.95 * sigma  # a ±2σ truncated normal has std 0.88σ


def test_evanet_truncates_branch_widths() -> None:
    genotype = load_genotype(Path(__file__).parents[1] / "examples" / "evanet_arch1_rgb.json")
    assert genotype.check()["backbone"].channels == 2046  # 2048 // 3 * 3
    assert genotype.nodes[0].layers[4].branch_width() == 102  # 512 // 5


def test_a_bad_genotype_fails_before_any_module_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    made = []
    original = nn.Module.__init__
    monkeypatch.setattr(nn.Module, "__init__", lambda self, *a, **k: (made.append(type(self)), original(self, *a, **k))[1])
    data = {"input": {"frames": 4, "size": 8}, "nodes": [{"name": "a", "layers": [{"op": "conv", "out": 4, "kernel": [3, 9, 9], "padding": "valid"}]}], "head": {"num_classes": 2}}
    with pytest.raises(GenotypeError, match=r"nodes\[0\].layers\[0\].kernel"):
        build_model(data)
    assert made == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(genotypes())
def test_random_genotypes_build_and_every_node_has_its_inferred_shape(genotype: Genotype) -> None:
    try:
        shapes = genotype.check()
    except GenotypeError:
        assume(False)
        return
    model = build_model(genotype, seed=0).eval()
    seen = {}
    for name, node in model.nodes.items():
        node.register_forward_hook(lambda module, args, output, name=name: seen.__setitem__(name, tuple(output.shape[1:])))
    with torch.no_grad():
        logits = model(model.example_input(2))
    assert logits.shape == (2, genotype.head.num_classes)
    for node in genotype.nodes:
        assert seen[node.name] == tuple(shapes[node.name]), node.name


def test_build_accepts_json_text_and_paths(example_path: Path) -> None:
    text = example_path.read_text()
    assert build_model(text).genotype == build_model(example_path).genotype == parse_genotype(text)


def test_temporal_ensemble_interleaves_frames_and_costs_one_model() -> None:
    from vidnas.measure import profile
    from vidnas.network.ensemble import temporal_ensemble
    from vidnas.zoo import get_genotype

    single = get_genotype("movinet_a0")
    ensemble = temporal_ensemble(single)
    assert ensemble.frames == "interleaved" and ensemble.clip_frames() == 50
    assert [m.input.frames for m in ensemble.members] == [25, 25] and ensemble.members[0].input.frame_stride == 10
    single_macs, ensemble_macs = profile(single).macs.macs, profile(ensemble).macs.macs
    assert abs(ensemble_macs - single_macs) / single_macs < 0.01  # two half-rate members cost one full-rate model
    small = ensemble.with_input(frames=4, size=32)
    model = build_model(small, seed=0).eval()
    x = model.example_input(2)
    assert x.shape == (2, 3, 8, 32, 32)
    with torch.no_grad():
        expected = (model.members[0](x[:, :, 0::2]) + model.members[1](x[:, :, 1::2])) / 2
        assert torch.allclose(model(x), expected, atol=1e-6)
    assert parse_genotype(ensemble.to_json()) == ensemble


def test_diverse_selection_skips_near_duplicates() -> None:
    from vidnas.network.ensemble import diverse_ensemble, genotype_distance, select_diverse
    from vidnas.zoo import get_genotype

    a = get_genotype("x3d_xs")
    a_copy = a.model_copy(update={"name": "renamed"})
    a_close = a.with_num_classes(401)
    b = get_genotype("movinet_a0")
    assert genotype_distance(a, a_copy) == 0.0
    assert 0 < genotype_distance(a, a_close) < 0.01 < genotype_distance(a, b) <= 1.0
    chosen = select_diverse([(a, 0.9), (a_copy, 0.95), (a_close, 0.8), (b, 0.7)], k=2)
    assert [g.name for g, _ in chosen] == ["renamed", "movinet_a0"]
    ensemble = diverse_ensemble([(a, 0.9), (b, 0.7)], k=2)
    assert len(ensemble.members) == 2
    with pytest.raises(Exception, match="an ensemble needs 2"):
        diverse_ensemble([(a, 0.9), (a_copy, 0.8)], k=2)


# ------------------------------------------------------------------------------------- one layer walk


def test_the_builder_has_a_module_for_every_layer_record() -> None:
    from vidnas.genotype import COMPOSITES, FAMILY_BLOCKS, LAYER_TYPES, PRIMITIVES
    from vidnas.genotype._layers import LAYER_OPS
    from vidnas.network._builder import BUILDERS

    assert set(BUILDERS) == set(LAYER_TYPES)
    assert set(PRIMITIVES) | set(COMPOSITES) | set(FAMILY_BLOCKS) == set(LAYER_TYPES) and len(LAYER_TYPES) == len(LAYER_OPS) == 11


@pytest.mark.parametrize("name", ["tvn1", "evanet_arch2_rgb", "assemblenet50", "movinet_a0", "movinet_a0_stream", "x3d_xs"])
def test_the_walk_counts_what_the_builder_builds(name: str) -> None:
    """The walk's convs (a (2+1)D conv as its two factors, a residual's shortcut as the builder makes it) hold
    every multiply-accumulate of the built network but the head's, and its shortcut pools are the network's."""
    from vidnas.measure import count_macs
    from vidnas.measure._predictor import genotype_ops
    from vidnas.ops import Pool3d
    from vidnas.zoo import get_genotype

    genotype = get_genotype(name)
    model = build_model(genotype)
    total = count_macs(model, model.example_input(1)).macs
    ops = genotype_ops(genotype)
    body = sum(macs for kind, _, _, _, macs, _ in ops if kind.startswith("conv") or kind == "se")
    assert 0.97 * total < body <= total * (1 + 1e-9)  # the rest is the head (a few %, its hidden layer)
    pools = [name for name, module in model.named_modules() if isinstance(module, Pool3d) and ".shortcut." in f"{name}."]
    steps = [step for layer, shape in _top_layers(genotype) for step in _walk(layer, shape) if ".shortcut" in step.path and step.layer.op == "pool"]
    assert len(pools) == len(steps)
    if name.startswith("movinet"):
        assert pools  # MoViNet's ResNet-D skips: average pool, then the 1x1x1 conv


def _top_layers(genotype):  # noqa: ANN001, ANN202
    from vidnas.measure._predictor import _layers_with_shapes

    genotype.check()
    return _layers_with_shapes(genotype)


def _walk(layer, shape):  # noqa: ANN001, ANN202
    from vidnas.genotype import walk

    return walk(layer, shape)[0]
