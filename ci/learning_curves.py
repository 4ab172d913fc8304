"""What does a CPU minute buy? Validation curves of candidate training recipes (issue 18, part 1).

Each recipe is a set of overrides of the ``cpu`` profile on the full training split (58,000 images:
the 60,000 less the 2,000-image validation split; ``data.train_subset`` put back where a recipe asks
for a subset). A dense network trains for ``--budget`` images with the schedule spanning the budget,
scored on the VALIDATION split every ``--eval-every`` images (``uticket_lib.curves``); the test set is
never read. ``--tickets`` also prunes the recipe's trained network one-shot to ``--sparsity``, rewinds
to its state after ``--rewind`` images and trains the LTH and u-Ticket tickets for ``--ticket-budget``.

Results merge into ``--out`` (one entry per arch, recipe, budget and kind; a recipe already there is
skipped, so an interrupted sweep resumes), each with the machine it ran on and the machine's load.

    python ci/learning_curves.py --arch vgg16 --recipes base,noaug            # ~7 min a recipe
    python ci/learning_curves.py --arch vgg16 --recipes base --tickets        # + two tickets
    python ci/learning_curves.py --quick --out /tmp/lc.json                   # a 1-minute check
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# What every recipe starts from: the cpu profile as it stood when the study ran (2026-12-06: AdamW
# 1e-3, batch 64, augmentation on), put back explicitly so a recipe means the same after the profile
# changed (it moved to no augmentation on this study's evidence).
STUDY_BASE = {"data.train_subset": None, "data.augment": True, "train.optimizer": "adam", "train.lr": 1e-3,
              "train.batch_size": 64, "train.warmup": 0.0, "train.lr_rounds": None}
# Overrides of STUDY_BASE; "warm" = (T, fraction of the budget)
RECIPES: dict[str, dict] = {
    "base": {},                                                    # the cpu profile's AdamW 1e-3, batch 64
    "subset4k": {"data.train_subset": 4000},                       # the 2026-11 profile's 4,000 images
    "noaug": {"data.augment": False},
    "adam3e-3-warm": {"train.lr": 3e-3, "train.warmup": 0.05},
    "sgd0.1-warm": {"train.optimizer": "sgd", "train.lr": 0.1, "train.warmup": 0.05},
    "noaug-sgd0.1-warm": {"data.augment": False, "train.optimizer": "sgd", "train.lr": 0.1, "train.warmup": 0.05},
    "noaug-sgd0.1-warm-wd0": {"data.augment": False, "train.optimizer": "sgd", "train.lr": 0.1,
                              "train.warmup": 0.05, "train.weight_decay": 0.0},   # the released code's lost decay
    "b32": {"train.batch_size": 32},
    "b128": {"train.batch_size": 128},
    "noaug-b16": {"data.augment": False, "train.batch_size": 16},     # the cpu profile's recipe at other batches
    "noaug-b32": {"data.augment": False, "train.batch_size": 32},
    "noaug-b128": {"data.augment": False, "train.batch_size": 128},
    "ls0.1": {"train.label_smoothing": 0.1},
    "t2-warm": {"warm": (2, 0.5)},                                 # T = 2 for half the budget, then T = 4
    "noaug-t2-warm": {"data.augment": False, "warm": (2, 0.5)},
}
QUICK = {"model.width": 0.125, "data.train_subset": 512, "data.val_split": 256}


def config(arch: str, recipe: str, quick: bool):
    from uticket_lib import profiles
    ov = {k: v for k, v in RECIPES[recipe].items() if k != "warm"}
    ov = {**STUDY_BASE, **ov, **(QUICK if quick else {})}
    if arch != "vgg16":   # the profile's per-arch optimizer settings (ResNet-19: lr 3e-3, batch 32)
        ov = {k: v for k, v in ov.items() if k not in profiles.ARCH_OVERRIDES.get(("cpu", arch), {})
              or k in RECIPES[recipe]}
        ov["train.lr_rounds"] = RECIPES[recipe].get("train.lr_rounds")  # tickets at the recipe's lr
    return profiles.get("cpu", arch, "fmnist", "lth", ov)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vgg16", choices=("vgg16", "resnet19"))
    ap.add_argument("--recipes", default="base", help=f"comma-separated, of: {', '.join(RECIPES)}")
    ap.add_argument("--budget", type=int, default=56000, help="training images of the dense curve")
    ap.add_argument("--eval-every", type=int, default=8000)
    ap.add_argument("--tickets", action="store_true", help="also one-shot LTH and u-Ticket tickets")
    ap.add_argument("--methods", default="lth,uticket", help="which tickets with --tickets")
    ap.add_argument("--sparsity", type=float, default=0.98)
    ap.add_argument("--rewind", type=int, default=8000, help="images of the dense curve at the rewind point")
    ap.add_argument("--ticket-budget", type=int, default=56000)
    ap.add_argument("--ticket-lr", type=float, default=None,
                    help="the tickets' learning rate (train.lr_rounds; default: the recipe's train.lr_rounds or lr)")
    ap.add_argument("--ticket-warm", default=None, metavar="T,FRACTION",
                    help="train the tickets at T for the first FRACTION of --ticket-budget, then at the "
                         "model's T (kind suffix -wT-FRACTION)")
    ap.add_argument("--out", default=str(ROOT / "ci" / "bench_results" / "learning_curves.json"))
    ap.add_argument("--states", default=str(ROOT / "runs" / "curves"),
                    help="folder for the dense states at every scored point (<arch>_<recipe>_<budget>/images_N.pt), "
                         "which chapter 3's imbalance-origin table prunes; '' keeps none")
    ap.add_argument("--quick", action="store_true", help="tiny widths and data: checks the script runs")
    a = ap.parse_args(argv)
    import torch
    from uticket_lib import curves, io, machine
    from uticket_lib.runstore import load_state
    unknown = [r for r in a.recipes.split(",") if r not in RECIPES]
    if unknown:
        ap.error(f"unknown recipe(s) {', '.join(unknown)}; choose from {', '.join(RECIPES)}")
    if a.quick:
        a.budget, a.eval_every, a.rewind, a.ticket_budget = 1024, 512, 512, 512
    out = Path(a.out)
    record = json.loads(out.read_text()) if out.exists() else {
        "what": "validation accuracy against training images seen, cpu-profile recipes on the full "
                "training split (ci/learning_curves.py); points before a curve's end are snapshots of "
                "a schedule spanning the whole budget", "entries": []}
    have = {(e["arch"], e["recipe"], e["budget"], e["kind"]) for e in record["entries"]}
    desc = machine.describe()
    for recipe in a.recipes.split(","):
        cfg = config(a.arch, recipe, a.quick)
        warm = RECIPES[recipe].get("warm")
        # a ticket's kind is its method, with the rewind point where it is not the default
        tag = "" if a.rewind == ap.get_default("rewind") else f"-rw{a.rewind}"
        tag += "" if a.ticket_budget == ap.get_default("ticket_budget") else f"-tb{a.ticket_budget}"
        tag += "" if a.ticket_lr is None else f"-lr{a.ticket_lr:g}"
        twarm = None
        if a.ticket_warm:
            try:
                t_s, f_s = a.ticket_warm.split(",")
                twarm = (int(t_s), float(f_s))
            except ValueError:
                ap.error(f"--ticket-warm {a.ticket_warm!r}: expected T,FRACTION, e.g. 2,0.5")
            tag += f"-w{twarm[0]}-{twarm[1]:g}"
        ticket_cfg = cfg if a.ticket_lr is None else cfg.replace(**{"train.lr_rounds": a.ticket_lr})
        kinds = ["dense"] + ([m + tag for m in a.methods.split(",")] if a.tickets else [])
        if all((a.arch, recipe, a.budget, k) in have for k in kinds):
            print(f"[curves] {a.arch} {recipe}: recorded, skipped")
            continue
        sets = curves.datasets(cfg)
        if a.tickets and a.rewind not in curves.scored_points(len(sets[0]), a.budget, a.eval_every):
            ap.error(f"--rewind {a.rewind} is not a point the dense curve scores with --eval-every "
                     f"{a.eval_every} and {len(sets[0])} training images, so its state would not be kept: "
                     f"use an --eval-every that divides it")
        keep = "all" if a.states else ((a.rewind, a.budget) if a.tickets else ())
        t0 = time.time()
        folder = Path(a.states or ".") / f"{a.arch}_{recipe}_{a.budget}{'_quick' if a.quick else ''}"
        old = next((e for e in record["entries"] if (e["arch"], e["recipe"], e["budget"], e["kind"])
                    == (a.arch, recipe, a.budget, "dense")), None)
        saved = {k: folder / f"images_{k}.pt" for k in (a.rewind, a.budget)}
        if old is not None and a.states and all(f.exists() for f in saved.values()):
            # the dense curve is recorded and its states kept: the tickets start from them
            dense = curves.Curve(points=old["points"], states={k: load_state(f) for k, f in saved.items()})
            print(f"[curves] {a.arch} {recipe} dense: recorded, states read from {folder}")
        else:
            dense = curves.dense_curve(cfg, a.budget, a.eval_every, warm_timesteps=warm and warm[0],
                                       warm_fraction=warm[1] if warm else 0.5, keep_at=keep, sets=sets)
            if a.states:
                for k, state in dense.states.items():
                    io.save_torch(state, folder / f"images_{k}.pt")
        base = {"arch": a.arch, "recipe": recipe, "budget": a.budget,
                "overrides": {k: v for k, v in RECIPES[recipe].items()}, "train_images": len(sets[0]),
                "val_images": len(sets[1]), "batch_size": cfg.train.batch_size, "lr": cfg.train.lr,
                "optimizer": cfg.train.optimizer, "quick": a.quick, "machine": desc}
        entries = [old] if old is not None and dense.points is old["points"] else [
            {**base, "kind": "dense", **dense.as_dict(), "wall_seconds": round(time.time() - t0, 1),
             "load_average": os.getloadavg()}]
        for kind in kinds[1:]:
            if (a.arch, recipe, a.budget, kind) in have:
                continue
            method = kind[:-len(tag)] if tag else kind
            t0 = time.time()
            c, masks = curves.ticket_curve(ticket_cfg, dense.states[a.budget], dense.states[a.rewind], a.sparsity,
                                           a.ticket_budget, a.eval_every, method=method, sets=sets,
                                           warm_timesteps=twarm and twarm[0],
                                           warm_fraction=twarm[1] if twarm else 0.5)
            kept = sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values())
            entries.append({**base, "kind": kind, "method": method, "sparsity": 1 - kept, "rewind_images": a.rewind,
                            "ticket_budget": a.ticket_budget, "ticket_lr": ticket_cfg.train.lr_rounds or cfg.train.lr,
                            **({"ticket_warm": list(twarm)} if twarm else {}),
                            **c.as_dict(),
                            "wall_seconds": round(time.time() - t0, 1), "load_average": os.getloadavg()})
        record["entries"] = [e for e in record["entries"]
                             if (e["arch"], e["recipe"], e["budget"], e["kind"]) not in
                             {(x["arch"], x["recipe"], x["budget"], x["kind"]) for x in entries}] + entries
        io.save_json(record, out)
        for e in entries:
            print(f"[curves] {a.arch} {recipe} {e['kind']}: val {e['final_val_accuracy']:.4f} after "
                  f"{e['images']} images, {e['train_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
