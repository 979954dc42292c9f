"""Converting published checkpoints into vidnas weight files: each source naming mapped onto the zoo network's own.

A converter is a function ``(source arrays, target state dict, where) -> Mapper`` (the converted arrays under
vidnas keys, and the source keys it used) that builds the mapping
from the *target network's* structure (so one converter serves every size of a family) and fills structural gaps
the sources are known to have. :func:`convert` detects the format, converts, checks every tensor against the
network (names and shapes), and writes safetensors plus the sidecar.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidnas.weights._files import CLASSIFIER, WeightsError

Arrays = dict[str, np.ndarray]
BN_SUFFIXES = ("weight", "bias", "running_mean", "running_var")


def _blocks(target: dict[str, Any]) -> list[str]:
    """The target's residual blocks (``nodes.backbone.I.0``) in order."""
    found: list[str] = []
    for key in target:
        match = re.match(r"(nodes\.backbone\.\d+\.0)\.body\.", key)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def _body_parts(target: dict[str, Any], block: str) -> dict[str, str]:
    """The roles of a block's body layers: ``expand``/``mid``/``project`` convs in order, and ``se``."""
    convs, se = [], None
    for key in target:
        match = re.match(re.escape(block) + r"\.body\.(\d+)\.(conv|reduce)\.", key)
        if match:
            prefix = f"{block}.body.{match.group(1)}"
            if match.group(2) == "reduce":
                se = prefix
            elif prefix not in convs:
                convs.append(prefix)
    roles = dict(zip(("expand", "mid", "project"), convs, strict=False)) if len(convs) == 3 else dict(zip(("mid", "project"), convs, strict=False))
    if se:
        roles["se"] = se
    return roles


class Mapper:
    """Collects ``target key <- array`` assignments and reports the first source key that is missing."""

    def __init__(self, source: Arrays, target: dict[str, Any], where: str) -> None:
        self.source, self.target, self.where, self.out = source, target, where, {}
        self.used: set[str] = set()

    def take(self, key: str) -> np.ndarray:
        if key not in self.source:
            near = [k for k in self.source if k.rsplit(".", 1)[0] == key.rsplit(".", 1)[0]]
            hint = f" (present under that prefix: {', '.join(near[:4])})" if near else ""
            raise WeightsError(f"{self.where}: expected {key} in the source checkpoint, it is not there{hint}")
        self.used.add(key)
        return np.asarray(self.source[key])

    def put(self, key: str, array: np.ndarray) -> None:
        self.out[key] = array

    def conv(self, dst: str, src: str, bias: bool = False) -> None:
        self.put(f"{dst}.weight", self.take(f"{src}.weight"))
        if bias:
            self.put(f"{dst}.bias", self.take(f"{src}.bias"))

    def bn(self, dst: str, src: str) -> None:
        for suffix in BN_SUFFIXES:
            self.put(f"{dst}.{suffix}", self.take(f"{src}.{suffix}"))

    def identity_bn(self, dst: str) -> None:
        """A BatchNorm that passes its input through (the source has none where vidnas has one)."""
        width = self.target[f"{dst}.weight"].shape[0]
        eps = 1e-5
        self.put(f"{dst}.weight", np.ones(width, np.float32))
        self.put(f"{dst}.bias", np.zeros(width, np.float32))
        self.put(f"{dst}.running_mean", np.zeros(width, np.float32))
        self.put(f"{dst}.running_var", np.full(width, 1.0 - eps, np.float32))


def _x3d(source: Arrays, target: dict[str, Any], where: str, names: dict[str, str]) -> Mapper:
    """X3D from PyTorchVideo or PySlowFast naming (``names``: the naming's pieces)."""
    m = Mapper(source, target, where)
    m.conv("nodes.backbone.0.conv", names["stem_spatial"])
    m.conv("nodes.backbone.1.conv", names["stem_temporal"])
    m.bn("nodes.backbone.1.norm", names["stem_norm"])
    stage_blocks: list[tuple[int, int]] = []
    stage, j = 0, 0
    blocks = _blocks(target)
    for block in blocks:
        if f"{block}.shortcut.conv.weight" in target and stage_blocks:  # a projected shortcut opens a new stage
            stage, j = stage + 1, 0
        stage_blocks.append((stage, j))
        j += 1
    for block, (s, jj) in zip(blocks, stage_blocks, strict=True):
        src = names["block"].format(stage=s + names["first_stage"], block=jj + names["first_block"])
        parts = _body_parts(target, block)
        for role in ("expand", "mid", "project"):
            m.conv(f"{parts[role]}.conv", src + names[role])
            m.bn(f"{parts[role]}.norm", src + names[role + "_norm"])
        if "se" in parts:
            m.conv(f"{parts['se']}.reduce", src + names["se_reduce"], bias=True)
            m.conv(f"{parts['se']}.expand", src + names["se_expand"], bias=True)
        if f"{block}.shortcut.conv.weight" in target:
            m.conv(f"{block}.shortcut.conv", src + names["shortcut"])
            if src + names["shortcut_norm"] + ".weight" in source:
                m.bn(f"{block}.shortcut.norm", src + names["shortcut_norm"])
            else:  # PyTorchVideo: no BN on a shortcut that keeps the width (the first res2 block)
                m.identity_bn(f"{block}.shortcut.norm")
    last = max(int(k.split(".")[2]) for k in target if k.startswith("nodes.backbone."))
    m.conv(f"nodes.backbone.{last}.conv", names["head_pre"])
    m.bn(f"nodes.backbone.{last}.norm", names["head_pre_norm"])
    hidden = m.take(names["head_post"] + ".weight")
    m.put("head.hidden.0.weight", hidden.reshape(hidden.shape[0], -1))
    m.conv("head.fc", names["proj"], bias=True)
    return m


PYTORCHVIDEO_X3D = {
    "stem_spatial": "blocks.0.conv.conv_t", "stem_temporal": "blocks.0.conv.conv_xy", "stem_norm": "blocks.0.norm",
    "block": "blocks.{stage}.res_blocks.{block}.", "first_stage": 1, "first_block": 0,
    "expand": "branch2.conv_a", "expand_norm": "branch2.norm_a", "mid": "branch2.conv_b", "mid_norm": "branch2.norm_b.0",
    "project": "branch2.conv_c", "project_norm": "branch2.norm_c", "se_reduce": "branch2.norm_b.1.block.0",
    "se_expand": "branch2.norm_b.1.block.2", "shortcut": "branch1_conv", "shortcut_norm": "branch1_norm",
    "head_pre": "blocks.5.pool.pre_conv", "head_pre_norm": "blocks.5.pool.pre_norm", "head_post": "blocks.5.pool.post_conv",
    "proj": "blocks.5.proj",
}
PYSLOWFAST_X3D = {
    "stem_spatial": "s1.pathway0_stem.conv_xy", "stem_temporal": "s1.pathway0_stem.conv", "stem_norm": "s1.pathway0_stem.bn",
    "block": "s{stage}.pathway0_res{block}.", "first_stage": 2, "first_block": 0,
    "expand": "branch2.a", "expand_norm": "branch2.a_bn", "mid": "branch2.b", "mid_norm": "branch2.b_bn",
    "project": "branch2.c", "project_norm": "branch2.c_bn", "se_reduce": "branch2.se.fc1", "se_expand": "branch2.se.fc2",
    "shortcut": "branch1", "shortcut_norm": "branch1_bn",
    "head_pre": "head.conv_5", "head_pre_norm": "head.conv_5_bn", "head_post": "head.lin_5", "proj": "head.projection",
}


# ------------------------------------------------------------------------------------------ MoViNet (TF)

TF_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
BN_TF = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}
# a MovinetBlock's parts, by the attribute the object graph names them with (or, reached through the bottleneck
# that holds the same layers, the bottleneck's own attribute)
TF_ROLES = {"expansion": r"(?:_expansion|_mobile_bottleneck/_expansion_layer)", "feature": r"(?:_feature|_mobile_bottleneck/_feature_layer)",
            "projection": r"(?:_projection|_mobile_bottleneck/_projection_layer)", "se": r"(?:_attention|_mobile_bottleneck/_attention_layer)",
            "skip": r"(?:_skip|_mobile_bottleneck/_skip_layer)/_projection", "stem": r"_stem", "project": r"_project", "head": r"_head",
            "classifier": r"_classifier"}
TF_LAYER = re.compile(r"^(?P<prefix>.*?)layer_with_weights-(?P<index>\d+)/(?P<rest>(?:_stem|_expansion|_feature|_projection|_attention|_skip|"
                      r"_mobile_bottleneck|_project)/.*)$")


def tf_kernel(array: np.ndarray, depthwise: bool, temporal: bool) -> np.ndarray:
    """A TF kernel in PyTorch's Conv3d layout (out, in/groups, kt, kh, kw).

    Conv3D (kt,kh,kw,in/g,out); Conv2D over space (kh,kw,in,out) and over time (kt,1,in,out);
    DepthwiseConv2D (kh,kw,C,1) and, over time, (kt,1,C,1)."""
    if array.ndim == 5:
        return array.transpose(4, 3, 0, 1, 2)
    if array.ndim != 4:
        raise ValueError(f"a kernel of rank {array.ndim}")
    moved = array.transpose(2, 3, 0, 1) if depthwise else array.transpose(3, 2, 0, 1)  # (out or C, in or 1, k0, k1)
    return moved[..., None] if temporal else moved[:, :, None]


class _TFLayer:
    """The variables of one backbone layer (stem, block or head), looked up by role."""

    def __init__(self, paths: dict[str, str], where: str, name: str) -> None:
        self.paths, self.where, self.name = paths, where, name  # relative path -> full source key

    def find(self, pattern: str, required: bool = True) -> str | None:
        regex = re.compile(pattern + "$")
        hits = [key for rest, key in self.paths.items() if regex.match(rest)]
        if len(hits) > 1:
            raise WeightsError(f"{self.where}: {self.name}: {len(hits)} variables match {pattern!r}: {', '.join(hits[:3])}")
        if not hits:
            if required:
                held = ", ".join(sorted(self.paths)[:8])
                raise WeightsError(f"{self.where}: {self.name}: no variable matches {pattern!r} (this layer holds: {held})")
            return None
        return hits[0]

    def has(self, role: str) -> bool:
        return any(re.match(TF_ROLES[role] + "/", rest) for rest in self.paths)


def _tf_conv(m: Mapper, layer: _TFLayer, role: str, dst: str, *, temporal: bool = False, bias: bool = False) -> None:
    conv = r"_conv_temporal(?:/_conv)?" if temporal else r"_conv(?:/_conv)?"
    key = layer.find(f"{TF_ROLES[role]}/{conv}/(?:kernel|depthwise_kernel)")
    array = tf_kernel(m.take(key), depthwise=key.endswith("/depthwise_kernel" + TF_SUFFIX), temporal=temporal)
    shape = m.target[f"{dst}.weight"].shape
    if len(shape) == 2:  # a vidnas Linear from a 1x1(x1) conv
        array = array.reshape(array.shape[0], -1)
    m.put(f"{dst}.weight", array)
    if bias:
        m.put(f"{dst}.bias", m.take(layer.find(f"{TF_ROLES[role]}/{conv}/bias")))


def _tf_bn(m: Mapper, layer: _TFLayer, role: str, dst: str, *, temporal: bool = False) -> None:
    norm = r"(?:_batch_norm_temporal|_conv_temporal/_batch_norm_op)" if temporal else r"(?:_batch_norm|_conv/_batch_norm_op)"
    for ours, theirs in BN_TF.items():
        m.put(f"{dst}.{ours}", m.take(layer.find(f"{TF_ROLES[role]}/{norm}/{theirs}")))


def _tf_scalar(m: Mapper, layer: _TFLayer, pattern: str, dst: str) -> None:
    m.put(dst, m.take(layer.find(pattern)).reshape(()))


def _movinet_tf(source: Arrays, target: dict[str, Any], where: str) -> Mapper:
    """MoViNet (base and stream) from a TF object checkpoint: the backbone's layers in order (stem, blocks,
    head projection), then the classifier head."""
    m = Mapper(source, target, where)
    layers: dict[tuple[str, int], dict[str, str]] = {}
    rest_keys: dict[str, str] = {}
    for key in source:
        if not key.endswith(TF_SUFFIX):
            continue
        path = key[: -len(TF_SUFFIX)]
        match = TF_LAYER.match(path)
        if match:
            layers.setdefault((match.group("prefix"), int(match.group("index"))), {})[match.group("rest")] = key
        else:
            rest_keys[path] = key
    ordered = [(f"layer {prefix}layer_with_weights-{index}", paths) for (prefix, index), paths in sorted(layers.items(), key=lambda kv: kv[0][1])]
    if not ordered:
        raise WeightsError(f"{where}: no MoViNet backbone layers (…/layer_with_weights-N/_stem|_expansion|…) in this checkpoint")
    backbone = sorted({int(k.split(".")[2]) for k in target if k.startswith("nodes.backbone.")})
    if len(ordered) != len(backbone):
        raise WeightsError(f"{where}: the checkpoint has {len(ordered)} backbone layers, the network {len(backbone)} (another MoViNet size?)")
    for (name, paths), index in zip(ordered, backbone, strict=True):
        layer = _TFLayer(paths, where, name)
        prefix = f"nodes.backbone.{index}"
        if f"{prefix}.conv.weight" in target:  # stem or head projection: one conv + BN
            role = "stem" if layer.has("stem") else "project"
            _tf_conv(m, layer, role, f"{prefix}.conv")
            _tf_bn(m, layer, role, f"{prefix}.norm")
            continue
        block = f"{prefix}.0"
        parts = _body_parts(target, block)
        _tf_scalar(m, layer, r"_mobile_bottleneck/_rezero/[^/]+", f"{block}.rezero")
        if "expand" in parts:
            _tf_conv(m, layer, "expansion", f"{parts['expand']}.conv")
            _tf_bn(m, layer, "expansion", f"{parts['expand']}.norm")
        mid = parts["mid"]
        if f"{mid}.conv.first.weight" in target:  # (2+1)D: spatial conv + BN, then temporal conv + BN
            _tf_conv(m, layer, "feature", f"{mid}.conv.first")
            _tf_bn(m, layer, "feature", f"{mid}.conv.mid_norm")
            _tf_conv(m, layer, "feature", f"{mid}.conv.second", temporal=True)
            _tf_bn(m, layer, "feature", f"{mid}.norm", temporal=True)
        else:
            _tf_conv(m, layer, "feature", f"{mid}.conv")
            _tf_bn(m, layer, "feature", f"{mid}.norm")
        if "se" in parts:
            se = parts["se"]
            key = layer.find(TF_ROLES["se"] + r"/_se_reduce/_conv(?:/_conv)?/kernel")
            m.put(f"{se}.reduce.weight", tf_kernel(m.take(key), depthwise=False, temporal=False))
            m.put(f"{se}.reduce.bias", m.take(layer.find(TF_ROLES["se"] + r"/_se_reduce/_conv(?:/_conv)?/bias")))
            key = layer.find(TF_ROLES["se"] + r"/_se_expand/_conv(?:/_conv)?/kernel")
            m.put(f"{se}.expand.weight", tf_kernel(m.take(key), depthwise=False, temporal=False))
            m.put(f"{se}.expand.bias", m.take(layer.find(TF_ROLES["se"] + r"/_se_expand/_conv(?:/_conv)?/bias")))
            if f"{se}.pe_scale" in target:
                _tf_scalar(m, layer, TF_ROLES["se"] + r"/_pos_encoding/(?:_rezero/)?[^/]+", f"{se}.pe_scale")
        _tf_conv(m, layer, "projection", f"{parts['project']}.conv")
        _tf_bn(m, layer, "projection", f"{parts['project']}.norm")
        if f"{block}.shortcut.conv.weight" in target:
            _tf_conv(m, layer, "skip", f"{block}.shortcut.conv")
            _tf_bn(m, layer, "skip", f"{block}.shortcut.norm")
    head = _TFLayer(rest_keys, where, "classifier head")
    for role, dst in (("head", "head.hidden.0"), ("classifier", "head.fc")):
        key = head.find(rf"(?:.*/)?{TF_ROLES[role]}/_conv(?:/_conv)?/kernel")
        array = tf_kernel(m.take(key), depthwise=False, temporal=False)
        m.put(f"{dst}.weight", array.reshape(array.shape[0], -1))
        m.put(f"{dst}.bias", m.take(head.find(rf"(?:.*/)?{TF_ROLES[role]}/_conv(?:/_conv)?/bias")))
    return m


@dataclass(frozen=True)
class SourceFormat:
    """One published checkpoint naming: how to recognise it, its class count, and how to convert it."""

    name: str
    family: str
    recognise: Callable[[Arrays], bool]
    classes: Callable[[Arrays], int | None]
    convert: Callable[[Arrays, dict[str, Any], str], Mapper]
    description: str


def _rows(key: str) -> Callable[[Arrays], int | None]:
    return lambda source: int(source[key].shape[0]) if key in source else None


def _tf_classes(source: Arrays) -> int | None:
    kernels = [v for k, v in source.items() if re.search(r"(?:^|/)_classifier/_conv(?:/_conv)?/kernel" + re.escape(TF_SUFFIX) + "$", k)]
    return int(kernels[0].shape[-1]) if len(kernels) == 1 else None


FORMATS: dict[str, SourceFormat] = {
    f.name: f
    for f in (
        SourceFormat("pytorchvideo", "x3d", lambda s: "blocks.0.conv.conv_t.weight" in s, _rows("blocks.5.proj.weight"),
                     lambda s, t, w: _x3d(s, t, w, PYTORCHVIDEO_X3D), "PyTorchVideo X3D (.pyth from the PyTorchVideo model zoo; create_x3d naming)"),
        SourceFormat("pyslowfast", "x3d", lambda s: "s1.pathway0_stem.conv.weight" in s, _rows("head.projection.weight"),
                     lambda s, t, w: _x3d(s, t, w, PYSLOWFAST_X3D), "PySlowFast X3D (.pyth from the SlowFast model zoo)"),
        SourceFormat("tf-movinet", "movinet", lambda s: any("layer_with_weights-" in k and "/_stem/" in k for k in s), _tf_classes, _movinet_tf,
                     "TensorFlow MoViNet object checkpoint (tensorflow/models official/projects/movinet; a directory, .index or the published .tar.gz)"),
    )
}


def detect_format(source: Arrays, where: str) -> SourceFormat:
    for fmt in FORMATS.values():
        if fmt.recognise(source):
            return fmt
    sample = ", ".join(sorted(source)[:5])
    raise WeightsError(f"{where}: not a checkpoint naming vidnas knows ({', '.join(FORMATS)}); its first keys: {sample}")


def check_against(converted: Arrays, target: dict[str, Any], where: str) -> None:
    """Every target tensor converted, with its shape, and nothing else (num_batches_tracked filled with 0)."""
    for key, value in target.items():
        if key not in converted:
            if key.endswith("num_batches_tracked"):
                converted[key] = np.zeros((), np.int64)
                continue
            raise WeightsError(f"{where}: the conversion left {key} {tuple(value.shape)} unfilled")
        if tuple(converted[key].shape) != tuple(value.shape):
            raise WeightsError(f"{where}: {key} converts to shape {tuple(converted[key].shape)} but the network has {tuple(value.shape)}")
    extra = [k for k in converted if k not in target]
    if extra:
        raise WeightsError(f"{where}: the conversion produced {extra[0]}, which the network does not have")


def resolve_format(source: Arrays, where: str, fmt: str | None = None) -> SourceFormat:
    """The source naming of a checkpoint: ``fmt`` (one of ``FORMATS``) when given, else detected from its keys."""
    if fmt is None:
        return detect_format(source, where)
    if fmt not in FORMATS:
        raise WeightsError(f"unknown source format {fmt!r}; known: {', '.join(FORMATS)}")
    return FORMATS[fmt]


def map_checkpoint(source: Arrays, target: dict[str, Any], where: str, source_format: SourceFormat, *, family: str) -> tuple[dict[str, np.ndarray], list[str]]:
    """A published checkpoint's arrays (``read_source``) in ``source_format`` mapped onto ``target`` (the state dict
    of a ``family`` network, as numpy arrays): (the converted arrays in the target's dtypes, every tensor checked;
    the source keys left unused, bookkeeping counters aside)."""
    if source_format.family != family:
        raise WeightsError(f"{where}: a {source_format.description} checkpoint cannot be converted for a {family} model")
    mapper = source_format.convert(source, target, where)
    converted = mapper.out
    check_against(converted, target, where)
    converted = {k: v.astype(target[k].dtype, copy=False) for k, v in converted.items()}
    bookkeeping = ("num_batches_tracked", "save_counter" + TF_SUFFIX)  # BN step counts, TF's checkpoint counter
    unused = sorted(k for k in source if k not in mapper.used and not k.endswith(bookkeeping))
    return converted, unused
