"""Video data: sources in common layouts, PyAV decoding, clip sampling and transforms, a decoded-clip cache,
optical flow, and the built-in synthetic benchmark data set."""

from vidnas.data._cache import CacheError, ClipCache, build_cache, data_home, folder_lock, source_cache, write_clip_cache
from vidnas.data._clips import dense_indices, eval_transforms, sampling_step, train_transform, uniform_indices, view_indices
from vidnas.data._dataset import NORMALIZATION, CachedClips, VideoClips
from vidnas.data._decode import VideoError, VideoInfo, decode_frames, probe, verify
from vidnas.data._flow import optical_flow
from vidnas.data._sources import Source, SourceError, VideoItem, from_folder, from_list, load_source, read_class_list, split_source, write_source
from vidnas.data._synth import class_names as synth_class_names
from vidnas.data._synth import builtin_dataset, builtin_store, synth_clip, synthesize, write_mp4

__all__ = [
    "NORMALIZATION",
    "builtin_dataset",
    "builtin_store",
    "data_home",
    "CacheError",
    "CachedClips",
    "ClipCache",
    "VideoClips",
    "build_cache",
    "folder_lock",
    "source_cache",
    "write_clip_cache",
    "dense_indices",
    "eval_transforms",
    "optical_flow",
    "sampling_step",
    "train_transform",
    "uniform_indices",
    "verify",
    "view_indices",
    "Source",
    "SourceError",
    "VideoError",
    "VideoInfo",
    "VideoItem",
    "decode_frames",
    "from_folder",
    "from_list",
    "load_source",
    "split_source",
    "write_source",
    "probe",
    "read_class_list",
    "synth_class_names",
    "synth_clip",
    "synthesize",
    "write_mp4",
]
