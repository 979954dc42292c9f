"""Cost measurement: closed-form MACs, parameter conventions, the reference numbers, latency, peak memory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from vidnas import build_model
from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node, load_genotype
from vidnas.measure import MAC_CONVENTION, count_macs, count_parameters, measure_latency, measure_peak_memory, profile

EXAMPLES = Path(__file__).parents[1] / "examples"


def _single(conv: Conv, channels: int = 16, frames: int = 8, size: int = 28, classes: int = 10) -> Genotype:
    return Genotype(
        input=InputSpec(frames=frames, size=size, streams=[{"name": "x", "channels": channels}]),
        nodes=[Node(name="only", layers=[conv])],
        head=Head(num_classes=classes),
    )


def _macs_without_head(genotype: Genotype) -> int:
    result = profile(genotype)
    shape = genotype.check()["only"]
    return result.macs.macs - shape.channels * genotype.head.num_classes


@pytest.mark.parametrize("stride", [(1, 1, 1), (2, 2, 2)])
def test_conv3d_macs_equal_the_closed_form(stride: tuple[int, int, int]) -> None:
    genotype = _single(Conv(out=24, kernel=(3, 5, 5), stride=stride))
    t, h, w = [-(-n // s) for n, s in zip((8, 28, 28), stride)]
    assert _macs_without_head(genotype) == 16 * 24 * 3 * 5 * 5 * t * h * w


def test_depthwise_and_grouped_macs() -> None:
    assert _macs_without_head(_single(Conv(kernel=(3, 3, 3), depthwise=True))) == 16 * 27 * 8 * 28 * 28
    assert _macs_without_head(_single(Conv(out=32, kernel=(1, 3, 3), groups=4))) == (16 // 4) * 32 * 9 * 8 * 28 * 28


def test_two_plus_one_d_macs_equal_the_sum_of_its_factors() -> None:
    genotype = _single(Conv(out=32, kernel=(3, 3, 3), stride=(2, 2, 2), type="2plus1d"))
    mid = (3 * 3 * 3 * 16 * 32) // (3 * 3 * 16 + 3 * 32)
    spatial = 16 * mid * 9 * 8 * 14 * 14  # spatial conv strides space first
    temporal = mid * 32 * 3 * 4 * 14 * 14
    assert _macs_without_head(genotype) == spatial + temporal
    params = count_parameters(build_model(genotype))
    assert params.without_batchnorm == 16 * mid * 9 + mid * 32 * 3 + 32 * 10 + 10


def test_itgm_macs_are_those_of_the_inflated_conv_and_its_params_are_fewer() -> None:
    genotype = _single(Conv(out=24, kernel=(11, 3, 3), type="itgm"))
    assert _macs_without_head(genotype) == 16 * 24 * 11 * 9 * 8 * 28 * 28
    conv_params = count_parameters(build_model(genotype)).without_batchnorm - (24 * 10 + 10)
    assert conv_params == 9 * 16 * 24 + 4 * 16 * 24 + 2 * 4  # vs 11·9·16·24 for a 3D conv


def test_parameter_counts_with_and_without_batchnorm() -> None:
    model = build_model(_single(Conv(out=8, kernel=(1, 3, 3), act="relu")))
    counts = count_parameters(model)
    assert counts.batchnorm == 2 * 8
    assert counts.total == 16 * 8 * 9 + 16 + 8 * 10 + 10
    assert counts.without_batchnorm == counts.total - 16
    assert counts.trainable == counts.total


def test_meta_and_real_counting_agree() -> None:
    model = build_model(load_genotype(EXAMPLES / "movinet_a0_stream.json").with_input(frames=4, size=64), seed=0)
    x = model.example_input(1)
    assert count_macs(model, x, on_meta=True).macs == count_macs(model, x, on_meta=False).macs


@pytest.mark.parametrize(
    ("name", "params", "params_no_bn", "gmacs"),
    [
        # X3D-S: exact oracles of reference movinet-x3d-autox3d.md §2.5 (params without BN, conv+FC MACs)
        ("x3d_s", 3.794e6, 3.763e6, 1.963),
        # MoViNet-A0-Stream: computed from the released spec, §1.10 (3.748 M params, 2.43 GMACs)
        ("movinet_a0_stream", 3.748e6, None, 2.43),
        # TVN-1: derived under the released-code semantics, evanet-tvn-assemblenet.md §2.8
        ("tvn1", 26.04e6, None, 4.33),
        # EvaNet Arch-1: derived 32.80 M total with a 400-class head, §1.8
        ("evanet_arch1_rgb", 32.80e6, None, None),
        # AssembleNet-50: derived 36.9 M total, ≈7.8 GMACs per frame at 224² (≈250 G for 32 frames), §3.13
        ("assemblenet50", 36.9e6, None, 250.0),
    ],
)
def test_examples_reproduce_the_reference_numbers(name: str, params: float, params_no_bn: float | None, gmacs: float | None) -> None:
    result = profile(EXAMPLES / f"{name}.json")
    assert result.parameters.total == pytest.approx(params, rel=0.005)
    if params_no_bn is not None:
        assert round(result.parameters.without_batchnorm / 1e6, 3) == round(params_no_bn / 1e6, 3)
    if gmacs is not None:
        assert result.macs.macs / 1e9 == pytest.approx(gmacs, rel=0.005)
    assert result.macs.flops == 2 * result.macs.macs


def test_x3d_s_is_exact_to_the_published_rounding() -> None:
    result = profile(EXAMPLES / "x3d_s.json")
    assert f"{result.parameters.without_batchnorm / 1e6:.3f}" == "3.763"
    assert f"{result.macs.macs / 1e9:.3f}" == "1.963"


def test_profile_at_another_input_scales_macs() -> None:
    small = profile(EXAMPLES / "x3d_s.json", frames=4, size=160).macs.macs
    big = profile(EXAMPLES / "x3d_s.json", frames=8, size=160).macs.macs
    # per clip, not per frame: the head and the clip-level SE bottlenecks (2·C·hidden each, on even blocks)
    clip_level = 432 * 2048 + 2048 * 400 + 2 * (2 * 54 * 8 + 3 * 108 * 8 + 6 * 216 * 16 + 4 * 432 * 32)
    assert big - clip_level == 2 * (small - clip_level)  # every other conv scales with T (no temporal stride)
    assert profile(EXAMPLES / "x3d_s.json", frames=4, size=160).macs.macs / 1e9 == pytest.approx(0.605, abs=0.001)  # X3D-XS input


def test_profile_dict_has_the_documented_keys() -> None:
    data = profile(EXAMPLES / "tvn1.json", latency=True, runs=2, warmup=1).to_dict()
    for key in ("params", "params_no_bn", "macs", "flops", "input_shape", "latency_ms", "fingerprint"):
        assert key in data
    assert data["input_shape"] == [1, 3, 2, 224, 224]
    assert data["convention"] == MAC_CONVENTION and "2 x macs" in MAC_CONVENTION
    json.dumps(data)


def test_latency_records_its_conditions() -> None:
    model = build_model(load_genotype(EXAMPLES / "x3d_s.json").with_input(frames=4, size=64), seed=0)
    x = model.example_input(1)
    result = measure_latency(model, x, threads=1, warmup=1, runs=5, channels_last=True)
    assert result.runs == 5 and result.threads == 1 and result.memory_format == "channels_last_3d"
    assert 0 < result.min_ms <= result.median_ms <= result.p90_ms
    assert torch.get_num_threads() >= 1  # restored


def test_cpu_peak_memory_grows_with_the_clip() -> None:
    genotype = load_genotype(EXAMPLES / "x3d_s.json")
    small = measure_peak_memory(genotype.with_input(frames=2, size=64).to_json(indent=None))
    large = measure_peak_memory(genotype.with_input(frames=16, size=160).to_json(indent=None))
    assert small.method == "cpu_rss_high_water_mark"
    # 16x160² holds activations of ≥ 54 channels x 16 x 80² floats at once (22 MB); 2x64² far less
    assert large.forward_bytes > 20e6
    assert large.forward_bytes > 4 * small.forward_bytes


def test_peak_memory_worker_failure_is_reported() -> None:
    with pytest.raises(RuntimeError, match="peak-memory worker failed"):
        measure_peak_memory('{"not": "a genotype"}')


def test_count_macs_works_on_any_module() -> None:
    module = nn.Sequential(nn.Conv3d(3, 4, 1), nn.Flatten(), nn.Linear(4 * 2 * 2 * 2, 5))
    result = count_macs(module, torch.randn(1, 3, 2, 2, 2))
    assert result.macs == 3 * 4 * 8 + 32 * 5
