"""Classifier head: pool each source's features, average the sources, dense layers, dropout, logits."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vidnas.ops.activation import make_activation
from vidnas.ops._state import NotStreamableError, current, running_sum
from vidnas.ops.pool import frame_means


class ClassifierHead(nn.Module):
    """See ``vidnas.genotype.Head``. Input: a list of (B, C, T, H, W) feature maps with one width."""

    def __init__(
        self,
        in_channels: int,
        num_classes: int,
        hidden: list[int] | tuple[int, ...] = (),
        hidden_bias: bool = True,
        act: str = "relu",
        dropout: float = 0.0,
        pool: str = "avg",
        temporal_window: int | None = None,
    ):
        super().__init__()
        self.pool_mode, self.temporal_window = pool, temporal_window
        layers: list[nn.Module] = []
        width = in_channels
        for size in hidden:
            layers += [nn.Linear(width, size, bias=hidden_bias), make_activation(act)]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.num_features = width
        self.fc = nn.Linear(width, num_classes)

    def pool(self, features: list[torch.Tensor]) -> torch.Tensor:
        """(B, C) pooled features, or (B, T, C) per-frame features for the soft max-over-time head.

        Streaming: the average over every frame seen so far (a running sum and count in the state).
        """
        if current() is not None:
            return self._stream_pool(features)
        pooled = []
        for x in features:
            if self.pool_mode == "soft_max_time":
                pooled.append(frame_means(x).flatten(2).transpose(1, 2))
            elif self.temporal_window is not None:
                window = (min(int(x.shape[2]), self.temporal_window), int(x.shape[3]), int(x.shape[4]))
                pooled.append(F.avg_pool3d(x, window, stride=1).mean(dim=(2, 3, 4)))
            else:
                pooled.append(x.mean(dim=(2, 3, 4)))
        out = pooled[0]
        for p in pooled[1:]:
            out = out + p
        return out / len(pooled) if len(pooled) > 1 else out

    def _stream_pool(self, features: list[torch.Tensor]) -> torch.Tensor:
        name = getattr(self, "stream_name", "head")
        if self.pool_mode != "avg" or self.temporal_window is not None:
            raise NotStreamableError(f"{name}: a '{self.pool_mode}' head with temporal window {self.temporal_window} needs the whole clip")
        per_frame = sum(frame_means(x) for x in features) / len(features)
        sums, counts, _ = running_sum(self, per_frame)
        return (sums[:, :, -1] / counts[:, :, -1]).flatten(1)

    def reset(self, num_classes: int, init_std: float = 0.01) -> None:
        """A fresh classifier for ``num_classes`` classes, weights ~ N(0, init_std²), bias 0."""
        old = self.fc
        self.fc = nn.Linear(self.num_features, num_classes).to(device=old.weight.device, dtype=old.weight.dtype)
        nn.init.normal_(self.fc.weight, 0.0, init_std)
        nn.init.zeros_(self.fc.bias)

    def forward(self, features: list[torch.Tensor], pre_logits: bool = False) -> torch.Tensor:
        z = self.dropout(self.hidden(self.pool(features)))
        if pre_logits:
            return z
        logits = self.fc(z)
        if self.pool_mode == "soft_max_time":
            weights = torch.softmax(logits / math.sqrt(logits.shape[1]), dim=1)
            logits = (weights * logits).sum(dim=1)
        return logits
