"""Subprocess that measures the CPU peak resident memory of one forward pass (see measure_peak_memory)."""

from __future__ import annotations

import gc
import json
import re
import resource
import sys


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            match = re.search(rf"^{field}:\s+(\d+) kB", handle.read(), re.MULTILINE)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def _reset_high_water_mark() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def main() -> None:
    request = json.loads(sys.stdin.read())
    import torch

    from vidnas.network import build_model

    if request.get("threads"):
        torch.set_num_threads(int(request["threads"]))
    model = build_model(request["genotype"], seed=0).eval()
    inputs = model.example_input(int(request["batch_size"]))
    if _status_kib("VmRSS") is not None and _reset_high_water_mark():
        with torch.inference_mode():
            model(inputs)  # first pass: one-time allocations (kernels, thread pools) are not the network's cost
        gc.collect()
        before = _status_kib("VmRSS") or 0
        _reset_high_water_mark()
        with torch.inference_mode():
            model(inputs)
        peak = _status_kib("VmHWM") or before
        method = "cpu_rss_high_water_mark"
    else:  # no procfs: ru_maxrss is a lifetime peak, so measure the first pass; includes one-time allocations
        gc.collect()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with torch.inference_mode():
            model(inputs)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        method = "cpu_ru_maxrss_upper_bound"
    print(json.dumps({"forward_bytes": max(peak - before, 0) * 1024, "method": method}))


if __name__ == "__main__":
    main()
