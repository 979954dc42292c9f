"""Layer records of the architecture language: primitives, composites and family blocks.

Every layer is a frozen pydantic record tagged by ``op``. Three kinds:

* **primitives** (``conv``, ``pool``, ``se``, ``context_gate``, ``act``, ``norm``) map to one op module each;
* **composites** (``residual``, ``branches``) hold other layers;
* **family blocks** (``bottleneck``, ``tvn_block``, ``evanet_module``) are compact, searchable descriptions
  that ``expansion(shape)`` turns into primitives and composites. The builder and the cost model only ever see
  the expansion, so a family block is data, never a second implementation.

``infer(shape, path)`` returns the output shape or raises GenotypeError naming ``path`` and the rule broken;
it is pure arithmetic and runs before any tensor exists.
"""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple, Union, get_args

from pydantic import Field

from vidnas.errors import GenotypeError
from vidnas.genotype._types import (
    Activation,
    Count,
    Padding,
    PositiveInt,
    Probability,
    Shape,
    Spec,
    Triple,
    make_divisible,
    output_shape,
    prod3,
)

ONE: tuple[int, int, int] = (1, 1, 1)


def _fmt(triple: tuple[int, int, int]) -> str:
    return "x".join(str(v) for v in triple)


# ----------------------------------------------------------------------------------------------- primitives


class Conv(Spec):
    """A convolution followed by optional BatchNorm and activation.

    ``type``:
      * ``3d``: one t×h×w conv (``depthwise`` or ``groups`` for grouped forms);
      * ``2plus1d``: a spatial 1×h×w conv and a temporal t×1×1 conv with BatchNorm + ``mid_act`` between them.
        ``order`` picks which comes first (EvaNet: temporal first; MoViNet and R(2+1)D: spatial first); the
        width between them is the input width when depthwise, else ``mid`` or the rule ``mid_rule``
        (``r2plus1d``: ⌊t·h·w·C_in·C_out / (h·w·C_in + t·C_out)⌋, ``half``: C_out // 2 as in EvaNet). A factor
        with kernel 1 is left out (MoViNet's 1×5×5 stream layers) unless ``keep_unit_factors`` (EvaNet's
        conv21d builds both factors, e.g. a 1×1×1 temporal conv for a (2+1)D of temporal size 1);
      * ``itgm``: EvaNet's inflated Temporal Gaussian Mixture conv with ``components`` mixture components.
    ``causal``: the temporal dimension is padded in front only, so no output reads a future frame.
    """

    op: Literal["conv"] = "conv"
    out: PositiveInt | None = None
    kernel: Triple = ONE
    stride: Triple = ONE
    dilation: Triple = ONE
    groups: PositiveInt = 1
    depthwise: bool = False
    type: Literal["3d", "2plus1d", "itgm"] = "3d"
    order: Literal["spatial_first", "temporal_first"] = "spatial_first"
    mid: PositiveInt | None = None
    mid_rule: Literal["r2plus1d", "half"] = "r2plus1d"
    mid_act: Activation | None = "relu"
    keep_unit_factors: bool = False
    components: Count = 4
    norm: bool = True
    act: Activation | None = None
    bias: bool = False
    padding: Padding = "same"
    causal: bool = False
    zero_init_norm: bool = False

    def out_channels(self, in_channels: int) -> int:
        return self.out if self.out is not None else in_channels

    def group_count(self, in_channels: int) -> int:
        return in_channels if self.depthwise else self.groups

    def mid_channels(self, in_channels: int) -> int:
        """Width between the two factors of a (2+1)D conv."""
        out = self.out_channels(in_channels)
        if self.depthwise:
            return in_channels
        if self.mid is not None:
            return self.mid
        if self.mid_rule == "half":
            return out // 2
        t, h, w = self.kernel
        return (t * h * w * in_channels * out) // (h * w * in_channels + t * out)

    def factorised(self) -> bool:
        """Whether this conv runs as two factors (a (2+1)D conv whose factors both have extent, or
        ``keep_unit_factors``); otherwise it is one conv with its whole kernel."""
        t, h, w = self.kernel
        return self.type == "2plus1d" and (self.keep_unit_factors or (t > 1 and (h > 1 or w > 1)))

    def factors(self, in_channels: int) -> list["Conv"]:
        """A factorised conv as the two 3D convs it runs, in ``order`` ([] when it is one conv): the first to the
        mid width with BN + ``mid_act``, the second with this conv's width, stride share, BN and activation."""
        if not self.factorised():
            return []
        (t, h, w), (st, sh, sw), (dt, dh, dw) = self.kernel, self.stride, self.dilation
        spatial = dict(kernel=(1, h, w), stride=(1, sh, sw), dilation=(1, dh, dw))
        temporal = dict(kernel=(t, 1, 1), stride=(st, 1, 1), dilation=(dt, 1, 1), causal=self.causal)
        first, second = (spatial, temporal) if self.order == "spatial_first" else (temporal, spatial)
        return [Conv(out=self.mid_channels(in_channels), depthwise=self.depthwise, padding=self.padding, act=self.mid_act, **first),
                Conv(out=self.out, depthwise=self.depthwise, padding=self.padding, norm=self.norm, act=self.act, bias=self.bias,
                     zero_init_norm=self.zero_init_norm, **second)]

    def infer(self, shape: Shape, path: str) -> Shape:
        c_in = shape.channels
        out = self.out_channels(c_in)
        groups = self.group_count(c_in)
        if self.depthwise and self.groups != 1:
            raise GenotypeError(f"{path}.groups", "must be 1 when depthwise is true (depthwise sets groups = input width)")
        if c_in % groups or out % groups:
            raise GenotypeError(
                f"{path}.groups", f"{groups} groups must divide the input width {c_in} and the output width {out}"
            )
        if self.type == "itgm" and groups != 1:
            raise GenotypeError(f"{path}.type", "an iTGM conv cannot be grouped or depthwise")
        if self.type == "2plus1d":
            if self.depthwise and out != c_in:
                raise GenotypeError(f"{path}.out", f"a depthwise (2+1)D conv keeps the width: must be {c_in}")
            if self.mid_channels(c_in) < 1:
                raise GenotypeError(f"{path}.mid", f"the (2+1)D mid width rounds to 0 for {c_in}->{out} channels")
        return output_shape(shape, out, self.kernel, self.stride, self.dilation, self.padding, self.causal, path)

    def total_stride(self) -> tuple[int, int, int]:
        return self.stride

    def describe(self) -> str:
        kind = {"3d": "conv", "2plus1d": "conv(2+1)d", "itgm": "itgm"}[self.type]
        extras = []
        if self.depthwise:
            extras.append("dw")
        elif self.groups > 1:
            extras.append(f"g{self.groups}")
        if self.stride != ONE:
            extras.append(f"s{_fmt(self.stride)}")
        if self.dilation != ONE:
            extras.append(f"d{_fmt(self.dilation)}")
        if self.causal:
            extras.append("causal")
        if self.act:
            extras.append(self.act)
        out = f"->{self.out}" if self.out else ""
        return f"{kind} {_fmt(self.kernel)}{out}" + (f" [{', '.join(extras)}]" if extras else "")


class Pool(Spec):
    """Max or average pooling over time, space or both (average excludes padded cells, as TF SAME does)."""

    op: Literal["pool"] = "pool"
    mode: Literal["max", "avg"] = "max"
    kernel: Triple = ONE
    stride: Triple = ONE
    padding: Padding = "same"
    causal: bool = False

    def infer(self, shape: Shape, path: str) -> Shape:
        return output_shape(shape, shape.channels, self.kernel, self.stride, ONE, self.padding, self.causal, path)

    def total_stride(self) -> tuple[int, int, int]:
        return self.stride

    def describe(self) -> str:
        extra = f" s{_fmt(self.stride)}" if self.stride != ONE else ""
        return f"{self.mode}pool {_fmt(self.kernel)}{extra}" + (" [causal]" if self.causal else "")


class SqueezeExcite(Spec):
    """Squeeze-and-excitation: a gate per channel computed from pooled features.

    ``form``: ``3d`` pools over (t, h, w) — one gate per clip, or with ``causal`` a per-frame gate from the
    cumulative mean over frames <= t; ``2plus3d`` (MoViNet stream) feeds [clip or cumulative mean ; the frame's
    own spatial mean] (2C values) to the bottleneck and gates every frame separately.
    Hidden width: ``hidden`` if given, else ``ratio`` × C (× 2 for 2plus3d) rounded by ``make_divisible`` to a
    multiple of ``divisor`` (``divisor`` 1: floored, as TVN does), at least ``min_hidden``.
    ``positional_encoding`` adds a learned-scale (init 0) sinusoidal encoding of the frame index (MoViNet A3-A5).
    """

    op: Literal["se"] = "se"
    ratio: Annotated[float, Field(gt=0.0)] = 0.25
    hidden: PositiveInt | None = None
    divisor: PositiveInt = 8
    min_hidden: PositiveInt = 8
    form: Literal["3d", "2plus3d"] = "3d"
    causal: bool = False
    act: Activation = "relu"
    gate: Literal["sigmoid", "hsigmoid"] = "sigmoid"
    positional_encoding: bool = False

    def input_width(self, channels: int) -> int:
        return 2 * channels if self.form == "2plus3d" else channels

    def hidden_width(self, channels: int) -> int:
        if self.hidden is not None:
            return self.hidden
        value = self.ratio * self.input_width(channels)
        if self.divisor == 1:
            return max(int(value), self.min_hidden)
        return make_divisible(value, self.divisor, self.min_hidden)

    def infer(self, shape: Shape, path: str) -> Shape:
        return shape

    def total_stride(self) -> tuple[int, int, int]:
        return ONE

    def describe(self) -> str:
        parts = [self.form] + (["causal"] if self.causal else []) + (["pos-enc"] if self.positional_encoding else [])
        size = f"hidden {self.hidden}" if self.hidden else f"ratio {self.ratio:.3g}"
        return f"se {size} [{', '.join(parts)}]"


class ContextGate(Spec):
    """Context gating (TVN): y = x ⊙ σ(W·mean(x) + b), a full C×C gate; causal uses the cumulative mean."""

    op: Literal["context_gate"] = "context_gate"
    causal: bool = False

    def infer(self, shape: Shape, path: str) -> Shape:
        return shape

    def total_stride(self) -> tuple[int, int, int]:
        return ONE

    def describe(self) -> str:
        return "context-gate" + (" [causal]" if self.causal else "")


class Act(Spec):
    """An activation on its own."""

    op: Literal["act"] = "act"
    fn: Activation = "relu"

    def infer(self, shape: Shape, path: str) -> Shape:
        return shape

    def total_stride(self) -> tuple[int, int, int]:
        return ONE

    def describe(self) -> str:
        return self.fn


class Norm(Spec):
    """A BatchNorm on its own (momentum and eps from the genotype's ``norm``)."""

    op: Literal["norm"] = "norm"
    zero_init: bool = False

    def infer(self, shape: Shape, path: str) -> Shape:
        return shape

    def total_stride(self) -> tuple[int, int, int]:
        return ONE

    def describe(self) -> str:
        return "batchnorm"


# ----------------------------------------------------------------------------------------------- composites


def infer_sequence(layers: list["Layer"], shape: Shape, path: str) -> Shape:
    """Shape after running ``layers`` in order; errors name the failing layer's path."""
    for index, layer in enumerate(layers):
        shape = layer.infer(shape, f"{path}[{index}]")
    return shape


def sequence_stride(layers: list["Layer"]) -> tuple[int, int, int]:
    stride = ONE
    for layer in layers:
        stride = prod3(stride, layer.total_stride())
    return stride


class Residual(Spec):
    """``act(shortcut(x) + drop_path(scale · body(x)))``.

    ``shortcut``: ``identity`` (shapes must match), ``project`` (always a 1×1×1 conv + BN with the body's
    stride, as TVN and EvaNet's first repeat do) or ``auto`` (identity when the shapes match, else project).
    ``shortcut_pool``: average-pool (window stride + 1, SAME, padding excluded) before a projection instead of
    striding the 1×1 conv (MoViNet's ResNet-D style skip). ``rezero``: a learned scalar, initialised to 0,
    scales the body. ``drop_path``: stochastic depth rate (training only).
    """

    op: Literal["residual"] = "residual"
    body: Annotated[list["Layer"], Field(min_length=1)]
    shortcut: Literal["auto", "project", "identity"] = "auto"
    shortcut_pool: bool = False
    shortcut_norm: bool = True
    rezero: bool = False
    drop_path: Probability = 0.0
    act: Activation | None = None

    def shortcut_kind(self, shape_in: Shape, shape_out: Shape) -> str:
        if self.shortcut == "auto":
            return "identity" if shape_in == shape_out else "project"
        return self.shortcut

    def shortcut_layers(self, shape_in: Shape, shape_out: Shape) -> list["Layer"]:
        """What the shortcut runs, as layers ([] for identity): an optional average pool (``shortcut_pool``:
        window stride + 1) then a 1×1×1 conv to the body's width with the body's remaining stride (+ BN). The
        builder builds exactly these and the cost model counts exactly these."""
        if self.shortcut_kind(shape_in, shape_out) == "identity":
            return []
        stride = self.total_stride()
        layers: list[Layer] = []
        if self.shortcut_pool and stride != ONE:
            layers.append(Pool(mode="avg", kernel=tuple(s + 1 if s > 1 else 1 for s in stride), stride=stride))
            stride = ONE
        layers.append(Conv(out=shape_out.channels, stride=stride, norm=self.shortcut_norm))
        return layers

    def infer(self, shape: Shape, path: str) -> Shape:
        out = infer_sequence(self.body, shape, f"{path}.body")
        kind = self.shortcut_kind(shape, out)
        if kind == "identity" and out != shape:
            raise GenotypeError(
                f"{path}.shortcut", f"an identity shortcut needs the body to keep the shape {shape}, it gives {out}"
            )
        if kind == "project":
            projected = infer_sequence(self.shortcut_layers(shape, out), shape, f"{path}.shortcut")
            if projected != out:
                raise GenotypeError(
                    f"{path}.shortcut",
                    f"the projected shortcut has shape {projected} but the body gives {out} (use 'same' padding in the body)",
                )
        return out

    def total_stride(self) -> tuple[int, int, int]:
        return sequence_stride(self.body)

    def describe(self) -> str:
        return f"residual({len(self.body)} layers, {self.shortcut})"


class Branches(Spec):
    """Parallel branches on the same input, concatenated along channels (or summed)."""

    op: Literal["branches"] = "branches"
    branches: Annotated[list[Annotated[list["Layer"], Field(min_length=1)]], Field(min_length=1)]
    merge: Literal["concat", "sum"] = "concat"

    def infer(self, shape: Shape, path: str) -> Shape:
        outs = [infer_sequence(branch, shape, f"{path}.branches[{i}]") for i, branch in enumerate(self.branches)]
        first = outs[0]
        for i, out in enumerate(outs[1:], start=1):
            if out.spatial() != first.spatial():
                raise GenotypeError(
                    f"{path}.branches[{i}]",
                    f"outputs {out.frames}x{out.height}x{out.width} (frames x height x width) but branch 0 outputs "
                    f"{first.frames}x{first.height}x{first.width}; parallel branches must agree",
                )
            if self.merge == "sum" and out.channels != first.channels:
                raise GenotypeError(f"{path}.branches[{i}]", "summed branches must have the same width")
        channels = sum(o.channels for o in outs) if self.merge == "concat" else first.channels
        return first.with_channels(channels)

    def total_stride(self) -> tuple[int, int, int]:
        return sequence_stride(self.branches[0])

    def describe(self) -> str:
        return f"branches x{len(self.branches)} ({self.merge})"


# ------------------------------------------------------------------------------------------- family blocks


class _FamilyBlock(Spec):
    """A block that expands into primitives; its shape and stride are those of the expansion."""

    def expansion(self, shape: Shape) -> list["Layer"]:  # pragma: no cover - abstract
        raise NotImplementedError

    def infer(self, shape: Shape, path: str) -> Shape:
        self.check(shape, path)
        return infer_sequence(self.expansion(shape), shape, f"{path}<{self.op}>")

    def check(self, shape: Shape, path: str) -> None:
        """Family-specific rules, raised with the block's own field names."""

    def total_stride(self) -> tuple[int, int, int]:
        return self.stride  # type: ignore[attr-defined]


class Bottleneck(_FamilyBlock):
    """A residual bottleneck: expand conv → main conv (→ SE) → projection, plus a shortcut.

    Covers MoViNet layers (depthwise 3D or (2+1)D, SE after the activation, ReZero, pooled skip, no
    activation after the sum), X3D blocks (depthwise 3×3×3, SE between BN and swish, final BN γ=0, ReLU
    after the sum) and ResNet/AssembleNet blocks (``depthwise=false``, ``expand_kernel`` 3×1×1 with temporal
    ``dilation`` on alternate blocks, ``mid`` width after a 1×3×3 conv).
    ``dilation`` is the temporal dilation of every temporal kernel of the block.
    """

    op: Literal["bottleneck"] = "bottleneck"
    out: PositiveInt
    inner: PositiveInt
    mid: PositiveInt | None = None
    expand_kernel: Triple = ONE
    kernel: Triple = (3, 3, 3)
    stride: Triple = ONE
    dilation: PositiveInt = 1
    depthwise: bool = True
    conv_type: Literal["3d", "2plus1d"] = "3d"
    act: Activation = "relu"
    mid_act: Activation = "relu"
    se: SqueezeExcite | None = None
    se_before_act: bool = False
    out_act: Activation | None = None
    rezero: bool = False
    zero_init_last_norm: bool = False
    shortcut_pool: bool = False
    drop_path: Probability = 0.0
    causal: bool = False
    padding: Padding = "same"

    def check(self, shape: Shape, path: str) -> None:
        if self.depthwise and self.mid is not None and self.mid != self.inner:
            raise GenotypeError(f"{path}.mid", f"a depthwise main conv keeps the width: must be {self.inner} or null")
        if self.causal and self.se is not None and not self.se.causal:
            raise GenotypeError(f"{path}.se.causal", "must be true in a causal block")

    def expansion(self, shape: Shape) -> list["Layer"]:
        temporal = (self.dilation, 1, 1)
        body: list[Layer] = [
            Conv(
                out=self.inner,
                kernel=self.expand_kernel,
                dilation=temporal,
                act=self.act,
                causal=self.causal,
                padding=self.padding,
            ),
            Conv(
                out=self.inner if self.depthwise else (self.mid or self.inner),
                kernel=self.kernel,
                stride=self.stride,
                dilation=temporal,
                depthwise=self.depthwise,
                type=self.conv_type,
                mid_act=self.mid_act,
                act=None if (self.se is not None and self.se_before_act) else self.mid_act,
                causal=self.causal,
                padding=self.padding,
            ),
        ]
        if self.se is not None:
            body.append(self.se)
            if self.se_before_act:
                body.append(Act(fn=self.mid_act))
        body.append(Conv(out=self.out, zero_init_norm=self.zero_init_last_norm))
        return [
            Residual(
                body=body,
                shortcut="auto",
                shortcut_pool=self.shortcut_pool,
                rezero=self.rezero,
                drop_path=self.drop_path,
                act=self.out_act,
            )
        ]

    def describe(self) -> str:
        kind = ("dw-" if self.depthwise else "") + self.conv_type
        extras = [f"s{_fmt(self.stride)}"] if self.stride != ONE else []
        if self.dilation > 1:
            extras.append(f"dil{self.dilation}")
        if self.se:
            extras.append("se")
        if self.causal:
            extras.append("causal")
        tail = f" [{', '.join(extras)}]" if extras else ""
        return f"bottleneck {kind} {_fmt(self.kernel)} {self.inner}->{self.out}{tail}"


class TVNBlock(_FamilyBlock):
    """A Tiny Video Networks block (reference §2.3 of evanet-tvn-assemblenet.md), with its repeats.

    Spatial op (width F, or F·E with ``inverted_bottleneck``): ``std`` (1×1 conv → k×k conv), ``depth``
    (1×1 conv → depthwise k×k), ``1std`` (k×k conv), ``maxpool``/``avgpool`` (width unchanged); kernel 1 skips
    it. Temporal op: ``1d`` (k×1×1 conv), ``maxpool``/``avgpool``; kernel 1 or a single frame skips it. Then
    the 1×1 expansion to F·E (without inverted bottleneck), SE (``squeeze`` = kept fraction ρ, hidden
    max(⌊ρ·C⌋, 8)), context gating, the 1×1 projection to F (with inverted bottleneck), the residual with an
    always-present 1×1 conv + BN when ``skip`` and the frame count is unchanged, and ``act``.
    The block runs once with its strides, then ``repeats - 1`` times with stride 1 and the temporal op
    alternately off and on (first repeat off).
    """

    op: Literal["tvn_block"] = "tvn_block"
    spatial_type: Literal["std", "depth", "1std", "maxpool", "avgpool"] = "std"
    spatial_kernel: PositiveInt = 3
    spatial_stride: PositiveInt = 1
    temporal_type: Literal["1d", "maxpool", "avgpool"] = "1d"
    temporal_kernel: PositiveInt = 1
    temporal_stride: PositiveInt = 1
    filters: PositiveInt
    expand: Annotated[int, Field(ge=0)] = 0
    repeats: Count = 1
    skip: bool = False
    squeeze: Probability = 0.0
    context_gate: bool = False
    inverted_bottleneck: bool = False
    act: Literal["relu", "hswish"] = "relu"
    spatial_act: Literal["relu", "hswish"] = "relu"
    temporal_act: Literal["relu", "hswish"] = "relu"
    causal: bool = False

    @property
    def stride(self) -> tuple[int, int, int]:  # type: ignore[override]
        s = self.spatial_stride if self.spatial_kernel > 1 else 1
        t = self.temporal_stride if self.temporal_kernel > 1 else 1
        return (t, s, s)

    def expanded_width(self) -> int:
        return max(self.filters * self.expand, self.filters)

    def _unit(self, shape: Shape, first: bool, temporal_on: bool, path: str) -> tuple[list["Layer"], Shape]:
        width = self.expanded_width() if self.inverted_bottleneck else self.filters
        s_sp = self.spatial_stride if first else 1
        s_t = self.temporal_stride if first else 1
        layers: list[Layer] = []
        if self.inverted_bottleneck and self.expand > 0:
            layers.append(Conv(out=self.expanded_width(), act="relu"))
        k = self.spatial_kernel
        sp_kernel, sp_stride = (1, k, k), (1, s_sp, s_sp)
        if k > 1:
            if self.spatial_type == "std":
                layers += [Conv(out=width, act=self.spatial_act), Conv(out=width, kernel=sp_kernel, stride=sp_stride, act=self.spatial_act)]
            elif self.spatial_type == "depth":
                layers += [
                    Conv(out=width, act=self.spatial_act),
                    Conv(kernel=sp_kernel, stride=sp_stride, depthwise=True, act=self.spatial_act),
                ]
            elif self.spatial_type == "1std":
                layers.append(Conv(out=width, kernel=sp_kernel, stride=sp_stride, act=self.spatial_act))
            else:
                layers.append(Pool(mode=self.spatial_type[:3], kernel=sp_kernel, stride=sp_stride))
        mid_shape = infer_sequence(layers, shape, path)
        kt = self.temporal_kernel
        if temporal_on and kt > 1 and mid_shape.frames > 1:
            t_kernel, t_stride = (kt, 1, 1), (s_t, 1, 1)
            if self.temporal_type == "1d":
                layers.append(Conv(out=width, kernel=t_kernel, stride=t_stride, act=self.temporal_act, causal=self.causal))
            else:
                layers.append(Pool(mode=self.temporal_type[:3], kernel=t_kernel, stride=t_stride, causal=self.causal))
        if not self.inverted_bottleneck and self.expand > 0:
            layers.append(Conv(out=self.expanded_width()))
        if self.squeeze > 0:
            layers.append(SqueezeExcite(ratio=self.squeeze, divisor=1, min_hidden=8, causal=self.causal))
        if self.context_gate:
            layers.append(ContextGate(causal=self.causal))
        if self.inverted_bottleneck and self.expand > 0:
            layers.append(Conv(out=self.filters))
        if not layers:  # every op skipped (kernels 1, no expansion): the unit is an identity
            layers.append(Act(fn="identity"))
        out = infer_sequence(layers, shape, path)
        if self.skip and out.frames == shape.frames:
            return [Residual(body=layers, shortcut="project", act=self.act)], out
        return layers + [Act(fn=self.act)], out

    def expansion(self, shape: Shape) -> list["Layer"]:  # type: ignore[override]
        layers: list[Layer] = []
        for repeat in range(self.repeats):
            unit, shape = self._unit(shape, repeat == 0, repeat == 0 or repeat % 2 == 0, "<tvn_block>")
            layers += unit
        return layers

    def describe(self) -> str:
        return (
            f"tvn {self.spatial_type} {self.spatial_kernel}/{self.spatial_stride} · "
            f"{self.temporal_type} {self.temporal_kernel}/{self.temporal_stride} · F{self.filters} E{self.expand} "
            f"R{self.repeats}" + (f" SE{self.squeeze:.2f}" if self.squeeze else "") + (" CG" if self.context_gate else "")
            + (" skip" if self.skip else "") + (" inv" if self.inverted_bottleneck else "")
        )


class EvaNetBranch(Spec):
    """One branch of an EvaNet module (reference §1.4).

    ``1x1``: 1×1×1 conv to f. ``conv``: 1×1×1 conv to f/2 → ``conv_type`` (``time``×3×3) to f.
    ``conv2``: 1×1×1 to f/4 → ``conv_type`` (``time``) to f/2 → ``conv_type2`` (``time2``) to f.
    ``maxpool_conv``: ``time``×3×3 max-pool → 1×1×1 conv to f.
    """

    type: Literal["1x1", "conv", "conv2", "maxpool_conv"]
    conv_type: Literal["3d", "2plus1d", "itgm"] = "3d"
    time: PositiveInt = 1
    conv_type2: Literal["3d", "2plus1d", "itgm"] = "3d"
    time2: PositiveInt = 1

    def describe(self) -> str:
        names = {"3d": "3D", "2plus1d": "(2+1)D", "itgm": "iTGM"}
        if self.type == "1x1":
            return "1x1"
        if self.type == "maxpool_conv":
            return f"MP({self.time})"
        first = f"{names[self.conv_type]}({self.time})"
        return first if self.type == "conv" else f"{first}->{names[self.conv_type2]}({self.time2})"


class EvaNetModule(_FamilyBlock):
    """An evolved EvaNet module: parallel ``branches`` of width ``width // n`` each, repeated ``repeats`` times.

    Every repeat is ReLU(concat(branches) + shortcut); repeat 0's shortcut is a 1×1×1 conv + BN, later ones
    are identities; conv branches use their temporal size only in even repeats (0, 2, 4 …), pools in all.
    """

    op: Literal["evanet_module"] = "evanet_module"
    width: PositiveInt
    repeats: Count = 1
    branches: Annotated[list[EvaNetBranch], Field(min_length=1)]

    @property
    def stride(self) -> tuple[int, int, int]:  # type: ignore[override]
        return ONE

    def branch_width(self) -> int:
        return self.width // len(self.branches)

    def check(self, shape: Shape, path: str) -> None:
        f = self.branch_width()
        for index, branch in enumerate(self.branches):
            need = {"1x1": 1, "maxpool_conv": 1, "conv": 2, "conv2": 4}[branch.type]
            if f < need:
                raise GenotypeError(
                    f"{path}.branches[{index}]",
                    f"width {self.width} split over {len(self.branches)} branches leaves {f} channels; "
                    f"a '{branch.type}' branch needs at least {need}",
                )

    @staticmethod
    def _conv(kind: str, out: int, time: int, act: str | None) -> Conv:
        return Conv(out=out, kernel=(time, 3, 3), type=kind, order="temporal_first", mid_rule="half", act=act, keep_unit_factors=True)

    def _branch(self, branch: EvaNetBranch, use_time: bool) -> list["Layer"]:
        f = self.branch_width()
        t1 = branch.time if use_time else 1
        t2 = branch.time2 if use_time else 1
        if branch.type == "1x1":
            return [Conv(out=f)]
        if branch.type == "maxpool_conv":
            return [Pool(mode="max", kernel=(branch.time, 3, 3)), Conv(out=f)]
        if branch.type == "conv":
            return [Conv(out=f // 2, act="relu"), self._conv(branch.conv_type, f, t1, None)]
        return [
            Conv(out=f // 4, act="relu"),
            self._conv(branch.conv_type, f // 2, t1, "relu"),
            self._conv(branch.conv_type2, f, t2, None),
        ]

    def expansion(self, shape: Shape) -> list["Layer"]:  # type: ignore[override]
        return [
            Residual(
                body=[Branches(branches=[self._branch(b, repeat % 2 == 0) for b in self.branches])],
                shortcut="project" if repeat == 0 else "identity",
                act="relu",
            )
            for repeat in range(self.repeats)
        ]

    def describe(self) -> str:
        return f"evanet x{self.repeats} [{', '.join(b.describe() for b in self.branches)}] f={self.branch_width()}"


Layer = Annotated[
    Union[Conv, Pool, SqueezeExcite, ContextGate, Act, Norm, Residual, Branches, Bottleneck, TVNBlock, EvaNetModule],
    Field(discriminator="op"),
]
"""Any layer of the language, tagged by its ``op`` field."""

LAYER_TYPES: tuple[type, ...] = get_args(get_args(Layer)[0])
"""Every layer record of the language (the union above); each kind list below is derived from it."""
LAYER_OPS: frozenset[str] = frozenset(t.model_fields["op"].default for t in LAYER_TYPES)
COMPOSITES = (Residual, Branches)
FAMILY_BLOCKS = tuple(t for t in LAYER_TYPES if issubclass(t, _FamilyBlock))
PRIMITIVES = tuple(t for t in LAYER_TYPES if t not in COMPOSITES and t not in FAMILY_BLOCKS)

Residual.model_rebuild()
Branches.model_rebuild()


# ---------------------------------------------------------------------------------------------------- walk


class Step(NamedTuple):
    """One primitive of a walked layer tree: the record, its input and output shapes, and where it sits."""

    layer: "Layer"
    shape: Shape
    out: Shape
    path: str


def walk(layers: "Layer | list[Layer]", shape: Shape, path: str = "layer") -> tuple[list[Step], Shape]:
    """The primitives a layer (or a list of layers) runs, in order, each at its input shape, and the output
    shape: family blocks by their expansion, a residual's body then its shortcut (``shortcut_layers``) then its
    sum (an ``act`` step: the add and the residual's activation), branches one after another. The one walk of
    the layer tree: shape inference checks what it walks, the cost model and the latency predictor count it."""
    steps: list[Step] = []
    if isinstance(layers, list):
        for index, layer in enumerate(layers):
            inner, shape = walk(layer, shape, f"{path}[{index}]")
            steps += inner
        return steps, shape
    layer = layers
    if isinstance(layer, Conv) and layer.factorised():
        out = layer.infer(shape, path)
        return walk(layer.factors(shape.channels), shape, f"{path}<2plus1d>")[0], out
    if isinstance(layer, PRIMITIVES):
        out = layer.infer(shape, path)
        return [Step(layer, shape, out, path)], out
    if isinstance(layer, Residual):
        steps, out = walk(list(layer.body), shape, f"{path}.body")
        shortcut, _ = walk(layer.shortcut_layers(shape, out), shape, f"{path}.shortcut")
        return steps + shortcut + [Step(Act(fn=layer.act or "identity"), out, out, f"{path}.sum")], out
    if isinstance(layer, Branches):
        for index, branch in enumerate(layer.branches):
            steps += walk(list(branch), shape, f"{path}.branches[{index}]")[0]
        return steps, layer.infer(shape, path)
    if isinstance(layer, FAMILY_BLOCKS):
        layer.check(shape, path)
        return walk(layer.expansion(shape), shape, f"{path}<{layer.op}>")
    raise TypeError(f"walk: no rule for layer {type(layer).__name__}")  # pragma: no cover - the union is closed
