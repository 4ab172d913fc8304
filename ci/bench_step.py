"""Where a training step's time goes, at the cpu profile, here (issue 23: "measure the rest of the step").

    .venv/bin/python ci/bench_step.py [--arch vgg16,resnet19] [--steps 30] [--out ci/bench_results/step_breakdown.json]

Runs ``training.fit`` as the book does (real Fashion-MNIST through the profile's loader, the profile's
batch, precision and channels-last layout, a 98 %-sparse mask held as the tickets hold theirs) under
``torch.profiler`` and splits the wall time of ``--steps`` steps (after 5 warm-up steps) into parts by
the profiler's event tree: the outermost event whose name matches a part counts whole for it
(``PARTS``, first match wins), so a convolution's backward counts as "conv" and the LIF neuron's own
adds and thresholds as "lif". Time in no matching event is "other" (Python, autograd bookkeeping,
the scheduler). The profiler adds its own overhead per op, so shares are what to read, not the
step time; ``ci/bench_train.py`` gives the speeds.

Writes per arch: step milliseconds under the profiler, and per part its milliseconds per step and
share, with the machine it ran on.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# (part, substrings of a lower-cased event name); the first part that matches an event wins
PARTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("data", ("dataloader", "__next__")),
    ("optimizer", ("optimizer.", "adamw", "zero_grad")),
    ("masks", ("uticket.masks",)),
    ("lif", ("lif",)),
    ("conv", ("conv",)),
    ("batch norm", ("batch_norm", "batchnorm")),
    ("pooling", ("pool", "aten::mean", "meanbackward")),
    ("linear", ("linear", "addmm", "aten::mm", "mmbackward")),
    ("loss", ("cross_entropy", "log_softmax", "nll_loss", "logsoftmax", "nllloss")),
    ("layout and casts", ("contiguous", "aten::to", "aten::_to_copy", "aten::copy_", "tobackward", "clone")),
)


def part_of(name: str) -> str | None:
    low = name.lower()
    return next((part for part, keys in PARTS if any(k in low for k in keys)), None)


def split(events) -> dict[str, float]:
    """{part: microseconds} from a profiler's events: the outermost event matching a part counts
    whole; an unmatched event's own time (total less its children's) is "other"."""
    out: dict[str, float] = {}

    def walk(e) -> None:
        part = part_of(e.name)
        if part is not None:
            out[part] = out.get(part, 0.0) + e.cpu_time_total
            return
        kids = e.cpu_children
        out["other"] = out.get("other", 0.0) + e.cpu_time_total - sum(k.cpu_time_total for k in kids)
        for k in kids:
            walk(k)

    for e in events:
        if e.cpu_parent is None:
            walk(e)
    return out


def measure(arch: str, steps: int) -> dict:
    import time

    import torch
    from torch.profiler import ProfilerActivity, profile, record_function, schedule
    from torch.utils.data import Subset

    from bench_train import sparse_masks   # the same seeded random masks as the speed benchmark

    from uticket_lib import profiles, rundata, runstore, training
    from uticket_lib.pruning import mask as masklib

    cfg = profiles.get("cpu", arch, "fmnist")
    train = rundata.load_datasets(cfg)[0]
    model = runstore.build_model(cfg)
    masks = sparse_masks(model, 0.98)
    masklib.apply(model, masks)
    real_step = training._mask_step

    def labelled_step(*a, **k):      # the per-step masking of gradients and weights, named for the profiler
        with record_function("uticket.masks"):
            return real_step(*a, **k)

    warm, batch = 5, cfg.train.batch_size
    images = batch * (warm + steps)
    training._mask_step = labelled_step
    try:
        seen: list = []   # the active window's events, taken when the window closes
        with profile(activities=[ProfilerActivity.CPU], record_shapes=False,
                     schedule=schedule(wait=0, warmup=warm, active=steps, repeat=1),
                     on_trace_ready=lambda p: seen.extend(p.events())) as prof:
            t0 = time.perf_counter()
            training.fit(model, Subset(train, range(images)), cfg.train, 1, 1, masks, torch.device("cpu"),
                         progress=False, on_images=lambda n: prof.step())
            wall = time.perf_counter() - t0
    finally:
        training._mask_step = real_step
    parts = split(seen)
    total = sum(parts.values())
    return {"batch": batch, "amp": bool(cfg.train.amp), "channels_last": cfg.train.channels_last,
            "steps": steps, "profiled_step_ms": total / steps / 1e3,
            "wall_seconds_all_steps": round(wall, 2),
            "parts": {k: {"ms_per_step": v / steps / 1e3, "share": v / total}
                      for k, v in sorted(parts.items(), key=lambda kv: -kv[1])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vgg16,resnet19")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "bench_results" / "step_breakdown.json"))
    a = ap.parse_args()
    import datetime

    from uticket_lib import io, machine
    rec = {"what": "where a cpu-profile training step's time goes (ci/bench_step.py: training.fit on real data "
                   "under torch.profiler; shares of the profiled time, the profiler's own overhead included)",
           "date": datetime.date.today().isoformat(), "machine": {**machine.describe(),
                                                                  "loadavg_before": os.getloadavg()},
           "results": {}}
    for arch in a.arch.split(","):
        r = measure(arch, a.steps)
        rec["results"][arch] = r
        print(f"{arch}: {r['profiled_step_ms']:.0f} ms per profiled step (batch {r['batch']}, amp {r['amp']}): " +
              ", ".join(f"{k} {100 * v['share']:.0f} %" for k, v in r["parts"].items()))
    rec["machine"]["loadavg_after"] = os.getloadavg()
    io.save_json(rec, a.out)


if __name__ == "__main__":
    main()
