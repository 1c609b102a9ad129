"""Training on several processes with PyTorch's own engine: torchrun starts them, DDP keeps them in step.

``noisefree train --nproc N ...`` relaunches itself as ``python -m torch.distributed.run --standalone
--nproc_per_node N -m noisefree train ...`` (and ``torchrun -m noisefree train ...`` works directly, on one
machine or many with torchrun's own rendezvous options). Inside, :func:`from_env` joins the process group
(NCCL on CUDA, gloo on the CPU). Each process draws its own crops and noise from its own seeded generator;
DistributedDataParallel averages the gradients, so every process holds the same weights; only rank 0 writes
the run folder, logs and the report. The global batch is ``batch_size x nproc``; the learning rate is used as
given (``config.yaml`` records both).
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Dist", "from_env", "launch", "under_torchrun"]


@dataclass(frozen=True)
class Dist:
    """This process's place: ``rank`` of ``world`` processes, ``local_rank`` on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world > 1

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, obj) -> list:
        """Every rank's ``obj``, in rank order, on every rank."""
        if not self.active:
            return [obj]
        boxes = [None] * self.world
        dist.all_gather_object(boxes, obj)
        return boxes

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of a tensor over all ranks."""
        if not self.active:
            return value
        value = value.clone()
        dist.all_reduce(value)
        return value / self.world

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def close(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()


def under_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def from_env() -> Dist:
    """Join the process group torchrun set up (a no-op for a single process)."""
    if not under_torchrun():
        return Dist()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def launch(nproc: int, args: list[str]) -> int:
    """Run ``noisefree ARGS`` in ``nproc`` processes on this machine under torchrun; returns its exit code.
    ``--nproc`` itself is left out (torchrun's parser would take it for its own ``--nproc-per-node``; inside,
    the process count comes from torchrun)."""
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
               "-m", "noisefree", *kept]
    return subprocess.call(command)
