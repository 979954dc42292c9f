"""Multi-process training under torchrun: process-group set-up, data sharding, rank-0-only side effects."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def init_from_environment(device: torch.device) -> tuple[int, int]:
    """(rank, world size). Under torchrun (WORLD_SIZE > 1) joins the process group — NCCL on CUDA, gloo on
    CPU — once; otherwise (0, 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return dist.get_rank(), dist.get_world_size()


def shard(order: list[int], rank: int, world: int) -> list[int]:
    """This rank's share of an epoch's order; wraps around so every rank takes the same number of steps."""
    if world == 1:
        return order
    per_rank = -(-len(order) // world)
    padded = (order * (per_rank * world // max(len(order), 1) + 1))[: per_rank * world]
    return padded[rank::world]


def barrier(world: int) -> None:
    if world > 1 and dist.is_initialized():
        dist.barrier()
