"""Op library: shapes, gradients, causal forms, and the exact math of the reference layers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vidnas.genotype import (
    Bottleneck,
    ContextGate,
    Conv,
    EvaNetBranch,
    EvaNetModule,
    Pool,
    Shape,
    SqueezeExcite,
    TVNBlock,
)
from vidnas.network import BuildContext, build_layer
from vidnas.ops import (
    Conv3d,
    DropPath,
    HardSigmoid,
    HardSwish,
    ITGMConv3d,
    Pool3d,
    SqueezeExcite as SEModule,
    Swish,
    WeightedFusion,
    positional_encoding,
)

CTX = BuildContext()
SHAPE = Shape(8, 6, 12, 12)

LAYERS = {
    "conv3d": Conv(out=12, kernel=(3, 3, 3), stride=(1, 2, 2), act="relu"),
    "conv3d_dilated_grouped": Conv(out=8, kernel=(3, 3, 3), dilation=(2, 1, 1), groups=4, act="swish"),
    "depthwise": Conv(kernel=(5, 3, 3), depthwise=True, act="hswish"),
    "2plus1d_r2plus1d": Conv(out=16, kernel=(3, 3, 3), type="2plus1d", act="relu"),
    "2plus1d_evanet": Conv(out=16, kernel=(3, 7, 7), stride=(2, 2, 2), type="2plus1d", order="temporal_first", mid_rule="half"),
    "2plus1d_depthwise": Conv(kernel=(5, 3, 3), type="2plus1d", depthwise=True, act="hswish", mid_act="hswish"),
    "itgm": Conv(out=10, kernel=(5, 3, 3), type="itgm"),
    "spatial": Conv(out=8, kernel=(1, 5, 5), dilation=(1, 2, 2)),
    "temporal": Conv(out=8, kernel=(3, 1, 1), dilation=(2, 1, 1)),
    "maxpool": Pool(mode="max", kernel=(3, 3, 3), stride=(2, 2, 2)),
    "avgpool_space": Pool(mode="avg", kernel=(1, 2, 2), stride=(1, 2, 2)),
    "avgpool_time": Pool(mode="avg", kernel=(3, 1, 1)),
    "se_clip": SqueezeExcite(ratio=0.25),
    "se_2plus3d": SqueezeExcite(ratio=0.25, form="2plus3d", act="hswish", gate="hsigmoid", positional_encoding=True),
    "context_gate": ContextGate(),
    "bottleneck_movinet": Bottleneck(out=12, inner=24, kernel=(5, 3, 3), stride=(1, 2, 2), conv_type="2plus1d", act="hswish", mid_act="hswish", se=SqueezeExcite(form="2plus3d"), rezero=True, shortcut_pool=True),
    "bottleneck_x3d": Bottleneck(out=8, inner=18, se=SqueezeExcite(ratio=1 / 16), se_before_act=True, mid_act="swish", out_act="relu", zero_init_last_norm=True),
    "bottleneck_resnet": Bottleneck(out=16, inner=4, mid=8, expand_kernel=(3, 1, 1), dilation=2, kernel=(1, 3, 3), depthwise=False, out_act="relu"),
    "tvn_block": TVNBlock(spatial_type="depth", spatial_kernel=3, temporal_kernel=3, filters=8, expand=2, repeats=3, skip=True, squeeze=0.5, context_gate=True),
    "evanet_module": EvaNetModule(width=24, repeats=3, branches=[EvaNetBranch(type="conv", conv_type="itgm", time=3), EvaNetBranch(type="conv2", conv_type="2plus1d", time=3, conv_type2="3d", time2=3), EvaNetBranch(type="maxpool_conv", time=3)]),
}

CAUSAL_LAYERS = {
    "conv3d": Conv(out=8, kernel=(3, 3, 3), causal=True),
    "conv3d_dilated_strided": Conv(out=8, kernel=(3, 3, 3), dilation=(2, 1, 1), stride=(2, 1, 1), causal=True),
    "2plus1d": Conv(out=8, kernel=(3, 3, 3), type="2plus1d", causal=True),
    "2plus1d_temporal_first": Conv(out=8, kernel=(5, 3, 3), type="2plus1d", order="temporal_first", causal=True),
    "itgm": Conv(out=8, kernel=(5, 3, 3), type="itgm", causal=True),
    "maxpool": Pool(mode="max", kernel=(3, 3, 3), causal=True),
    "avgpool": Pool(mode="avg", kernel=(3, 1, 1), causal=True),
    "se_3d": SqueezeExcite(causal=True, positional_encoding=True),
    "se_2plus3d": SqueezeExcite(form="2plus3d", causal=True, positional_encoding=True),
    "context_gate": ContextGate(causal=True),
    "bottleneck": Bottleneck(out=8, inner=16, kernel=(5, 3, 3), conv_type="2plus1d", se=SqueezeExcite(form="2plus3d", causal=True), rezero=False, causal=True),
    "tvn_block": TVNBlock(spatial_type="std", spatial_kernel=3, temporal_kernel=3, filters=8, expand=2, repeats=3, skip=True, squeeze=0.5, context_gate=True, causal=True),
}


def _build(spec, shape: Shape = SHAPE):  # noqa: ANN001, ANN202
    module, out = build_layer(spec, shape, CTX)
    return module, out


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_output_shape_matches_inference_and_gradients_flow(name: str) -> None:
    module, expected = _build(LAYERS[name])
    module.train()
    x = torch.randn(2, *SHAPE, requires_grad=True)
    y = module(x)
    assert tuple(y.shape) == (2, *expected)
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for pname, parameter in module.named_parameters():
        assert parameter.grad is not None, pname
        assert torch.isfinite(parameter.grad).all(), pname


@pytest.mark.parametrize("name", sorted(CAUSAL_LAYERS))
def test_causal_forms_never_read_future_frames(name: str) -> None:
    module, _ = _build(CAUSAL_LAYERS[name])
    module.eval()
    x = torch.randn(2, *SHAPE)
    cut = 3
    future = x.clone()
    future[:, :, cut:] = torch.randn_like(future[:, :, cut:]) * 5
    with torch.no_grad():
        base, changed = module(x), module(future)
    stride = CAUSAL_LAYERS[name].total_stride()[0]
    kept = math.ceil(cut / stride)
    assert torch.allclose(base[:, :, :kept], changed[:, :, :kept], atol=1e-6)
    assert not torch.allclose(base[:, :, kept:], changed[:, :, kept:])


def test_non_causal_conv_does_read_the_next_frame() -> None:
    module, _ = _build(Conv(out=4, kernel=(3, 1, 1)))
    x = torch.randn(1, *SHAPE)
    y = x.clone()
    y[:, :, 3] += 1
    assert not torch.allclose(module(x)[:, :, 2], module(y)[:, :, 2])


def _itgm_reference(layer: ITGMConv3d) -> np.ndarray:
    """Kernel W(o, i, ℓ, h, w) written out with loops, from reference evanet-tvn-assemblenet.md §1.3."""
    L, N = layer.length, layer.components
    c_hat = layer.centers.detach().double().numpy()
    g_hat = layer.widths.detach().double().numpy()
    A = layer.mixing.detach().double().numpy()
    S = layer.spatial.detach().double().numpy()[:, :, 0]  # (C_out, C_in, kh, kw)
    c_out, c_in = S.shape[:2]
    g = np.zeros((N, L))
    for n in range(N):
        c = (L - 1) * (math.tanh(c_hat[n]) + 1) / 2
        sigma = math.exp(1.5 - 2 * abs(math.tanh(g_hat[n])))
        for ell in range(L):
            f = (ell - c) / sigma
            g[n, ell] = 1.0 / (math.pi * sigma * f * f + 1.0)
        g[n] /= g[n].sum() + 1e-6
    W = np.zeros((c_out, c_in, L) + S.shape[2:])
    for i in range(c_in):
        for o in range(c_out):
            row = A[i * c_out + o]
            alpha = np.exp(row - row.max()) / np.exp(row - row.max()).sum()
            profile = sum(alpha[n] * g[n] for n in range(N))
            for ell in range(L):
                W[o, i, ell] = profile[ell] * S[o, i]
    return W


def test_itgm_kernel_equals_the_reference_formula() -> None:
    layer = ITGMConv3d(3, 5, (7, 3, 3), components=4)
    with torch.no_grad():
        layer.centers.normal_(0, 1.0)
        layer.widths.normal_(0, 1.0)
    np.testing.assert_allclose(layer.kernel().detach().double().numpy(), _itgm_reference(layer), rtol=1e-5, atol=1e-7)
    # parameters: k²·C_in·C_out + N·C_in·C_out + 2N
    assert sum(p.numel() for p in layer.parameters()) == 9 * 15 + 4 * 15 + 8
    # the layer is the 3D conv with that kernel, SAME padding
    x = torch.randn(1, 3, 9, 8, 8)
    expected = F.conv3d(x, layer.kernel(), padding=(3, 1, 1))
    assert torch.allclose(layer(x), expected, atol=1e-5)


def test_itgm_of_length_one_is_a_plain_spatial_conv() -> None:
    module, out = _build(Conv(out=4, kernel=(1, 3, 3), type="itgm"))
    assert isinstance(module.conv, Conv3d)
    assert sum(p.numel() for p in module.conv.parameters()) == 8 * 4 * 9


def test_two_plus_one_d_mid_widths() -> None:
    r2plus1d, _ = _build(Conv(out=64, kernel=(3, 3, 3), type="2plus1d"), Shape(64, 4, 8, 8))
    assert r2plus1d.conv.first.out_channels == 144  # ⌊27·64·64 / (9·64 + 3·64)⌋, the R(2+1)D paper's M for 64→64
    evanet, _ = _build(Conv(out=64, kernel=(3, 7, 7), stride=(2, 2, 2), type="2plus1d", order="temporal_first", mid_rule="half"), Shape(3, 8, 32, 32))
    assert evanet.conv.first.kernel_size == (3, 1, 1) and evanet.conv.first.out_channels == 32
    assert evanet.conv.first.stride == (2, 1, 1) and evanet.conv.second.stride == (1, 2, 2)
    only_spatial, _ = _build(Conv(kernel=(1, 5, 5), type="2plus1d", depthwise=True))
    assert isinstance(only_spatial.conv, Conv3d)  # a factor of extent 1 is left out (MoViNet 1x5x5 layers)


def test_tf_same_average_pool_excludes_padding() -> None:
    pool = Pool3d("avg", (1, 2, 2), (1, 2, 2))
    x = torch.arange(9.0).view(1, 1, 1, 3, 3)
    # 3 -> 2 with window 2: pad one cell at the end; the last window averages only the valid cells
    expected = torch.tensor([[(0 + 1 + 3 + 4) / 4, (2 + 5) / 2], [(6 + 7) / 2, 8.0]])
    assert torch.allclose(pool(x)[0, 0, 0], expected)
    maxpool = Pool3d("max", (1, 2, 2), (1, 2, 2))
    assert torch.equal(maxpool(-x)[0, 0, 0], torch.tensor([[0.0, -2.0], [-6.0, -8.0]]))  # -inf padding never wins


def test_squeeze_excite_forms() -> None:
    x = torch.randn(2, 8, 5, 4, 4)
    clip = SEModule(8, 4)
    gate_clip = clip.gate(clip.expand(clip.act(clip.reduce(clip.pooled(x)))))
    assert gate_clip.shape == (2, 8, 1, 1, 1)  # one gate per clip
    causal = SEModule(8, 4, causal=True)
    pooled = causal.pooled(x)
    frame_means = x.mean(dim=(3, 4))
    assert torch.allclose(pooled[:, :, 2, 0, 0], frame_means[:, :, :3].mean(dim=2), atol=1e-6)
    stream = SEModule(8, 4, form="2plus3d", causal=True)
    z = stream.pooled(x)
    assert z.shape == (2, 16, 5, 1, 1)
    assert torch.allclose(z[:, 8:, :, 0, 0], frame_means, atol=1e-6)
    assert stream.reduce.in_channels == 16
    assert SqueezeExcite(ratio=0.25, form="2plus3d").hidden_width(184) == 96  # MoViNet make_divisible(92)
    assert SqueezeExcite(ratio=0.9067600752736579, divisor=1).hidden_width(512) == 464  # TVN: int(512 ρ)
    assert SqueezeExcite(ratio=0.004598785768716973, divisor=1).hidden_width(96) == 8  # TVN floor of 8


def test_frame_means_equal_the_plain_mean_in_both_layouts_with_gradients() -> None:
    from vidnas.ops.pool import frame_means

    x = torch.randn(2, 6, 3, 5, 4, dtype=torch.float64)
    expected = x.mean(dim=(3, 4), keepdim=True)
    for layout in (torch.contiguous_format, torch.channels_last_3d):
        leaf = x.clone().contiguous(memory_format=layout).requires_grad_(True)
        got = frame_means(leaf)
        assert got.shape == (2, 6, 3, 1, 1)
        assert torch.allclose(got, expected, atol=1e-12)
        (got * torch.arange(36.0, dtype=torch.float64).view(2, 6, 3, 1, 1)).sum().backward()
        # d/dx of a frame's mean weighted by w is w / (H·W) at every pixel of that frame
        assert torch.allclose(leaf.grad[1, 2, 1], torch.full((5, 4), (18 + 7) / 20.0, dtype=torch.float64))
    se = SEModule(6, 4).eval()
    with torch.no_grad():
        assert torch.allclose(se(x.float().contiguous(memory_format=torch.channels_last_3d)), se(x.float()), atol=1e-6)


def test_positional_encoding_is_concatenated_sines_then_cosines() -> None:
    encoding = positional_encoding(torch.arange(3.0), 6)
    assert encoding.shape == (6, 3)
    p = 2.0
    rates = [10000 ** (-(2 * (i // 2)) / 6) for i in range(6)]
    expected = [math.sin(p * rates[0]), math.sin(p * rates[2]), math.sin(p * rates[4]), math.cos(p * rates[1]), math.cos(p * rates[3]), math.cos(p * rates[5])]
    assert torch.allclose(encoding[:, 2], torch.tensor(expected), atol=1e-6)
    module = SEModule(4, 8, positional_encoding=True)
    assert float(module.pe_scale.detach()) == 0.0  # the learned scale starts at zero


def test_activations_are_the_tf_definitions() -> None:
    x = torch.linspace(-6, 6, 101)
    assert torch.allclose(HardSwish()(x), x * torch.clamp(x + 3, 0, 6) / 6)
    assert torch.allclose(HardSwish()(x), F.hardswish(x), atol=1e-6)
    assert torch.allclose(HardSigmoid()(x), F.relu6(x + 3) / 6)
    assert torch.allclose(Swish()(x), F.silu(x), atol=1e-6)


def test_drop_path_is_identity_in_eval_and_drops_whole_samples_in_training() -> None:
    layer = DropPath(0.5)
    x = torch.ones(64, 2, 1, 1, 1)
    assert torch.equal(layer.eval()(x), x)
    y = layer.train()(x)
    per_sample = y.view(64, -1)
    assert set(per_sample.unique().tolist()) <= {0.0, 2.0}
    assert (per_sample[:, 0] == per_sample[:, 1]).all()
    assert 0 < (per_sample[:, 0] == 0).sum() < 64


def test_weighted_fusion_aligns_weights_and_projects() -> None:
    fusion = WeightedFusion([4, 8, 8], [16, 8, 8], [0.25, None, 0.9], [False, True, False], sources=["a", "b", "c"])
    a, b, c = torch.randn(1, 4, 2, 16, 16), torch.randn(1, 8, 2, 8, 8), torch.randn(1, 8, 2, 8, 8)
    out = fusion([a, b, c])
    assert out.shape == (1, 8, 2, 8, 8)
    weights = fusion.connection_weights()
    assert weights["a"] == pytest.approx(0.25) and weights["c"] == pytest.approx(0.9)
    assert abs(weights["b"] - 0.5) < 0.01  # learned edges start near 0.5
    pooled_a = F.max_pool3d(a, (1, 2, 2), (1, 2, 2))
    expected = fusion.projections["4"](0.25 * pooled_a) + weights["b"] * b + 0.9 * c
    assert torch.allclose(out, expected, atol=1e-5)
    out.sum().backward()
    grad = fusion.edge_logits.grad
    assert grad[0] == 0 and grad[2] == 0 and grad[1] != 0  # frozen edges do not learn


def test_every_causal_op_in_a_causal_bottleneck_is_causal() -> None:
    module, _ = _build(CAUSAL_LAYERS["bottleneck"])
    causal_convs = [m for m in module.modules() if isinstance(m, Conv3d) and m.kernel_size[0] > 1]
    assert causal_convs and all(m.causal for m in causal_convs)


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pooling_a_window_longer_than_the_clip(mode: str) -> None:
    x = torch.randn(1, 2, 1, 4, 4)
    pool = Pool3d(mode, (3, 1, 1), (1, 1, 1))
    assert torch.allclose(pool(x), x)  # one real frame: max and padding-excluding average are the frame itself


@pytest.mark.parametrize("kernel,dilation,groups,rule", [((3, 3, 3), 1, 1, "same"), ((5, 3, 3), 2, 4, "same"), ((3, 5, 5), 1, 8, "symmetric"), ((1, 3, 3), 1, 1, "same")])
def test_window_conv_equals_conv3d_on_one_temporal_window(kernel, dilation, groups, rule) -> None:  # noqa: ANN001
    """The streaming step's one-window conv as a 2D conv over stacked frames (used in exported step graphs)."""
    from vidnas.ops.conv import padded_conv3d, window_conv

    generator = torch.Generator().manual_seed(0)
    window = (kernel[0] - 1) * dilation + 1
    x = torch.randn(2, 8, window, 9, 10, generator=generator)
    weight = torch.randn(16, 8 // groups, *kernel, generator=generator)
    bias = torch.randn(16, generator=generator)
    for stride in ((1, 1, 1), (1, 2, 2)):
        expected = padded_conv3d(x, weight, bias, stride, (dilation, 1, 1), groups, rule, False, pad_time=False)
        got = window_conv(x, weight, bias, stride, (dilation, 1, 1), groups, rule)
        assert got.shape == expected.shape and expected.shape[2] == 1
        assert torch.allclose(got, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("mode", ["max", "avg"])
@pytest.mark.parametrize("rule", ["same", "symmetric", "valid"])
def test_a_planar_spatial_pool_equals_the_3d_pool_on_one_frame(mode: str, rule: str) -> None:
    from vidnas.ops import Pool3d
    from vidnas.ops._state import streaming

    torch.manual_seed(0)
    for kernel, stride, size in ((3, 2, 11), (3, 1, 6), (2, 2, 5), (5, 3, 12)):
        pool = Pool3d(mode, (1, kernel, kernel), (1, stride, stride), rule)
        x = torch.randn(2, 4, 1, size, size + 1)
        expected = pool(x)[:, :, 0]
        with streaming({}, planar=True):
            got = pool(x[:, :, 0])
        assert got.shape == expected.shape
        assert torch.allclose(got, expected, atol=1e-6), (kernel, stride, size)
