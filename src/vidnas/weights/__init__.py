"""Published weights: convert X3D and MoViNet checkpoints into vidnas weight files, load them, name the classes.

``vidnas weights convert SRC --model NAME --out FILE.safetensors`` (or :func:`convert`) reads a PyTorchVideo /
PySlowFast ``.pyth`` or a TensorFlow MoViNet checkpoint without unpickling anything, maps it onto the zoo
network's parameter names, checks every tensor and writes safetensors plus a JSON sidecar (source, format, label
set, preprocessing). ``vidnas.create_model(name, weights=FILE)`` and ``--weights FILE`` load it.
"""

from vidnas.weights._card import model_card
from vidnas.weights._convert import FORMATS, Conversion, convert, detect_format
from vidnas.weights._files import (
    LABEL_SETS,
    LoadReport,
    FOLDER_TAGS,
    WeightsError,
    WeightsInfo,
    labels,
    load_trained,
    load_weights,
    read_info,
    read_weights,
    save_weights,
)
from vidnas.weights._sources import read_source
from vidnas.weights._tfbundle import read_bundle, write_bundle

__all__ = [
    "FORMATS",
    "LABEL_SETS",
    "Conversion",
    "LoadReport",
    "WeightsError",
    "WeightsInfo",
    "FOLDER_TAGS",
    "load_trained",
    "model_card",
    "convert",
    "detect_format",
    "labels",
    "load_weights",
    "read_bundle",
    "read_info",
    "read_source",
    "read_weights",
    "save_weights",
    "write_bundle",
]
