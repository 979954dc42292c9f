"""Streaming inference: causal networks run frame by frame with explicit, named state (MoViNet's Stream Buffer
for any causal genotype)."""

from vidnas.stream._context import NotStreamableError, StreamCall, current, streaming

__all__ = ["NotStreamableError", "StreamCall", "current", "streaming"]
