"""Training noise of the book's recipes: the same runs trained with 3 seeds, recorded once.

    .venv/bin/python ci/seed_spread.py --runs runs [--runs OTHER_ROOT ...] [--seeds 0 1 2] [--train]
        [--recipes cpu] [--archs vgg16]

For each recipe below and each seed (``train.seed``: initialisation, data order; everything else
equal), the final-level test accuracy of the LTH and u-Ticket tickets and of their dense network.
Seed 0 is the book's own run (same hash). Without ``--train`` the runs are looked up under the
``--runs`` roots (a missing one is an error naming the command that trains it); with ``--train``
missing runs are trained into the first root, all of them at once, side by side where that is faster
(``parallel.run_all``; a dense level found under another root is not retrained when that root's
``dense/<hash>`` folder is linked into the first), about 17 minutes per extra seed of the cpu recipe
and 2 per extra seed of the side study, on 2 cores.

Recipes:
- ``cpu``: the cpu profile (VGG-16 and ResNet-19), the runs of chapters 2-8, 10 and 12;
- ``cpu/side-study``: ``profiles.SIDE_STUDY["cpu"]`` at 3 levels (VGG-16), chapter 9's baseline pair
  and the recipe of chapter 11's side pair.

Writes ``ci/bench_results/seed_spread.json``: per recipe and arch, the per-seed values and, per
quantity (``dense``, ``lth``, ``uticket``, ``ticket - dense`` (LTH), ``lth - uticket``), the mean and
sample standard deviation in points. The book widens its accuracy intervals by these spreads
(``analysis.recipes.seed_spread``).
"""
from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uticket_lib import io, lottery, machine, parallel, profiles, runstore  # noqa: E402
from uticket_lib.analysis import recipes, stats  # noqa: E402

OUT = Path(__file__).resolve().parent / "bench_results" / "seed_spread.json"
RECIPES = {   # name: (profile, archs, overrides)
    "cpu": ("cpu", ("vgg16", "resnet19"), {}),
    "cpu/side-study": ("cpu", ("vgg16",), {**profiles.side_study("cpu"), "prune.levels": 3}),
}
QUANTITIES = ("dense", "lth", "uticket", "ticket - dense", "lth - uticket")


def final(run: Path, cfg) -> tuple[dict, dict]:
    """(level-0 metrics, metrics of ``cfg``'s last level) of a finished run (``prune.levels`` is not
    hashed: the same directory may hold more levels)."""
    done = {m["level"]: m for m in runstore.levels(run)}
    return done[0], done[cfg.prune.levels - 1]


def find(cfg, roots: list[Path], train: bool, missing_ok: bool = False) -> Path | None:
    """The finished run of ``cfg`` under the first root that has it; else trained into ``roots[0]``
    (``train``), None (``missing_ok``) or an error naming the command that trains it."""
    for root in roots:
        path = runstore.run_dir(cfg, root)
        if lottery._complete(path, cfg) if path.exists() else False:
            return path
    if missing_ok and not train:
        return None
    if not train:
        raise SystemExit(f"seed_spread: no finished run of {cfg.name} (hash {cfg.hash()}, seed {cfg.train.seed}) "
                         f"under {', '.join(map(str, roots))}; pass --train to train it into {roots[0]}")
    return lottery.run(cfg, root=roots[0], progress=True)


def config(recipe: str, arch: str, method: str, seed: int):
    """The run configuration of ``recipe`` (``RECIPES``) for one network, method and training seed."""
    profile, _archs, overrides = RECIPES[recipe]
    return profiles.get(profile, arch, "fmnist", method, {**overrides, "train.seed": seed})


def summary(values: list[float]) -> dict:
    """``stats.spread`` of the per-seed values, JSON-ready (std None for one seed)."""
    s = stats.spread(values)
    return {"values": values, "n": s["n"], "mean": s["mean"], "std": s["std"] if s["n"] > 1 else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", action="append", required=True, help="a runs root (repeatable)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--train", action="store_true", help="train the runs that are missing")
    ap.add_argument("--recipes", default=",".join(RECIPES),
                    help="which recipes to measure (the others keep their record in --out)")
    ap.add_argument("--archs", help="only these networks (comma-separated) of the recipes; the others keep "
                                    "their record in --out, with the machine, commit and date it was made at")
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    roots = [Path(r) for r in a.runs]
    unknown = set(a.recipes.split(",")) - set(RECIPES)
    if unknown:
        ap.error(f"unknown recipe(s) {', '.join(sorted(unknown))}; choose from {', '.join(RECIPES)}")
    only = set(a.archs.split(",")) if a.archs else None
    if only and only - {x for n in a.recipes.split(",") for x in RECIPES[n][1]}:
        ap.error(f"--archs {a.archs}: not a network of --recipes {a.recipes}")
    old = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    recorded = {}
    kept = {k: v for k, v in old.get("recipes", {}).items() if k not in a.recipes.split(",")}
    if a.train:   # every missing run in one batch (parallel.run_all: side by side where faster)
        missing = [cfg for name in a.recipes.split(",") for arch in RECIPES[name][1] if not only or arch in only
                   for seed in a.seeds
                   for method in ("lth", "uticket") for cfg in [config(name, arch, method, seed)]
                   if find(cfg, roots, False, missing_ok=True) is None]
        parallel.run_all(missing, root=roots[0], progress=True)
    for name in a.recipes.split(","):
        profile, archs, overrides = RECIPES[name]
        per_arch = {}
        prev = old.get("recipes", {}).get(name, {})
        for arch in archs:
            if only and arch not in only:   # kept as recorded, with where and when it was measured
                if arch in prev.get("archs", {}):
                    per_arch[arch] = {**{k: prev.get(k, old.get(k)) for k in ("machine", "commit", "date")},
                                      **prev["archs"][arch]}
                continue
            rows, hashes = [], {}
            for seed in a.seeds:
                row = {"seed": seed}
                for method in ("lth", "uticket"):
                    cfg = config(name, arch, method, seed)
                    hashes[method] = cfg.replace(**recipes.SEED_KEYS).hash()
                    level0, last = final(find(cfg, roots, a.train), cfg)
                    row["dense"] = 100 * level0["test_accuracy"]
                    row[method] = 100 * last["test_accuracy"]
                    row[f"{method}_sparsity"] = last["sparsity"]
                    row["level"], row["test_images"] = last["level"], last["test_images"]
                row["ticket - dense"] = row["lth"] - row["dense"]
                row["lth - uticket"] = row["lth"] - row["uticket"]
                rows.append(row)
            per_arch[arch] = {"hashes": hashes, "seeds": rows,
                              "spread": {q: summary([r[q] for r in rows]) for q in QUANTITIES}}
        recorded[name] = {"profile": profile, "overrides": overrides, "archs": per_arch}
    commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    for r in recorded.values():   # where and when each recipe was measured (recipes kept from --out keep theirs)
        r.update(machine=machine.describe(), commit=commit, date=datetime.date.today().isoformat())
    for k, r in kept.items():
        for key in ("machine", "commit", "date"):
            r.setdefault(key, old.get(key))
    io.save_json({"what": "final-level test accuracy (points, 10,000 test images) of the book's recipes over "
                          "training seeds (train.seed: initialisation and data order); seed 0 is the book's run",
                  "recipes": {**kept, **recorded}, "machine": machine.describe(), "commit": commit,
                  "date": datetime.date.today().isoformat()}, a.out)
    for name, r in recorded.items():
        for arch, d in r["archs"].items():
            print(name, arch, {q: f"{s['mean']:.2f} +- {s['std'] or 0:.2f}" for q, s in d["spread"].items()})


if __name__ == "__main__":
    main()
