"""Reading published checkpoints without unpickling anything a stranger could have written.

* PyTorch files (PyTorchVideo / PySlowFast ``.pyth``, MoViNet-pytorch state dicts): ``torch.load`` with
  ``weights_only=True``, whose unpickler admits tensors and plain containers only; a file that needs anything else
  is refused. The usual wrappers (``model_state``, ``state_dict``, ``model``) are unwrapped.
* safetensors files.
* TensorFlow object checkpoints (MoViNet): a directory, an ``.index`` file or its prefix, or a ``.tar.gz`` as
  published (read member by member in memory, nothing extracted) — parsed by :mod:`vidnas.weights._tfbundle`.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from vidnas.weights._files import WeightsError
from vidnas.weights._tfbundle import read_bundle

WRAPPERS = ("model_state", "state_dict", "model", "module")


def _tensors_from_dict(data: Any, path: Path) -> dict[str, np.ndarray]:  # noqa: ANN401
    import torch

    for _ in range(3):  # {"model_state": {...}} or {"state_dict": {"model": {...}}}
        if isinstance(data, dict) and not any(isinstance(v, torch.Tensor) for v in data.values()):
            inner = next((data[k] for k in WRAPPERS if isinstance(data.get(k), dict)), None)
            if inner is None:
                break
            data = inner
    if not isinstance(data, dict) or not any(isinstance(v, torch.Tensor) for v in data.values()):
        found = ", ".join(sorted(map(str, data))[:8]) if isinstance(data, dict) else type(data).__name__
        raise WeightsError(f"{path}: no state dict found (top-level entries: {found}; expected tensors, or one of {', '.join(WRAPPERS)})")
    return {str(k): v.detach().cpu().numpy() for k, v in data.items() if isinstance(v, torch.Tensor)}


def _read_torch(path: Path) -> dict[str, np.ndarray]:
    import torch

    try:
        data = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 - UnpicklingError, RuntimeError (not a zip), EOFError ...
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        raise WeightsError(f"{path}: not a PyTorch weights file that loads safely ({type(error).__name__}: {first[:300]}); "
                           "vidnas reads PyTorch files only with weights_only=True and refuses anything that would need "
                           "arbitrary unpickling") from None
    return _tensors_from_dict(data, path)


def _read_safetensors(path: Path) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    try:
        return load_file(str(path))
    except Exception as error:  # noqa: BLE001
        raise WeightsError(f"{path}: not a readable safetensors file ({type(error).__name__}: {error})") from None


def _safe_member(name: str, archive: Path) -> str:
    pure = PurePosixPath(name)
    if pure.is_absolute() or ".." in pure.parts:
        raise WeightsError(f"{archive}: refusing archive member {name!r} (an absolute path or one that climbs out with '..')")
    return pure.as_posix()


def _read_tar(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = tarfile.open(path, "r:*")
    except (tarfile.TarError, OSError) as error:
        raise WeightsError(f"{path}: not a readable tar archive ({error})") from None
    with archive:
        files: dict[str, tarfile.TarInfo] = {}
        for member in archive.getmembers():
            name = _safe_member(member.name, path)
            if member.isfile():
                files[name] = member
        indexes = sorted(n for n in files if n.endswith(".index"))
        if not indexes:
            raise WeightsError(f"{path}: no TensorFlow checkpoint (.index file) in the archive; it holds {', '.join(sorted(files)[:6])}")
        if len(indexes) > 1:  # the published archives hold one checkpoint; take the one the `checkpoint` file names, else the last
            indexes = indexes[-1:]
        prefix = indexes[0][: -len(".index")]

        def opener(suffix: str) -> io.BytesIO:
            member = files.get(prefix + suffix)
            if member is None:
                raise WeightsError(f"{path}: the archive lacks {prefix + suffix} (an incomplete checkpoint?)")
            handle = archive.extractfile(member)
            assert handle is not None
            return io.BytesIO(handle.read())

        return read_bundle(opener, f"{path}:{prefix}")


def _read_tf(path: Path) -> dict[str, np.ndarray]:
    if path.is_dir():
        indexes = sorted(path.glob("*.index"))
        if not indexes:
            raise WeightsError(f"{path}: no TensorFlow checkpoint (.index file) in this directory")
        prefix = Path(str(indexes[-1])[: -len(".index")])
    else:
        prefix = Path(str(path)[: -len(".index")]) if path.suffix == ".index" else path

    def opener(suffix: str) -> io.BufferedReader:
        file = Path(str(prefix) + suffix)
        if not file.is_file():
            raise WeightsError(f"{file}: missing (a TensorFlow checkpoint is an .index file plus its .data-* shards)")
        return file.open("rb")

    return read_bundle(opener, str(prefix))


def read_source(path: str | Path) -> tuple[dict[str, np.ndarray], str]:
    """The named arrays of a published checkpoint and the container they came in (torch, safetensors, tf)."""
    path = Path(path)
    index_like = Path(str(path) + ".index")
    if not path.exists() and not index_like.is_file():
        raise WeightsError(f"{path}: no such file or directory")
    if path.is_dir() or path.suffix == ".index" or (not path.exists() and index_like.is_file()):
        return _read_tf(path), "tf"
    with path.open("rb") as handle:
        head = handle.read(512)
    if head[:2] == b"\x1f\x8b" or (len(head) >= 262 and head[257:262] == b"ustar"):
        return _read_tar(path), "tf"
    if head[:2] == b"PK" or head[:1] == b"\x80":  # zip (torch >= 1.6) or a legacy pickle stream
        return _read_torch(path), "torch"
    if len(head) >= 9 and head[8:9] == b"{":  # safetensors: 8-byte header length, then JSON
        return _read_safetensors(path), "safetensors"
    raise WeightsError(f"{path}: not a known checkpoint format (expected a PyTorch .pyth/.pth zip, safetensors, a TensorFlow "
                       "checkpoint directory or .index, or a .tar.gz of one)")
