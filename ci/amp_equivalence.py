"""Does bf16 change the science? The book's recipes in fp32 and in bf16 autocast, over seeds.

    .venv/bin/python ci/amp_equivalence.py --runs ROOT [--runs ROOT ...] [--seeds 0 1 2] [--train]
        [--recipes cpu,cpu/side-study] [--archs vgg16] [--probe /tmp/lifprobe.json]

For each recipe of ``ci/seed_spread.py`` and each arch, the final level of the LTH and u-Ticket runs
trained with ``train.amp`` false (fp32) and true (bf16 autocast, on the machine this runs on), per
seed: test accuracy of both tickets and of their dense network, weight sparsity, LTH spike sparsity
and LTH utilization (Eq. 2, n_PE 16, ``analysis.runs.hardware_report``). Per quantity, the difference
of the means (bf16 - fp32) with a 95 % interval from the two seed samples (Welch: t with
n_fp32 + n_bf16 - 2 degrees of freedom, an approximation that errs narrow; with one bf16 run, the
95 % prediction interval of one more fp32 run, t(n-1) x std x sqrt(1 + 1/n)) and whether it holds 0:
``within_noise``. A recipe / arch with no run in one precision is recorded as missing (with the command that trains
it) rather than guessed; ``--train`` trains them into the first root.

Entries not measured in a call (other recipes, or networks left out by ``--archs``) keep their
record from ``--out``, each with the machine, commit and date it was measured at.

``--probe`` adds the LIF-precision probe (dense VGG-16, 16,000 images, fp32 / bf16 with the LIF in
fp32 / bf16 with the LIF in bf16, validation accuracy, spike sparsity, training seconds) that chose
``models.neurons.LIF_FP32``.

Writes ``ci/bench_results/amp_equivalence.json``.
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uticket_lib import io, machine, profiles, runstore  # noqa: E402
from uticket_lib.analysis import runs as runlib, stats  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from seed_spread import RECIPES, find  # noqa: E402

OUT = Path(__file__).resolve().parent / "bench_results" / "amp_equivalence.json"
QUANTITIES = ("dense", "lth", "uticket", "lth_sparsity", "uticket_sparsity", "lth_spike_sparsity",
              "lth_utilization")


def seed_row(profile: str, arch: str, overrides: dict, seed: int, amp: bool, roots, train) -> dict | None:
    row = {"seed": seed}
    for method in ("lth", "uticket"):
        cfg = profiles.get(profile, arch, "fmnist", method, {**overrides, "train.seed": seed, "train.amp": amp})
        path = find(cfg, roots, train, missing_ok=True)
        if path is None:
            return None
        done = {m["level"]: m for m in runstore.levels(path)}
        last = done[cfg.prune.levels - 1]
        if last.get("amp", amp) != amp:
            raise SystemExit(f"amp_equivalence: {path} records amp={last.get('amp')}, expected {amp}")
        row["dense"] = 100 * done[0]["test_accuracy"]
        row[method] = 100 * last["test_accuracy"]
        row[f"{method}_sparsity"] = 100 * last["sparsity"]
        if method == "lth":
            row["lth_spike_sparsity"] = 100 * last["spike_sparsity"]
            row["lth_utilization"] = runlib.hardware_report(path, cfg.prune.levels - 1)["network"]["utilization"]
        row["run_" + method] = path.name
    return row


def compare(fp32: list[dict], bf16: list[dict]) -> dict:
    out = {}
    for q in QUANTITIES:
        a, b = [r[q] for r in fp32], [r[q] for r in bf16]
        if not a or not b:
            continue
        sa, sb = stats.spread(a), stats.spread(b)
        diff = sb["mean"] - sa["mean"]
        if sa["n"] < 2:
            out[q] = {"fp32": a, "bf16": b, "diff": diff, "half_width": None, "within_noise": None}
            continue
        if sb["n"] < 2:   # one bf16 run: is it a plausible draw of the fp32 recipe? (prediction interval)
            half = stats.t95(sa["n"] - 1) * sa["std"] * math.sqrt(1 + 1 / sa["n"])
            out[q] = {"fp32": a, "bf16": b, "fp32_mean": sa["mean"], "fp32_std": sa["std"], "diff": diff,
                      "half_width": half, "interval": "prediction interval of one fp32 run", "within_noise": abs(diff) <= half}
            continue
        half = stats.t95(sa["n"] + sb["n"] - 2) * math.sqrt(sa["std"] ** 2 / sa["n"] + sb["std"] ** 2 / sb["n"])
        out[q] = {"fp32": a, "bf16": b, "fp32_mean": sa["mean"], "fp32_std": sa["std"],
                  "bf16_mean": sb["mean"], "bf16_std": sb["std"], "diff": diff, "half_width": half,
                  "within_noise": abs(diff) <= half}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", action="append", required=True, help="a runs root (repeatable)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--archs", help="only these networks (comma-separated; the others keep their record)")
    ap.add_argument("--train", action="store_true", help="train the runs that are missing")
    ap.add_argument("--probe", help="JSON of the LIF-precision probe to record beside")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    roots = [Path(r) for r in a.runs]
    old = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    recorded = {}
    for name in a.recipes.split(","):
        profile, archs, overrides = RECIPES[name]
        for arch in archs:
            if a.archs and arch not in a.archs.split(","):
                continue
            rows = {}
            for precision, amp in (("fp32", False), ("bf16", True)):
                got = [seed_row(profile, arch, overrides, s, amp, roots, a.train) for s in a.seeds]
                rows[precision] = [r for r in got if r is not None]
            key = f"{name}/{arch}"
            if any(not v for v in rows.values()):
                recorded[key] = {"missing": {p: len(a.seeds) - len(v) for p, v in rows.items()},
                                 "seeds": rows,
                                 "how": "python ci/amp_equivalence.py --train --runs ROOT trains them"}
                print(f"{key}: runs missing {recorded[key]['missing']}")
                continue
            recorded[key] = {"seeds": rows, "n": {p: len(v) for p, v in rows.items()},
                             "compare": compare(rows["fp32"], rows["bf16"])}
            for q, c in recorded[key]["compare"].items():
                print(f"{key:28s} {q:20s} bf16 - fp32 {c['diff']:+7.2f} +- {c['half_width'] or float('nan'):.2f}"
                      f"  {'within noise' if c['within_noise'] else 'BEYOND NOISE'}")
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    stamp = {"machine": machine.describe(), "commit": commit, "date": datetime.date.today().isoformat()}
    for r in recorded.values():     # each entry says where and when it was measured
        r.update(stamp)
    for key, r in old.get("recipes", {}).items():   # entries not measured now keep their record
        if key not in recorded:
            recorded[key] = {**{k: old.get(k) for k in stamp}, **r}
    record = {"what": "final-level results of the book's recipes trained in fp32 and in bf16 autocast over "
                      "training seeds; accuracies and sparsities in %, utilization a fraction; diff = bf16 "
                      "mean - fp32 mean, half_width its 95 % interval (t, n_fp32 + n_bf16 - 2 df)",
              "recipes": recorded, "machine": machine.describe(), "commit": commit,
              "date": datetime.date.today().isoformat()}
    if a.probe:
        record["lif_probe"] = {"what": "dense VGG-16 (cpu profile), 16,000 training images, validation "
                                       "accuracy on 2,000 held-out images; fp32, bf16 with the LIF in fp32 "
                                       "(LIF_FP32 = True), bf16 with the LIF in bf16 (the default)",
                               "results": json.loads(Path(a.probe).read_text())}
    elif "lif_probe" in old:
        record["lif_probe"] = old["lif_probe"]
    io.save_json(record, a.out)


if __name__ == "__main__":
    main()
