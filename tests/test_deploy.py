"""The deploy transform: same outputs as the eager model, BN folded, iTGM materialised, forms selectable."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidnas import build_model, create_model
from vidnas.export import DeployConv3d, deploy_model
from vidnas.genotype import Conv, Genotype, Head, InputSpec, Node
from vidnas.ops import ITGMConv3d

SMALL = {"tvn1": (2, 64), "evanet_arch2_rgb": (8, 48), "assemblenet_plus50": (4, 64), "movinet_a0_stream": (6, 64), "x3d_s": (4, 64), "movinet_t0": (4, 64)}


def _randomise_batchnorm(model: nn.Module) -> None:
    generator = torch.Generator().manual_seed(0)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm3d):
            with torch.no_grad():
                module.running_mean.normal_(0, 0.2, generator=generator)
                module.running_var.uniform_(0.5, 2.0, generator=generator)
                module.weight.uniform_(0.5, 1.5, generator=generator)
                module.bias.normal_(0, 0.2, generator=generator)


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("layout", ["auto", "channels_last", "contiguous"])
def test_deployed_model_computes_the_same_logits(name: str, layout: str) -> None:
    frames, size = SMALL[name]
    model = create_model(name, frames=frames, size=size, seed=0).eval()
    _randomise_batchnorm(model)
    x = model.example_input(2)
    deployed = deploy_model(model, x, layout=layout, repeats=1)
    with torch.no_grad():
        expected, got = model(x), deployed(x)
    assert torch.allclose(got, expected, rtol=1e-4, atol=1e-5 * float(expected.abs().max())), float((got - expected).abs().max())
    assert not any(isinstance(m, nn.BatchNorm3d) for m in deployed.modules())  # every BN sits after a conv
    assert not any(isinstance(m, ITGMConv3d) for m in deployed.modules())
    report = deployed.deploy_report
    assert report["batchnorm_folded"] == sum(isinstance(m, nn.BatchNorm3d) for m in model.modules())
    assert sum(report["conv_forms"].values()) == sum(isinstance(m, DeployConv3d) for m in deployed.modules())
    assert any(isinstance(m, nn.BatchNorm3d) for m in model.modules())  # the original is untouched


def test_itgm_kernels_are_materialised() -> None:
    genotype = Genotype(
        input=InputSpec(frames=6, size=16),
        nodes=[Node(name="a", layers=[Conv(out=8, kernel=(5, 3, 3), type="itgm", act="relu")])],
        head=Head(num_classes=3),
    )
    model = build_model(genotype, seed=0).eval()
    deployed = deploy_model(model, layout="channels_last")
    assert deployed.deploy_report["itgm_materialised"] == 1
    x = model.example_input(1)
    assert torch.allclose(model(x), deployed(x), atol=1e-5)


def test_frames_2d_form_matches_conv3d_for_spatial_kernels() -> None:
    conv = nn.Conv3d(3, 8, (1, 3, 3), stride=(1, 2, 2), bias=True)
    deploy = DeployConv3d(conv, "frames_2d")
    x = torch.randn(2, 3, 5, 17, 17)
    reference = DeployConv3d(conv, "contiguous")(x)
    out = deploy(x)
    assert out.shape == reference.shape == (2, 8, 5, 9, 9)
    assert torch.allclose(out, reference, atol=1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    with pytest.raises(ValueError, match="not available"):
        DeployConv3d(nn.Conv3d(3, 8, (3, 3, 3)), "frames_2d")


def test_gemm_form_matches_conv3d_for_pointwise_kernels() -> None:
    conv = nn.Conv3d(6, 10, 1, bias=True)
    deploy = DeployConv3d(conv, "gemm")
    assert "gemm" in deploy.allowed_forms()
    reference = DeployConv3d(conv, "contiguous")
    for layout in (torch.contiguous_format, torch.channels_last_3d):
        x = torch.randn(2, 6, 3, 5, 7).contiguous(memory_format=layout)
        out = deploy(x)
        assert out.shape == (2, 10, 3, 5, 7)
        assert torch.allclose(out, reference(x), atol=1e-5)
    assert out.is_contiguous(memory_format=torch.channels_last_3d)
    for other in (nn.Conv3d(6, 10, 1, stride=(1, 2, 2)), nn.Conv3d(6, 10, 1, groups=2), nn.Conv3d(6, 10, (1, 3, 3))):
        with pytest.raises(ValueError, match="not available"):
            DeployConv3d(other, "gemm")


def test_moving_a_deployed_model_keeps_each_conv_layout() -> None:
    deployed = deploy_model(create_model("x3d_xs", frames=2, size=32, seed=0), layout="channels_last")
    deployed.to(memory_format=torch.contiguous_format)
    conv = next(m for m in deployed.modules() if isinstance(m, DeployConv3d) and m.form == "channels_last_3d" and m.kernel_size[0] > 1)
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)


def test_unknown_layout_is_refused() -> None:
    with pytest.raises(ValueError, match="layout must be"):
        deploy_model(create_model("x3d_xs", frames=2, size=32), layout="fast")


def test_in_place_activations_never_touch_shared_inputs() -> None:
    from vidnas.genotype import Act, Branches, Residual

    genotype = Genotype(
        input=InputSpec(frames=4, size=8),
        nodes=[
            Node(name="a", layers=[Conv(out=4, act="relu")]),
            Node(name="b", inputs=["a"], layers=[Act(fn="relu"), Conv(out=4)]),
            Node(name="c", inputs=["a", "b"], layers=[Residual(body=[Branches(branches=[[Act(fn="relu")], [Conv(out=4, act="relu")]]), Conv(out=4)])]),
        ],
        head=Head(num_classes=2),
    )
    model = build_model(genotype, seed=0).eval()
    x = model.example_input(2)
    deployed = deploy_model(model, layout="channels_last")
    with torch.no_grad():
        assert torch.allclose(model(x), deployed(x), atol=1e-5)
    inplace = [m for m in deployed.modules() if isinstance(m, nn.ReLU) and m.inplace]
    assert len(inplace) == 2  # the two conv blocks' ReLUs; the standalone ones read shared tensors
