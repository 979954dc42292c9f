"""Streaming inference: causal networks run frame by frame with explicit, named state (MoViNet's Stream Buffer
for any causal genotype)."""

from vidnas.ops._state import NotStreamableError, StreamCall, current, streaming
from vidnas.stream._multi import MultiStream, StreamStats

__all__ = ["MultiStream", "NotStreamableError", "StreamCall", "StreamStats", "current", "streaming"]
