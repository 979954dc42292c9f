"""Optical flow of a clip with OpenCV (DIS by default, or Farneback), as a 2-channel clip.

Flow (u, v) between frame t and t+1 is the displacement in pixels, u to the right and v downwards; the
last flow is repeated so the flow clip has as many frames as the RGB clip. Values are clipped to ±``bound``
pixels and divided by ``bound``, so they lie in [-1, 1].
"""

from __future__ import annotations

import numpy as np

from vidnas._imports import optional_import

METHODS = ("dis", "farneback")


def optical_flow(frames: np.ndarray, method: str = "dis", bound: float = 20.0) -> np.ndarray:
    """float32 T×H×W×2 flow of uint8 T×H×W×3 RGB frames (see the module docstring)."""
    if method not in METHODS:
        raise ValueError(f"flow method must be one of {METHODS}, got {method!r}")
    cv2 = optional_import("cv2", "optical flow")
    gray = [cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY) for frame in frames]
    if len(gray) < 2:
        return np.zeros(frames.shape[:3] + (2,), dtype=np.float32)
    if method == "dis":
        engine = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flows = [engine.calc(a, b, None) for a, b in zip(gray, gray[1:])]
    else:
        flows = [cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0) for a, b in zip(gray, gray[1:])]
    flows.append(flows[-1])
    return (np.clip(np.stack(flows), -bound, bound) / bound).astype(np.float32)
