"""Two runs side by side on one thread each against one run on every thread (``uticket_lib.parallel``).

    .venv/bin/python ci/bench_parallel.py [--images 3200] [--rounds 2] [--out PATH]

Per arch, at the cpu profile (its batch, channels-last, bf16 where native): ``training.fit`` on the
real Fashion-MNIST training split, ``--images`` images after a warm-up of 10 batches, in fresh
processes; "alone" is one process on all of torch's threads, "pair" two processes at once on
``cores // 2`` threads each (``parallel.plan``'s split). ``pair_over_alone`` is the images/s of both
together over the one's; rounds alternate the two layouts, so a machine whose speed drifts affects
both. Writes ci/bench_results/parallel.json with the machine and its load.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from uticket_lib import machine, parallel  # noqa: E402

CHILD = """
import sys, torch
from torch.utils.data import Subset
from uticket_lib import profiles, rundata, training
from uticket_lib.runstore import build_model
arch, n, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
cfg = profiles.get("cpu", arch, "fmnist", "lth")
train = rundata.load_datasets(cfg)[0]
model = build_model(cfg)
cpu = torch.device("cpu")
training.fit(model, Subset(train, range(10 * cfg.train.batch_size)), cfg.train, 1, 0, None, cpu, progress=False)
stats = training.fit(model, Subset(train, range(n)), cfg.train, 1, 1, None, cpu, progress=False)[0]
print(stats.images_per_s)
"""


def _measure(arch: str, images: int, procs: int, threads: int) -> float:
    """Images/s of ``procs`` processes training at once (summed)."""
    env = {**os.environ, "TQDM_DISABLE": "1"}
    ps = [subprocess.Popen([sys.executable, "-c", CHILD, arch, str(images), str(threads)], cwd=ROOT,
                           stdout=subprocess.PIPE, text=True, env=env) for _ in range(procs)]
    outs = [p.communicate()[0] for p in ps]
    if any(p.returncode for p in ps):
        raise SystemExit(f"a benchmark process failed ({arch}, {procs} x {threads} threads)")
    return sum(float(o.strip().splitlines()[-1]) for o in outs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=3200)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=os.path.join(ROOT, "ci", "bench_results", "parallel.json"))
    args = ap.parse_args()
    cores = parallel.cores()
    threads = max(1, cores // 2)
    load_before = os.getloadavg()
    results = {}
    for arch in ("vgg16", "resnet19"):
        alone, pair = [], []
        for _ in range(args.rounds):
            alone.append(_measure(arch, args.images, 1, cores))
            pair.append(_measure(arch, args.images, 2, threads))
            print(f"{arch}: alone {alone[-1]:.0f} images/s on {cores} threads, "
                  f"pair {pair[-1]:.0f} on 2 x {threads}", flush=True)
        results[arch] = {"alone_images_per_s": alone, "pair_images_per_s": pair,
                         "pair_over_alone": statistics.median(pair) / statistics.median(alone)}
    out = {"what": "training images/s of two runs side by side (2 processes, cores // 2 threads each) "
                   "over one run on every thread (ci/bench_parallel.py; training.fit on real data, "
                   "cpu profile, fresh processes, rounds alternating)",
           "date": datetime.date.today().isoformat(), "images": args.images, "cores": cores,
           "threads_per_process_in_pair": threads, "results": results,
           "machine": {**machine.describe(), "loadavg_before": load_before,
                       "loadavg_after": os.getloadavg()}}
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)
    print(json.dumps({a: round(r["pair_over_alone"], 3) for a, r in results.items()}))


if __name__ == "__main__":
    main()
