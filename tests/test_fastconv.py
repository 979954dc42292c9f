"""The fast CPU training path of grouped / depthwise conv3d equals PyTorch's own: output, input gradient, weight
gradient and bias gradient, over a grid of kernels, strides, paddings, groups, layouts and odd sizes; and a zoo
network trained through it follows the same loss curve as through PyTorch's path."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F

from vidnas import create_model
from vidnas.ops import Conv3d
from vidnas.ops.fastconv import conv3d, fast_training, input_grad, takes_fast_path

CL = torch.channels_last_3d


def _grads(fast: bool, x, weight, bias, stride, padding, groups, grad_out):  # noqa: ANN001, ANN202
    x = x.detach().clone().requires_grad_()
    weight = weight.detach().clone().requires_grad_()
    bias = bias.detach().clone().requires_grad_() if bias is not None else None
    with fast_training(fast):
        out = conv3d(x, weight, bias, stride, padding, 1, groups)
    out.backward(grad_out)
    return out, x.grad, weight.grad, (bias.grad if bias is not None else None)


# (channels, multiplier, kernel, stride, padding, size); each case runs depthwise and with 2 channels per group
CASES = [
    (8, 1, (3, 3, 3), (1, 1, 1), (1, 1, 1), (5, 7, 6)),
    (8, 1, (3, 3, 3), (1, 2, 2), (1, 1, 1), (5, 7, 6)),
    (8, 1, (3, 3, 3), (2, 2, 2), (1, 1, 1), (8, 8, 8)),
    (6, 2, (1, 3, 3), (1, 2, 2), (0, 1, 1), (4, 9, 9)),
    (6, 1, (3, 1, 1), (2, 1, 1), (1, 0, 0), (7, 5, 5)),
    (4, 1, (5, 5, 5), (2, 2, 2), (2, 0, 2), (9, 8, 7)),
    (4, 1, (1, 5, 5), (1, 3, 3), (0, 2, 2), (3, 10, 11)),
    (4, 1, (1, 1, 1), (1, 2, 2), (0, 0, 0), (3, 5, 5)),  # a kernel smaller than the stride: some inputs get no gradient
    (4, 1, (2, 2, 2), (1, 2, 2), (0, 0, 0), (4, 5, 6)),  # an even kernel; the last input row is never read
    (12, 1, (3, 3, 3), (1, 1, 1), (0, 0, 0), (5, 5, 5)),
    (4, 1, (3, 3, 3), (1, 1, 1), (2, 2, 2), (3, 4, 4)),  # padding k-1: the input gradient's own padding is 0
    (6, 1, (3, 3, 3), (1, 1, 1), (1, 1, 1), (5, 1, 1)),  # 1×1 planes: the weight gradient tap by tap
    (6, 1, (3, 3, 3), (2, 2, 2), (1, 1, 1), (5, 2, 1)),
    (6, 1, (3, 3, 3), (1, 1, 1), (1, 1, 1), (4, 2, 2)),
    (6, 1, (3, 3, 3), (1, 1, 1), (1, 1, 1), (4, 3, 3)),  # planes under SMALL_PLANE: PyTorch's weight gradient
]


@pytest.mark.parametrize(("channels", "multiplier", "kernel", "stride", "padding", "size"), CASES)
@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("per_group", [1, 2])
def test_fast_path_equals_pytorch(channels, multiplier, kernel, stride, padding, size, channels_last, per_group) -> None:
    generator = torch.Generator().manual_seed(hash((channels, kernel, stride, per_group)) % 2**31)
    groups = channels // per_group
    batch = 1 if channels_last else 3
    x = torch.randn(batch, channels, *size, generator=generator, dtype=torch.float64)
    if channels_last:
        x = x.contiguous(memory_format=CL)
    weight = torch.randn(channels * multiplier, per_group, *kernel, generator=generator, dtype=torch.float64)
    bias = torch.randn(channels * multiplier, generator=generator, dtype=torch.float64)
    grad_out = torch.randn_like(F.conv3d(x, weight, bias, stride, padding, 1, groups))
    assert takes_fast_path(x.requires_grad_(), weight, groups, padding, (1, 1, 1))
    reference = _grads(False, x, weight, bias, stride, padding, groups, grad_out)
    fast = _grads(True, x, weight, bias, stride, padding, groups, grad_out)
    for name, got, expected in zip(("output", "input grad", "weight grad", "bias grad"), fast, reference):
        assert got.shape == expected.shape, name
        torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-10, msg=name)
    assert fast[1].is_contiguous(memory_format=CL if channels_last else torch.contiguous_format)


def test_float32_gradients_within_float_rounding() -> None:
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(4, 32, 8, 16, 16, generator=generator).contiguous(memory_format=CL)
    weight = torch.randn(32, 1, 3, 3, 3, generator=generator)
    for stride in [(1, 1, 1), (1, 2, 2)]:
        grad_out = torch.randn_like(F.conv3d(x, weight, None, stride, 1, 1, 32))
        reference = _grads(False, x, weight, None, stride, (1, 1, 1), 32, grad_out)
        fast = _grads(True, x, weight, None, stride, (1, 1, 1), 32, grad_out)
        for got, expected in zip(fast[:3], reference[:3]):
            torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4)


def test_strided_input_gradient_without_the_autograd_function() -> None:
    """``input_grad`` alone against ``conv_transpose3d`` (the textbook input gradient of a strided conv)."""
    generator = torch.Generator().manual_seed(1)
    weight = torch.randn(6, 1, 3, 3, 3, generator=generator, dtype=torch.float64)
    for size, stride in itertools.product([(5, 9, 9), (6, 8, 8)], [(1, 2, 2), (2, 2, 2)]):
        out_size = [(i + 2 - 3) // s + 1 for i, s in zip(size, stride)]
        grad = torch.randn(2, 6, *out_size, generator=generator, dtype=torch.float64)
        extra = [i + 2 - 3 - s * (o - 1) for i, s, o in zip(size, stride, out_size)]
        expected = F.conv_transpose3d(grad, weight, None, stride, 1, extra, 6)
        torch.testing.assert_close(input_grad(grad, weight, size, stride, (1, 1, 1), 6), expected, rtol=1e-10, atol=1e-10)


def test_only_cpu_training_takes_the_path() -> None:
    x = torch.randn(1, 4, 3, 5, 5)
    weight = torch.randn(4, 1, 3, 3, 3, requires_grad=True)
    assert takes_fast_path(x, weight, 4, (1, 1, 1), (1, 1, 1))
    assert not takes_fast_path(x, weight, 1, (1, 1, 1), (1, 1, 1))  # dense: PyTorch's backward is fast already
    assert not takes_fast_path(x, weight, 4, (1, 1, 1), (1, 2, 1))  # dilated
    with torch.no_grad():
        assert not takes_fast_path(x, weight, 4, (1, 1, 1), (1, 1, 1))
    with fast_training(False):
        assert not takes_fast_path(x, weight, 4, (1, 1, 1), (1, 1, 1))
    assert not takes_fast_path(x, weight.detach(), 4, (1, 1, 1), (1, 1, 1))  # nothing to differentiate


def test_module_trains_through_the_path_and_exports_unchanged() -> None:
    conv = Conv3d(6, 6, (3, 3, 3), stride=(1, 2, 2), groups=6, pad_rule="same")  # TF SAME at stride 2: asymmetric pads
    x = torch.randn(2, 6, 4, 9, 9, requires_grad=True)
    out = conv(x)
    assert out.grad_fn is not None and type(out.grad_fn).__name__ == "_GroupedConv3dBackward"
    traced = torch.jit.trace(conv, x.detach())
    torch.testing.assert_close(traced(x.detach()), out.detach())
    with fast_training(False):
        reference = conv(x)
    assert type(reference.grad_fn).__name__ == "ConvolutionBackward0"
    torch.testing.assert_close(torch.autograd.grad(out.square().sum(), x)[0], torch.autograd.grad(reference.square().sum(), x)[0])


def test_bfloat16_autocast_runs_the_path_in_bfloat16() -> None:
    x = torch.randn(2, 8, 4, 8, 8).contiguous(memory_format=CL)
    weight = torch.randn(8, 1, 3, 3, 3, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = conv3d(x, weight, None, 1, 1, 1, 8)
        with fast_training(False):
            reference = F.conv3d(x, weight, None, 1, 1, 1, 8)
    assert out.dtype == reference.dtype == torch.bfloat16
    (grad,) = torch.autograd.grad(out.float().sum(), weight)
    (expected,) = torch.autograd.grad(reference.float().sum(), weight)
    assert grad.dtype == torch.float32
    torch.testing.assert_close(grad, expected, rtol=2e-2, atol=2e-1)


@pytest.mark.parametrize("name", ["x3d_xs", "movinet_a0"])
def test_zoo_network_trains_the_same_on_both_paths(name: str) -> None:
    """Twelve SGD steps of a depthwise zoo network: the same loss curve and weights through either backward."""
    torch.manual_seed(0)
    clips, labels = torch.randn(4, 3, 4, 32, 32), torch.randint(0, 5, (4,))
    curves, finals = [], []
    for fast in (True, False):
        torch.manual_seed(1)  # dropout draws from the global generator
        model = create_model(name, num_classes=5, frames=4, size=32, seed=0).train().to(memory_format=CL)
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        losses = []
        with fast_training(fast):
            for _ in range(12):
                loss = F.cross_entropy(model(clips.contiguous(memory_format=CL)), labels)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
        curves.append(losses)
        finals.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert losses[-1] < losses[0]  # it learned something: the comparison is not between two frozen curves
    torch.testing.assert_close(torch.tensor(curves[0]), torch.tensor(curves[1]), rtol=1e-3, atol=1e-4)
    torch.testing.assert_close(finals[0], finals[1], rtol=1e-3, atol=1e-4)
