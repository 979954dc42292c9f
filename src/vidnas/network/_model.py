"""VidNet: the nn.Module every genotype builds into, with a uniform surface for generic tools."""

from __future__ import annotations

import torch
from torch import nn

from vidnas.genotype import Genotype, Shape
from vidnas.ops import (
    Branches,
    ClassifierHead,
    ContextGating,
    Conv2Plus1d,
    Conv3d,
    DropPath,
    HardSigmoid,
    HardSwish,
    ITGMConv3d,
    Pool3d,
    Residual,
    SqueezeExcite,
    Swish,
    WeightedFusion,
)
from vidnas.ops._state import NotStreamableError, current, streaming


class VidNet(nn.Module):
    """A built genotype.

    ``forward(x)``: ``x`` is a B×C×T×H×W tensor (single input stream) or a dict of named streams; returns
    logits B×num_classes. ``forward_features`` returns the head sources' feature maps (a tensor, or a tuple
    when the head averages several nodes); ``forward_head`` pools and classifies them.
    """

    def __init__(
        self,
        genotype: Genotype,
        shapes: dict[str, Shape],
        nodes: dict[str, nn.Module],
        fusions: dict[str, WeightedFusion],
        head: ClassifierHead,
    ):
        super().__init__()
        self.genotype = genotype
        self.shapes = dict(shapes)
        self.stream_names = [s.name for s in genotype.input.streams]
        self.nodes = nn.ModuleDict(nodes)
        self.fusions = nn.ModuleDict(fusions)
        self.head = head
        self.head_sources = genotype.head_sources()
        self.num_classes = genotype.head.num_classes
        self.num_features = head.num_features
        self._edges = {node.name: [e.source for e in genotype.node_inputs(i)] for i, node in enumerate(genotype.nodes)}
        self._peers = {node.name: genotype.peers(i) for i, node in enumerate(genotype.nodes) if node.attention == "peer"}
        # after which node each value can be freed, to keep peak memory at what the graph needs
        last_use: dict[str, int] = {}
        for index, node in enumerate(genotype.nodes):
            for source in self._edges[node.name] + self._peers.get(node.name, []):
                last_use[source] = index
        self._release = {i: [name for name, last in last_use.items() if last == i and name not in self.head_sources] for i in range(len(genotype.nodes))}
        name_for_streaming(self)

    @property
    def input_spec(self):  # noqa: ANN201 - InputSpec
        return self.genotype.input

    def example_input(self, batch_size: int = 1, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        """Random input of the genotype's input spec: a tensor, or a dict for several streams."""
        spec = self.genotype.input
        tensors = {
            s.name: torch.randn(batch_size, s.channels, spec.frames, spec.size[0], spec.size[1], device=device, dtype=dtype)
            for s in spec.streams
        }
        return tensors[self.stream_names[0]] if len(tensors) == 1 else tensors

    def _inputs(self, x: torch.Tensor | dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        if isinstance(x, dict):
            missing = [name for name in self.stream_names if name not in x]
            if missing:
                raise ValueError(f"input dict lacks the stream(s) {missing}; the network reads {self.stream_names}")
            return {name: x[name] for name in self.stream_names}
        if len(self.stream_names) > 1:
            raise ValueError(f"this network reads several streams {self.stream_names}: pass a dict of tensors")
        if x.dim() != 5:
            raise ValueError(f"expected a B x C x T x H x W tensor, got shape {tuple(x.shape)}")
        return {self.stream_names[0]: x}

    def forward_features(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor | tuple[torch.Tensor, ...]:
        values = self._inputs(x)
        call = current()
        if call is not None and call.planar:  # the step's one frame, as 4-D (B, C, H, W)
            values = {name: value[:, :, 0] for name, value in values.items()}
        for index, (name, body) in enumerate(self.nodes.items()):
            inputs = [values[source] for source in self._edges[name]]
            if name in self.fusions:
                fused = self.fusions[name](inputs, [values[p] for p in self._peers.get(name, [])])
            else:
                fused = inputs[0]
            values[name] = body(fused)
            for released in self._release[index]:
                values.pop(released, None)
        features = tuple(values[name] for name in self.head_sources)
        return features[0] if len(features) == 1 else features

    def forward_head(self, features: torch.Tensor | tuple[torch.Tensor, ...], pre_logits: bool = False) -> torch.Tensor:
        listed = [features] if isinstance(features, torch.Tensor) else list(features)
        return self.head(listed, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the final classifier (e.g. to fine-tune on a new label set); the genotype follows."""
        self.head.reset(num_classes, self.genotype.init.dense_std)
        self.num_classes = num_classes
        self.genotype = self.genotype.with_num_classes(num_classes)

    # ---------------------------------------------------------------------------------------- streaming
    def streaming_blockers(self) -> list[str]:
        """Every layer that keeps this network from running frame by frame, with the reason (empty: streamable)."""
        return streaming_blockers(self)

    def init_state(
        self,
        batch_size: int = 1,
        size: int | tuple[int, int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> dict[str, torch.Tensor]:
        """The state of a new stream: named zero tensors (buffers of k_t-1 frames for each causal temporal
        conv, running sums and counts for causal SE and the head's cumulative pooling).

        ``size`` is the frame size the stream will have (default: the genotype's). Refuses a network with a
        non-causal temporal op, naming the first one.
        """
        _refuse_if_blocked(self)
        parameter = next(self.parameters())
        device = device or parameter.device
        dtype = dtype or parameter.dtype
        if size is None:
            size = self.genotype.input.size
        height, width = (size, size) if isinstance(size, int) else size
        frames = {
            s.name: torch.zeros(batch_size, s.channels, 1, height, width, device=device, dtype=dtype) for s in self.genotype.input.streams
        }
        x = frames[self.stream_names[0]] if len(frames) == 1 else frames
        with torch.no_grad(), streaming(None, initialise=True) as call:
            self.forward(x)
        return call.outgoing

    def stream_step(
        self, frames: torch.Tensor | dict[str, torch.Tensor], state: dict[str, torch.Tensor] | None = None, planar: bool = False
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Feed T >= 1 new frames of a stream; returns (logits over every frame so far, the next state).

        Pure: the state passed in is not modified, so one model serves any number of streams. Use eval mode:
        then the logits after the last frame equal the whole-clip forward.

        ``planar`` (one new frame only): run the layers on 4-D (B, C, H, W) frames, every conv as one 2D conv
        — the same numbers and the same state, in the graph an exported step should have (``vidnas.export``).
        A network with a layer that has no planar form (``planar_blockers``) runs the ordinary step.
        """
        _refuse_if_blocked(self)
        planar = planar and not planar_blockers(self)
        if planar:
            lengths = {name: int(x.shape[2]) for name, x in self._inputs(frames).items()}
            if any(length != 1 for length in lengths.values()):
                raise ValueError(f"a planar step reads exactly one new frame per stream, got {lengths}")
        with streaming(state, planar=planar) as call:
            logits = self.forward(frames)
        return logits, call.outgoing

    def connection_weights(self) -> dict[str, dict[str, float]]:
        """Sigmoid connection weight of every fused edge, by node then source (AssembleNet-style graphs)."""
        return {name: fusion.connection_weights() for name, fusion in self.fusions.items() if fusion.connection_weights()}


class EnsembleNet(nn.Module):
    """Members' logits averaged. Input: a dict of the streams the members read (or one tensor if they share
    a single stream)."""

    def __init__(self, genotype, members: list[VidNet]):  # noqa: ANN001 - Ensemble
        super().__init__()
        self.genotype = genotype
        self.members = nn.ModuleList(members)
        self.stream_names = [s.name for s in genotype.streams()]
        self.num_classes = genotype.num_classes
        name_for_streaming(self)

    def example_input(self, batch_size: int = 1, device: torch.device | str | None = None, dtype: torch.dtype | None = None):
        frames = self.genotype.clip_frames()
        tensors: dict[str, torch.Tensor] = {}
        for member in self.members:
            size = member.genotype.input.size
            for stream in member.genotype.input.streams:
                tensors[stream.name] = torch.randn(batch_size, stream.channels, frames, size[0], size[1], device=device, dtype=dtype)
        return tensors[self.stream_names[0]] if len(tensors) == 1 else tensors

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        if not isinstance(x, dict):
            if len(self.stream_names) > 1:
                raise ValueError(f"this ensemble reads several streams {self.stream_names}: pass a dict of tensors")
            x = {self.stream_names[0]: x}
        total: torch.Tensor | None = None
        interleaved = self.genotype.frames == "interleaved"
        for index, member in enumerate(self.members):
            streams = {name: x[name] for name in member.stream_names if name in x}
            if interleaved:  # member i reads frames i, i+n, i+2n, ...
                streams = {name: value[:, :, index :: len(self.members)] for name, value in streams.items()}
            missing = [name for name in member.stream_names if name not in x]
            if missing:
                raise ValueError(f"input dict lacks the stream(s) {missing}; the ensemble reads {self.stream_names}")
            logits = member(streams if len(streams) > 1 else next(iter(streams.values())))
            total = logits if total is None else total + logits
        assert total is not None
        return total / len(self.members)

    def reset_classifier(self, num_classes: int) -> None:
        for member in self.members:
            member.reset_classifier(num_classes)
        self.num_classes = num_classes
        self.genotype = self.genotype.with_num_classes(num_classes)


def name_for_streaming(model: nn.Module) -> None:
    """Give every module its path in ``model``: the prefix of its entries in the streaming state."""
    for name, module in model.named_modules():
        module.stream_name = name or "model"


def streaming_blockers(model: nn.Module) -> list[str]:
    """Layers that read future frames or stride time, as 'path: reason' lines, in forward order."""
    found = []
    for name, module in model.named_modules():
        reason = None
        if isinstance(module, (nn.Conv3d, ITGMConv3d, Pool3d)):
            kernel = module.kernel_size if not isinstance(module, ITGMConv3d) else (module.length,)
            stride = module.stride[0]
            if stride > 1:
                reason = f"temporal stride {stride}"
            elif kernel[0] > 1 and not getattr(module, "causal", False):
                reason = f"temporal kernel {kernel[0]} is not causal"
        elif isinstance(module, (SqueezeExcite, ContextGating)) and not module.causal:
            reason = "clip-level pooling (not causal)"
        elif isinstance(module, ClassifierHead) and (module.pool_mode != "avg" or module.temporal_window is not None):
            reason = f"'{module.pool_mode}' head with temporal window {module.temporal_window}"
        if reason:
            found.append(f"{name}: {reason}")
    return found


PLANAR_MODULES = (Conv3d, Conv2Plus1d, ITGMConv3d, Pool3d, SqueezeExcite, ContextGating, ClassifierHead, Residual, Branches, DropPath,
                  nn.Sequential, nn.ModuleDict, nn.ModuleList, nn.Identity, nn.Linear, nn.Dropout, Swish, HardSwish, HardSigmoid, nn.ReLU,
                  nn.ReLU6, nn.Sigmoid)
"""The modules that run a planar streaming step on 4-D frames (everything else needs the 5-D step; BatchNorm,
for one, is folded into the convs by ``deploy_model`` before an export)."""


def planar_blockers(model: nn.Module) -> list[str]:
    """The layers without a planar streaming form ('path: type'); empty: ``stream_step(..., planar=True)``
    runs planar. The 1×1×1 convs inside attention run as dense layers on pooled features: not walked."""
    found, inside = [], ()
    for name, module in model.named_modules():
        if not name or name.startswith(inside):
            continue
        if isinstance(module, (SqueezeExcite, ContextGating)):
            inside = inside + (name + ".",)
        if not isinstance(module, PLANAR_MODULES):
            found.append(f"{name}: {type(module).__name__}")
    return found


def _refuse_if_blocked(model: nn.Module) -> None:
    blockers = streaming_blockers(model)
    if blockers:
        more = f" (and {len(blockers) - 1} more)" if len(blockers) > 1 else ""
        title = getattr(getattr(model, "genotype", None), "name", type(model).__name__)
        raise NotStreamableError(f"{title} cannot stream: first offending layer {blockers[0]}{more}")
