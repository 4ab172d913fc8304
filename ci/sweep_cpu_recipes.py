"""Which cpu-profile recipe buys the most accuracy per CPU minute? (issue 9, part 3)

Runs candidate recipes (overrides of the ``cpu`` profile: training-set size, epochs, levels) for
VGG-16 and ResNet-19, LTH and u-Ticket, in parallel processes on whatever device is given (a GPU
answers in minutes what 2 CPU cores answer in hours; accuracy does not depend on the device beyond
float non-determinism). Each recipe is scored on a VALIDATION split: the last ``--val`` images of
the seeded permutation of the training set, disjoint from every training subset the recipes draw
(``data.dataset(..., subset=n)`` takes the first n of the same permutation). The test set is
evaluated too, for the record only; no choice is made on it.

CPU cost is estimated, not measured here: images trained x T / 4 divided by the model-only
training speed recorded in ``ci/bench_results/train.json`` (2 cores), which is stated in the output.

    python ci/sweep_cpu_recipes.py --out sweep.json --device cuda --workers 14
    python ci/sweep_cpu_recipes.py --out /tmp/s.json --device cpu --quick   # a 1-minute check
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RECIPES: dict[str, dict] = {
    "cpu-2026-11": {},
    "s8k": {"data.train_subset": 8000},
    "s16k-e1": {"data.train_subset": 16000, "train.epochs_dense": 3, "train.epochs": 1},
    "s16k": {"data.train_subset": 16000},
    "s8k-e4": {"data.train_subset": 8000, "train.epochs_dense": 6, "train.epochs": 4},
    "s16k-l5": {"data.train_subset": 16000, "prune.levels": 5, "prune.fraction": 0.62},
    "s30k-e1": {"data.train_subset": 30000, "train.epochs_dense": 2, "train.epochs": 1},
    "s8k-rw2": {"data.train_subset": 8000, "prune.rewind_epoch": 2},
}
# Dense-only probes (level 0 alone): is SGD at lr 0.1 the bottleneck of short budgets?
PROBES: dict[str, dict] = {
    "sgd-0.1": {},
    "sgd-0.05": {"train.lr": 0.05},
    "sgd-0.02": {"train.lr": 0.02},
    "sgd-0.1-b128": {"train.batch_size": 128},
    "adam-1e-3": {"train.optimizer": "adam", "train.lr": 1e-3},
    "adam-3e-3": {"train.optimizer": "adam", "train.lr": 3e-3},
    "adam-3e-4": {"train.optimizer": "adam", "train.lr": 3e-4},
}
PROBE_BASE = {"data.train_subset": 8000, "train.epochs_dense": 3, "prune.levels": 1}
QUICK = {"model.width": 0.125, "data.train_subset": 256, "train.epochs_dense": 1, "train.epochs": 1,
         "prune.levels": 2, "prune.rewind_epoch": 1}


def images_trained(cfg) -> int:
    """Training images processed by one method's run (level 0 counted once per method pair)."""
    n = cfg.data.train_subset or 60000
    return n * cfg.train.epochs_dense, n * cfg.train.epochs * (cfg.prune.levels - 1)


def job(args: tuple) -> dict:
    name, arch, overrides, device, val_n, root = args
    import torch
    torch.set_num_threads(1)
    from torch.utils.data import Subset
    from uticket_lib import data as datalib, lottery, profiles, runstore, validation
    from uticket_lib.training import eval_loader, evaluate
    t0 = time.time()
    row = {"recipe": name, "arch": arch, "overrides": overrides}
    try:
        full = datalib.dataset("fmnist", train=True, augment=False)
        order = torch.randperm(len(full), generator=torch.Generator().manual_seed(0))
        val = Subset(full, order[-val_n:].sort().values.tolist())
        ov = {**overrides, "train.device": device, "data.test_subset": None}
        images = 0
        for method in (("lth",) if overrides.get("prune.levels") == 1 else validation.METHODS):
            cfg = profiles.get("cpu", arch, "fmnist", method, ov)
            dense, rest = images_trained(cfg)
            images += rest + (dense if method == "lth" else 0)
            out = lottery.run(cfg, root=Path(root), progress=False)
            lv = runstore.levels(out)
            model = runstore.load_model(out, lv[-1]["level"]).to(device)
            v = evaluate(model, eval_loader(val, device=device), torch.device(device))
            row[method] = {"final_level": lv[-1]["level"], "sparsity": lv[-1]["sparsity"],
                           "val_accuracy": v["accuracy"], "test_accuracy": lv[-1]["test_accuracy"],
                           "test_images": lv[-1]["test_images"],
                           "test_by_level": [x["test_accuracy"] for x in lv],
                           "dense_test_accuracy": lv[0]["test_accuracy"]}
        row["images_trained"] = images
        row["device_seconds"] = time.time() - t0
    except Exception as err:  # keep the other jobs' results
        row["error"] = f"{type(err).__name__}: {err}"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--val", type=int, default=5000, help="validation images (held out of train)")
    ap.add_argument("--runs", default="/tmp/sweep_runs")
    ap.add_argument("--quick", action="store_true", help="one tiny recipe, to test the script")
    ap.add_argument("--archs", default="vgg16,resnet19")
    ap.add_argument("--probe", action="store_true", help="dense-only optimizer probes")
    a = ap.parse_args()
    bench = json.loads((ROOT / "ci/bench_results/train.json").read_text())
    speed = {k: v["model_images_per_s"] for k, v in bench["results"].items()}   # fp32, model-only
    recipes = {"quick": QUICK} if a.quick else RECIPES
    if a.probe:
        recipes = {n: {**PROBE_BASE, **ov, **(QUICK if a.quick else {})} for n, ov in PROBES.items()}
    jobs = [(n, arch, ov, a.device, 500 if a.quick else a.val, a.runs)
            for n, ov in recipes.items() for arch in a.archs.split(",")]
    # biggest first, so the pool's tail is short
    out = Path(a.out)
    result = {"what": __doc__.splitlines()[0], "device": a.device, "platform": platform.platform(),
              "cpu_model_images_per_s_T4": speed, "cpu_speed_source": "ci/bench_results/train.json "
              f"({bench.get('date')}, fp32 model-only, 2 cores)", "rows": []}
    t0 = time.time()
    ctx = mp.get_context("spawn")
    with ctx.Pool(min(a.workers, len(jobs))) as pool:
        for row in pool.imap_unordered(job, jobs):
            if "images_trained" in row:
                row["cpu_minutes_estimate"] = row["images_trained"] / speed[row["arch"]] / 60
            result["rows"].append(row)
            result["seconds"] = time.time() - t0
            tmp = out.with_suffix(".tmp")
            tmp.write_text(json.dumps(result, indent=1))
            os.replace(tmp, out)
            print(json.dumps({k: row.get(k) for k in ("recipe", "arch", "cpu_minutes_estimate",
                                                       "device_seconds", "error")}),
                  {m: row[m]["val_accuracy"] for m in ("lth", "uticket") if m in row}, flush=True)


if __name__ == "__main__":
    main()
