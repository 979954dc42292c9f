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
    zero_bns = [m for m in x3d.modules() if isinstance(m, nn.BatchNorm3d) and getattr(m, "zero_init", False)]
    assert len(zero_bns) == 26  # the last BN of every X3D-S block starts at γ = 0
    assert all(float(m.weight.detach().abs().sum()) == 0 for m in zero_bns)
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
