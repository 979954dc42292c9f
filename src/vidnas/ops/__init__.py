"""Op library: small modules that each know their causal form (no op in causal mode reads a future frame)."""

from vidnas.ops.activation import HardSigmoid, HardSwish, Swish, make_activation
from vidnas.ops.attention import ContextGating, SqueezeExcite, cumulative_mean, positional_encoding
from vidnas.ops.conv import Conv2Plus1d, Conv3d, ITGMConv3d, padded_conv3d
from vidnas.ops.fusion import WeightedFusion
from vidnas.ops.head import ClassifierHead
from vidnas.ops.pool import Pool3d
from vidnas.ops.repflow import RepresentationFlow
from vidnas.ops.residual import Branches, DropPath, Residual

__all__ = [
    "Branches",
    "ClassifierHead",
    "ContextGating",
    "Conv2Plus1d",
    "Conv3d",
    "DropPath",
    "HardSigmoid",
    "HardSwish",
    "ITGMConv3d",
    "Pool3d",
    "RepresentationFlow",
    "Residual",
    "SqueezeExcite",
    "Swish",
    "WeightedFusion",
    "cumulative_mean",
    "make_activation",
    "padded_conv3d",
    "positional_encoding",
]
