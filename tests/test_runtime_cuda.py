"""The GPU runtime (``vidnas.runtime.CudaRuntime``): its precision, state buffers and multi-stream use are
checked on the CPU (the same code without CUDA graphs, autocast in bf16/fp16); the graphs themselves where torch
sees a GPU."""

from __future__ import annotations

import pytest
import torch

from vidnas import create_model
from vidnas.runtime import GPU_RUNTIMES, REDUCED_TOLERANCE, TOLERANCE, CudaRuntime, RuntimeUnavailable, make_runtime, select_runtime
from vidnas.stream import MultiStream


def _relative(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def stream_model() -> torch.nn.Module:
    return create_model("movinet_a0_stream", num_classes=5, seed=0).eval()


@pytest.fixture(scope="module")
def clip() -> torch.Tensor:
    return torch.rand(2, 3, 5, 32, 32, generator=torch.Generator().manual_seed(0))


def _eager_steps(model: torch.nn.Module, clip: torch.Tensor) -> list[torch.Tensor]:
    state, out = model.init_state(clip.shape[0], clip.shape[-1]), []
    with torch.no_grad():
        for t in range(clip.shape[2]):
            logits, state = model.stream_step(clip[:, :, t : t + 1], state)
            out.append(logits)
    return out


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_precision_is_held_to_its_tolerance_on_clips_and_steps(stream_model: torch.nn.Module, clip: torch.Tensor, dtype: torch.dtype) -> None:
    runtime = CudaRuntime(stream_model, dtype=dtype, device="cpu", graphs=False)
    assert runtime.tolerance == REDUCED_TOLERANCE.get(dtype, TOLERANCE)
    with torch.no_grad():
        expected_clip = stream_model(clip)
    got = runtime(clip)
    assert got.dtype == torch.float32 and got.shape == (2, 5)
    error = _relative(got, expected_clip)
    assert error <= runtime.tolerance
    if dtype != torch.float32:
        assert error > 1e-6  # it really ran in half precision
    state = runtime.init_state(2, 32)
    assert all(v.dtype in (torch.float32, torch.int64, torch.long) for v in state.values())  # the state stays fp32
    for t, expected in enumerate(_eager_steps(stream_model, clip)):
        logits, state = runtime.stream_step(clip[:, :, t : t + 1], state)
        assert _relative(logits, expected) <= runtime.tolerance, t
        assert all(v.dtype != dtype or dtype == torch.float32 for v in state.values())


def test_steps_chain_through_three_sets_and_the_last_state_stays_valid(stream_model: torch.nn.Module, clip: torch.Tensor) -> None:
    runtime = CudaRuntime(stream_model, device="cpu", graphs=False)
    fresh = runtime.init_state(2, 32)
    kept = {k: v.clone() for k, v in fresh.items()}
    _, first = runtime.stream_step(clip[:, :, :1], fresh)
    assert all(torch.equal(fresh[k], kept[k]) for k in fresh)  # a state from elsewhere is read, never written
    held = {k: v.clone() for k, v in first.items()}
    _, second = runtime.stream_step(clip[:, :, 1:2], first)
    assert all(torch.equal(first[k], held[k]) for k in first)  # the state returned last stays valid one more step
    _, third = runtime.stream_step(clip[:, :, 2:3], second)
    _, fourth = runtime.stream_step(clip[:, :, 3:4], third)
    key = sorted(first)[0]
    pointers = [s[key].data_ptr() for s in (first, second, third, fourth)]
    assert len(set(pointers[:3])) == 3 and pointers[3] == pointers[0]  # three static sets, reused in turn, no allocation
    # the chained steps equal the eager ones
    expected = _eager_steps(stream_model, clip[:, :, :4])[-1]
    state = runtime.init_state(2, 32)
    for t in range(4):
        logits, state = runtime.stream_step(clip[:, :, t : t + 1], state)
    assert _relative(logits, expected) <= TOLERANCE


def test_many_streams_join_and_leave_on_it(stream_model: torch.nn.Module, clip: torch.Tensor) -> None:
    runtime = CudaRuntime(stream_model, dtype=torch.bfloat16, device="cpu", graphs=False)
    runner = MultiStream(runtime, size=32)
    runner.join("a")
    runner.join("b")
    alone = _eager_steps(stream_model, clip[1:2])
    for t in range(3):
        out = runner.step({"a": clip[0, :, t], "b": clip[1, :, t]})
        assert _relative(out["b"], alone[t][0]) <= runtime.tolerance
    runner.leave("a")
    for t in range(3, 5):
        out = runner.step({"b": clip[1, :, t]})
        assert _relative(out["b"], alone[t][0]) <= runtime.tolerance


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_without_a_gpu_the_cuda_runtimes_are_unavailable_with_the_reason(stream_model: torch.nn.Module) -> None:
    for name in GPU_RUNTIMES:
        with pytest.raises(RuntimeUnavailable, match="no CUDA device"):
            make_runtime(name, stream_model, mode="stream", size=32)
    with pytest.raises(RuntimeUnavailable, match="cuda-fp16: no CUDA device"):
        select_runtime(stream_model, mode="stream", runtime="cuda-fp16", size=32, repeats=1)
    auto = select_runtime(stream_model, mode="stream", size=32, repeats=1, threads=1)
    assert not set(GPU_RUNTIMES) & (set(auto.timings_ms) | set(auto.unavailable))  # auto does not list what cannot exist here


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", GPU_RUNTIMES)
def test_cuda_graphs_replay_the_step_and_the_clip(stream_model: torch.nn.Module, clip: torch.Tensor, name: str) -> None:
    runtime = make_runtime(name, stream_model, mode="stream", size=32)
    assert runtime.graphs
    state = runtime.init_state(2, 32)
    for t, expected in enumerate(_eager_steps(stream_model, clip)):
        logits, state = runtime.stream_step(clip[:, :, t : t + 1], state)
        assert _relative(logits, expected) <= runtime.tolerance, (name, t)
    assert not runtime.graph_failures, runtime.graph_failures
    with torch.no_grad():
        expected = stream_model(clip)
    assert _relative(runtime(clip), expected) <= runtime.tolerance
    assert _relative(runtime(clip), expected) <= runtime.tolerance  # the replay of the captured clip graph
    assert not runtime.graph_failures, runtime.graph_failures


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_network_already_on_the_gpu_is_selected_for_not_broken(clip: torch.Tensor) -> None:
    model = create_model("x3d_xs", num_classes=4, seed=0).eval().cuda()  # as evaluate(device="cuda", runtime="auto") hands it over
    selection = select_runtime(model, mode="clip", batch=2, frames=4, size=32, repeats=2)
    assert "onnxruntime" in selection.unavailable and set(GPU_RUNTIMES) <= set(selection.timings_ms)
    with torch.no_grad():
        expected = model(clip[:, :, :4].cuda()).cpu()
    assert _relative(selection.runtime(clip[:, :, :4].cuda()).cpu(), expected) <= selection.runtime.tolerance
