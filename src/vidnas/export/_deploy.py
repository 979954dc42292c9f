"""The deploy transform: an inference-only copy of a model with BatchNorm folded into the convolutions, iTGM
kernels materialised, and every convolution run in its fastest form on the target machine.

Nothing here changes what the network computes (up to float rounding); it changes how. Forms of a conv:

* ``channels_last_3d``: conv3d on NDHWC tensors — depthwise conv3d is 10-30× faster this way on CPU;
* ``contiguous``: conv3d on NCDHW tensors (converted from and back to the model's layout, so the network
  stays channels_last_3d between convs and the conversions are counted in this form's cost);
* ``frames_2d``: a 1×k×k conv run as a 2D conv over the B·T frames (NHWC), several times faster than any
  conv3d for thin inputs such as an RGB stem;
* ``gemm``: a 1×1×1 conv (stride 1, one group) as one matrix product over the NDHWC pixels (``F.linear``):
  up to 1.5× faster than conv3d for the thin expansions of X3D (24→54 channels at 13×40²; slower for others,
  which is why it is tuned per conv, not assumed).

``layout="auto"`` times each conv in every form it allows at the shape it sees (a calibration pass on an
example input) and keeps the fastest; ``"channels_last"`` / ``"contiguous"`` force one form everywhere.
"""

from __future__ import annotations

import copy
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidnas.measure import torch_threads
from vidnas.ops import Conv2Plus1d, Conv3d, ITGMConv3d, Residual
from vidnas.ops.padding import apply_pads, is_symmetric, window_pads

FORMS = ("channels_last_3d", "contiguous", "frames_2d", "gemm")
SWITCH_MARGIN = 0.9


class DeployConv3d(Conv3d):
    """A Conv3d (with the rule-based padding of vidnas) that runs in a chosen form; see the module doc."""

    def __init__(self, conv: nn.Conv3d, form: str = "channels_last_3d"):
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            tuple(conv.kernel_size),
            tuple(conv.stride),
            tuple(conv.dilation),
            conv.groups,
            bias=True,
            pad_rule=getattr(conv, "pad_rule", "same"),
            causal=getattr(conv, "causal", False),
        )
        with torch.no_grad():
            self.weight.copy_(conv.weight)
            if conv.bias is not None:
                self.bias.copy_(conv.bias)
            else:
                self.bias.zero_()
        self.form = "contiguous"
        self.outer_format = torch.channels_last_3d
        self.set_form(form)

    def _apply(self, fn, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        # model.to(device / dtype / memory_format) must not undo the weight layout this conv was tuned for
        result = super()._apply(fn, *args, **kwargs)
        if hasattr(self, "form"):
            self.set_form(self.form)
        return result

    def allowed_forms(self) -> tuple[str, ...]:
        frames_ok = self.kernel_size[0] == 1 and self.stride[0] == 1 and self.dilation[0] == 1
        gemm_ok = tuple(self.kernel_size) == (1, 1, 1) and tuple(self.stride) == (1, 1, 1) and self.groups == 1
        return FORMS[:2] + (("frames_2d",) if frames_ok else ()) + (("gemm",) if gemm_ok else ())

    def set_form(self, form: str) -> None:
        if form not in self.allowed_forms():
            raise ValueError(f"form {form!r} is not available for kernel {self.kernel_size}, stride {self.stride}")
        self.form = form
        with torch.no_grad():
            if form in ("frames_2d", "gemm"):  # for 1×1×1 kernels both layouts are the same (O, C) matrix
                self.weight.data = self.weight.data.contiguous(memory_format=torch.channels_last_3d)
            else:
                fmt = torch.channels_last_3d if form == "channels_last_3d" else torch.contiguous_format
                self.weight.data = self.weight.data.contiguous(memory_format=fmt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # a planar streaming step's frame: one 2D conv whatever the form (Conv3d.forward)
            return super().forward(x)
        if self.form == "frames_2d":
            return self._frames_2d(x)
        if self.form == "gemm":  # (B, T, H, W, C) @ (C, O): an NDHWC input needs no copy, the output is NDHWC
            return F.linear(x.permute(0, 2, 3, 4, 1), self.weight.flatten(1), self.bias).permute(0, 4, 1, 2, 3)
        if self.form == "channels_last_3d":
            return super().forward(x.contiguous(memory_format=torch.channels_last_3d))
        # contiguous inside, channels_last_3d outside: the conversions are part of this form's measured cost
        return super().forward(x.contiguous()).contiguous(memory_format=self.outer_format)

    def _frames_2d(self, x: torch.Tensor) -> torch.Tensor:
        pads = window_pads(x.shape[-3:], tuple(self.kernel_size), tuple(self.stride), tuple(self.dilation), self.pad_rule, False)
        if not is_symmetric(pads):
            x = apply_pads(x, pads)
            padding = (0, 0)
        else:
            padding = (pads[1][0], pads[2][0])
        batch, channels, frames, height, width = x.shape
        # (B, C, T, H, W) -> (B·T, C, H, W) in NHWC memory: the same bytes as NDHWC 5-D
        frames_first = x.transpose(1, 2).reshape(batch * frames, channels, height, width).contiguous(memory_format=torch.channels_last)
        weight = self.weight[:, :, 0]
        y = F.conv2d(frames_first, weight, self.bias, self.stride[1:], padding, self.dilation[1:], self.groups)
        return y.reshape(batch, frames, y.shape[1], y.shape[2], y.shape[3]).transpose(1, 2)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", form={self.form}"


# ------------------------------------------------------------------------------------------------ folding


@torch.no_grad()
def _fold(conv: nn.Conv3d, bn: nn.BatchNorm3d) -> None:
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.mul_(scale.view(-1, 1, 1, 1, 1))
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    folded = (bias - bn.running_mean) * scale + bn.bias
    if conv.bias is None:
        conv.bias = nn.Parameter(folded)
    else:
        conv.bias.copy_(folded)


def _materialise_itgm(module: nn.Module) -> int:
    """Replace every iTGM conv by a plain Conv3d holding its assembled kernel. Returns how many."""
    count = 0
    for name, child in list(module.named_children()):
        if isinstance(child, ITGMConv3d):
            conv = Conv3d(child.in_channels, child.out_channels, tuple(child.kernel().shape[-3:]), child.stride, child.dilation, 1, False, child.pad_rule, child.causal)
            with torch.no_grad():
                conv.weight.copy_(child.kernel())
            setattr(module, name, conv)
            count += 1
        else:
            count += _materialise_itgm(child)
    return count


def fold_batchnorm(model: nn.Module) -> int:
    """Fold every BatchNorm3d that directly follows a convolution into it (eval statistics). Returns how many."""
    folded = 0
    for module in model.modules():
        if isinstance(module, Conv2Plus1d) and isinstance(module.mid_norm, nn.BatchNorm3d):
            _fold(module.first, module.mid_norm)
            module.mid_norm = nn.Identity()
            folded += 1
        if not isinstance(module, nn.Sequential):
            continue
        names = list(module._modules)
        for first, second in zip(names, names[1:]):
            conv, bn = module._modules[first], module._modules[second]
            if not isinstance(bn, nn.BatchNorm3d):
                continue
            if isinstance(conv, Conv2Plus1d):
                conv = conv.second
            if isinstance(conv, nn.Conv3d) and conv.out_channels == bn.num_features:
                _fold(conv, bn)
                module._modules[second] = nn.Identity()
                folded += 1
    return folded


def _inplace_activations(model: nn.Module) -> None:
    """ReLU/ReLU6 write in place where their input is a fresh tensor nobody else reads: after a conv (+BN),
    between the factors of a (2+1)D conv, and after a residual sum. Never on a tensor a branch or another
    node shares."""
    relus = (nn.ReLU, nn.ReLU6)
    for module in model.modules():
        candidates = []
        if isinstance(module, nn.Sequential) and "conv" in module._modules and "act" in module._modules:
            candidates.append(module._modules["act"])
        elif isinstance(module, Conv2Plus1d):
            candidates.append(module.mid_act)
        elif isinstance(module, Residual):
            candidates.append(module.act)
        for act in candidates:
            if isinstance(act, relus):
                act.inplace = True


def _replace_convs(module: nn.Module, form: str) -> list[DeployConv3d]:
    made = []
    for name, child in list(module.named_children()):
        if type(child) in (Conv3d, nn.Conv3d):
            deploy = DeployConv3d(child, form if form in DeployConv3d(child).allowed_forms() else "channels_last_3d")
            setattr(module, name, deploy)
            made.append(deploy)
        else:
            made += _replace_convs(child, form)
    return made


# ------------------------------------------------------------------------------------------------ tuning


def _time(fn, repeats: int) -> float:  # noqa: ANN001
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@torch.no_grad()
def _autotune(model: nn.Module, convs: list[DeployConv3d], example: Any, repeats: int) -> dict[str, int]:
    shapes: dict[int, torch.Size] = {}

    def record(module: nn.Module, args: tuple) -> None:
        shapes.setdefault(id(module), args[0].shape)

    hooks = [conv.register_forward_pre_hook(record) for conv in convs]
    try:
        model(example)
    finally:
        for hook in hooks:
            hook.remove()
    chosen: dict[str, int] = {}
    for conv in convs:
        if id(conv) not in shapes:
            continue
        x = torch.randn(shapes[id(conv)]).contiguous(memory_format=torch.channels_last_3d)
        # channels_last_3d is the network's layout: another form must beat it clearly to be worth a switch
        conv.set_form("channels_last_3d")
        best, best_time = "channels_last_3d", _time(lambda: conv(x), repeats)
        for form in conv.allowed_forms()[1:]:
            conv.set_form(form)
            elapsed = _time(lambda: conv(x), repeats)
            if elapsed < SWITCH_MARGIN * best_time:
                best, best_time = form, elapsed
        conv.set_form(best)
        chosen[best] = chosen.get(best, 0) + 1
    return chosen


@torch.no_grad()
def _pick_whole_model(model: nn.Module, convs: list[DeployConv3d], example: Any, repeats: int) -> tuple[dict[str, int], dict[str, float]]:
    """Per-op timing misses what ops cost each other (layout conversions, cache effects): time the whole
    network with the tuned forms, all channels_last_3d and all contiguous, and keep the fastest."""
    tuned = [conv.form for conv in convs]
    plans = {
        "tuned": (tuned, torch.channels_last_3d),
        "channels_last_3d": (["channels_last_3d"] * len(convs), torch.channels_last_3d),
        "contiguous": (["contiguous"] * len(convs), torch.contiguous_format),
    }
    timings = {}
    for plan, (plan_forms, fmt) in plans.items():
        for conv, form in zip(convs, plan_forms):
            conv.set_form(form)
            conv.outer_format = fmt
        inputs = _to_layout(example, fmt)
        timings[plan] = round(_time(lambda: model(inputs), repeats) * 1000, 3)
    best = min(timings, key=timings.get)
    plan_forms, fmt = plans[best]
    counts: dict[str, int] = {}
    for conv, form in zip(convs, plan_forms):
        conv.set_form(form)
        conv.outer_format = fmt
        counts[form] = counts.get(form, 0) + 1
    return counts, {"chosen": best, **timings}


def _to_layout(inputs: Any, fmt: torch.memory_format) -> Any:
    if isinstance(inputs, dict):
        return {k: v.contiguous(memory_format=fmt) for k, v in inputs.items()}
    return inputs.contiguous(memory_format=fmt)


def deploy_model(
    model: nn.Module,
    example_input: Any = None,
    *,
    layout: str = "auto",
    threads: int | None = None,
    repeats: int = 3,
) -> nn.Module:
    """An inference copy of ``model``: iTGM kernels materialised, BN folded, each conv in its fastest form.

    ``example_input`` (default: ``model.example_input(1)``) calibrates ``layout="auto"``; tune with the
    thread count you will run with. The returned model is in eval mode, has ``deploy_report`` (what was
    done), and expects channels_last_3d inputs but accepts any.
    """
    if layout not in ("auto", "channels_last", "contiguous"):
        raise ValueError(f"layout must be 'auto', 'channels_last' or 'contiguous', got {layout!r}")
    deployed = copy.deepcopy(model).eval()
    materialised = _materialise_itgm(deployed)
    folded = fold_batchnorm(deployed)
    _inplace_activations(deployed)
    form = "contiguous" if layout == "contiguous" else "channels_last_3d"
    convs = _replace_convs(deployed, form)
    fmt = torch.contiguous_format if layout == "contiguous" else torch.channels_last_3d
    for conv in convs:
        conv.outer_format = fmt
    deployed = deployed.to(memory_format=fmt)  # convs keep their own weight layout (DeployConv3d._apply)
    forms = {form: len(convs)}
    timings: dict[str, float] = {}
    if layout == "auto":
        if example_input is None:
            example_input = model.example_input(1)
        with torch_threads(threads):
            forms = _autotune(deployed, convs, _to_layout(example_input, fmt), repeats)
            forms, timings = _pick_whole_model(deployed, convs, example_input, repeats)
    from vidnas.network._model import name_for_streaming

    name_for_streaming(deployed)  # replaced convs take their predecessors' state names
    deployed.deploy_report = {
        "batchnorm_folded": folded,
        "itgm_materialised": materialised,
        "conv_forms": forms,
        "layout": layout,
        "whole_model_ms": timings,
        "input_layout": "contiguous" if timings.get("chosen") == "contiguous" or layout == "contiguous" else "channels_last_3d",
    }
    return deployed
