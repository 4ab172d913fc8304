"""Layerwise timesteps: time adapters between stages that run different numbers of steps.

A *time plan* gives one T per stage of a network (VGG-16: every conv; ResNet-19: the stem, every
residual block and the classifier). Where a stage's T differs from the T of the spikes that reach
it, a time adapter maps ``[T_in, N, ...]`` to ``[T_out, N, ...]`` at the stage's input (for a
residual block before conv1 and the shortcut, so the residual sum sees one T).

Our choice (the LD-SNN paper's joins are not public; the grouping follows MTT's released code):
steps are cut into contiguous groups with boundaries ``floor(j * T_big / T_small + 1/2)``, so
4 -> 3 gives {0}, {1, 2}, {3} and 4 -> 2 gives {0, 1}, {2, 3}.
- shrinking (T_out < T_in): each output step joins one group of input steps, by ``sum`` (small
  integers: the next layer sees spike counts) or ``or`` (1 if any step spiked: spikes stay binary;
  computed as 1 - prod(1 - s) so every step gets a gradient);
- growing (T_out > T_in): input step j is copied to every output step of group j.
"""
from __future__ import annotations

from math import ceil, log2
from typing import Sequence

import torch

JOINS = ("sum", "or")


class TimePlanError(ValueError):
    """A time plan that does not fit the network (one line, with the fix)."""


def groups(t_big: int, t_small: int) -> list[range]:
    """``t_small`` contiguous groups covering ``range(t_big)``: 4, 3 -> [0:1], [1:3], [3:4]."""
    if not 1 <= t_small <= t_big:
        raise ValueError(f"groups: need 1 <= t_small <= t_big, got {t_big}, {t_small}")
    b = [int(j * t_big / t_small + 0.5) for j in range(t_small + 1)]
    return [range(b[j], b[j + 1]) for j in range(t_small)]


def max_group(t_in: int, t_out: int) -> int:
    """Largest number of input steps joined into one output step (1 when not shrinking)."""
    return max(len(g) for g in groups(t_in, t_out)) if t_out < t_in else 1


def bit_planes(t_in: int, t_out: int, join: str) -> int:
    """Bits per adapted input value: ceil(log2(g + 1)) for a ``sum`` of up to g spikes, else 1."""
    return ceil(log2(max_group(t_in, t_out) + 1)) if join == "sum" else 1


def adapt(x: torch.Tensor, t_out: int, join: str = "sum") -> torch.Tensor:
    """``x [T_in, N, ...]`` -> ``[t_out, N, ...]``; returns ``x`` itself when T_in == t_out."""
    t_in = x.shape[0]
    if t_out == t_in:
        return x
    if join not in JOINS:
        raise TimePlanError(f"time join must be one of {JOINS}, got {join!r}")
    if t_out > t_in:
        idx = [j for j, g in enumerate(groups(t_out, t_in)) for _ in g]
        return x[idx]
    parts = []
    for g in groups(t_in, t_out):
        chunk = x[g.start:g.stop]
        parts.append(chunk.sum(0) if join == "sum" else 1 - (1 - chunk).prod(0))
    return torch.stack(parts)


def check(plan: Sequence[int] | None, n_stages: int, what: str = "model.time_plan") -> tuple[int, ...] | None:
    """A validated plan as a tuple (None stays None); TimePlanError names the fix."""
    if plan is None:
        return None
    plan = tuple(plan)
    if len(plan) != n_stages:
        raise TimePlanError(f"{what} has {len(plan)} value(s) but the network has {n_stages} stages; "
                            f"give one T per stage (or none for a uniform T)")
    bad = [t for t in plan if isinstance(t, bool) or not isinstance(t, int) or t < 1]
    if bad:
        raise TimePlanError(f"{what}: every T must be an integer >= 1, got {bad[0]!r}")
    return plan


def parse(text: str) -> tuple[int, ...]:
    """'4,4,2' -> (4, 4, 2) (CLI and ``--set`` syntax)."""
    try:
        return tuple(int(v) for v in str(text).replace(" ", "").strip("()[]").split(",") if v)
    except ValueError:
        raise TimePlanError(f"time plan must be comma-separated integers like 4,4,2, got {text!r}") from None


class TimePlanned:
    """Mixin of the networks: ``time_plan`` (None = uniform ``timesteps``), ``time_join``, stages.

    A subclass lists its stages in ``stage_modules()`` (one module list per stage, in order); the
    weights of a stage's Conv2d / Linear modules run at that stage's T.
    """

    time_plan: tuple[int, ...] | None = None
    time_join: str = "sum"

    def stage_modules(self) -> list[list[torch.nn.Module]]:
        raise NotImplementedError

    @property
    def n_stages(self) -> int:
        return len(self.stage_modules())

    def set_time_plan(self, plan: Sequence[int] | None, join: str | None = None) -> None:
        """Validate and set the plan (None = uniform ``timesteps``) and, if given, the join."""
        join = self.time_join if join is None else join
        if join not in JOINS:
            raise TimePlanError(f"model.time_join must be one of {JOINS}, got {join!r}")
        self.time_plan, self.time_join = check(plan, self.n_stages), join

    def plan(self) -> tuple[int, ...]:
        """The T of every stage (uniform ``timesteps`` when no plan is set)."""
        return self.time_plan if self.time_plan is not None else (self.timesteps,) * self.n_stages

    def layer_stages(self) -> dict[str, int]:
        """{weight name: stage index} for every Conv2d / Linear weight."""
        ids = {id(m): s for s, mods in enumerate(self.stage_modules()) for top in mods for m in top.modules()}
        return {f"{n}.weight": ids[id(m)] for n, m in self.named_modules()
                if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear)) and id(m) in ids}

    def layer_timesteps(self) -> dict[str, int]:
        """{weight name: T of its stage}: what ``hardware.report(timesteps=...)`` takes."""
        plan = self.plan()
        return {n: plan[s] for n, s in self.layer_stages().items()}

    def entry_layers(self) -> set[str]:
        """Weights that read a stage's (possibly adapted) input; the others read binary spikes."""
        raise NotImplementedError

    def layer_planes(self) -> dict[str, int]:
        """{weight name: bit-planes of its input}: ceil(log2(g + 1)) after a ``sum`` shrink, else 1."""
        plan, entry = self.plan(), self.entry_layers()
        return {n: bit_planes(plan[s - 1], plan[s], self.time_join) if s and n in entry else 1
                for n, s in self.layer_stages().items()}
