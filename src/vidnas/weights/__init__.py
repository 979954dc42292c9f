"""Trained networks as files: vidnas weights (safetensors + a JSON sidecar), published checkpoints converted into
them, the model card, and loading any of them into a built network.

``read_info(path)`` reads every form vidnas writes a trained network in — a weights file, a training checkpoint,
a ``vidnas train`` run folder, a search folder (its ``best``), a bundle — as one :class:`WeightsInfo`;
``load_trained(path)`` builds the network from its own genotype (or zoo entry) with the weights loaded and every
tensor checked; ``model_card(info)`` writes its Hugging Face-style model card. The file formats of published
checkpoints live here too: PyTorchVideo / PySlowFast ``.pyth`` and TensorFlow MoViNet checkpoints read without
unpickling anything (``read_source``) and mapped onto a network's parameter names (``map_checkpoint``); the zoo
drives a conversion for one of its models (``vidnas.zoo.convert``, ``vidnas weights convert``). ``vidnas.create_model(name_or_path)`` and every command's network argument
take them.
"""

from vidnas.weights._card import model_card
from vidnas.weights._convert import FORMATS, SourceFormat, check_against, detect_format, map_checkpoint, resolve_format
from vidnas.weights._files import (
    CLASSIFIER,
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
    "CLASSIFIER",
    "SourceFormat",
    "check_against",
    "map_checkpoint",
    "resolve_format",
    "LoadReport",
    "WeightsError",
    "WeightsInfo",
    "FOLDER_TAGS",
    "load_trained",
    "model_card",
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
