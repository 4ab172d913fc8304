"""The ceiling probe of issue 18: how close a 98 % ticket at width 0.25 gets to its dense network
when it trains long, per network, from the recorded learning curves.

    .venv/bin/python ci/ceiling.py [--curves ci/bench_results/learning_curves.json] [--out ci/bench_results/ceiling.json]
    .venv/bin/python ci/ceiling.py --runs runs [--runs OTHER_ROOT ...] [--passes 2 4] [--seeds 0 1 2] [--train]

Without ``--runs`` it trains nothing: the tickets are ``ci/learning_curves.py --tickets --ticket-budget N`` runs of each
network's cpu-profile recipe (``RECIPES``: no augmentation, the profile's batch; one-shot global
magnitude pruning of the dense curve's end state to 98 %, rewound to its state after 8,000 images,
trained on the full training split at one T); each is scored on the validation split. Per network:
the dense network's final validation accuracy, for every recorded ticket budget and learning rate
the ticket's final validation accuracy and its gap to the dense network, the budget in passes over
the training split and whether it reaches the project's target gap (-2 points), and the best of
them (``best``: the highest validation accuracy a ticket reached at any recorded budget). A dense
curve trained longer than the profile's one pass (``learning_curves.py --budget``) and the tickets
pruned from it are ``longer_dense``: a trained-long probe, the dense network and its ticket both
trained long, e.g. ``--arch resnet19 --recipes noaug --budget 224000 --tickets --methods lth
--ticket-budget 448000 --ticket-lr 0.01`` (four dense passes, eight ticket passes; on a 2-core Xeon
40 minutes for ResNet-19, 25 for VGG-16).

With ``--runs`` it also records ``book_tickets``: the book's own LTH tickets (the cpu profile: the
same dense level, rewind point and 98 % mask) trained for each number of passes in ``--passes``
(``train.epochs_final``) and each training seed in ``--seeds`` (0 is the book's run; the others are
the seeds of ``ci/seed_spread.py``), scored on the test set as the book scores them, with the paired
difference of the gap between the most and fewest passes over the seeds. The book's two-pass runs
are looked up under the roots (a cpu book's ``runs/``); the longer ones too, or trained into the
first root with ``--train`` (side by side, ``parallel.run_all``; link the book's ``dense/<hash>``
folders into it so the dense levels are not retrained), about 15 minutes for two more passes of both
networks on 2 cores. ``extra_normalised_minutes`` estimates what the extra passes of all four tickets
(LTH and u-Ticket, both networks) would add to the cpu book: the book's recorded seconds per ticket
pass, two runs side by side, scaled as ``book_cpu.json`` normalises its time.
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uticket_lib import io, lottery, parallel, profiles, runstore  # noqa: E402
from uticket_lib.analysis import stats  # noqa: E402
from uticket_lib.analysis.recipes import TICKET_GAP_AIM  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "bench_results"
# each network's cpu-profile recipe in ci/learning_curves.py: no augmentation, AdamW, the profile's
# batch (32 for both since VGG-16 moved to it; ResNet-19's "noaug" trains at its own 32 already)
RECIPES = {"vgg16": "noaug-b32", "resnet19": "noaug"}
REWIND = profiles.PROFILES["cpu"]["prune.rewind_images"]   # the cpu profile's rewind point (images)


def ceiling(entries: list[dict], recipes: dict[str, str] | None = None) -> dict:
    """{arch: {"recipe", "dense_val_accuracy", "dense_budget", "tickets": [{ticket_budget, passes,
    val_accuracy, gap_points, meets_target, source_kind}, ...], "best": the ticket of highest
    val_accuracy, "longer_dense": [the same for each longer dense budget, with "dense_passes"]}} from
    learning-curve entries, for each network's recipe in ``recipes`` (default ``RECIPES``). A ticket
    belongs to the dense curve it was pruned from (the same ``budget``); the shortest dense budget,
    the cpu profile's one pass, is the probe's own, the longer ones are the trained-long ceiling."""
    recipes = RECIPES if recipes is None else recipes
    by_budget: dict[str, list[dict]] = {}
    for e in entries:
        arch = e["arch"]
        if e["recipe"] != recipes.get(arch) or e.get("quick") or e["kind"] != "dense":
            continue
        recipe = e["recipe"]
        dense = e["final_val_accuracy"]
        tickets = []
        for t in entries:
            if (t["arch"], t["recipe"], t.get("method")) != (arch, recipe, "lth") or t.get("quick"):
                continue
            if t.get("budget", e["budget"]) != e["budget"]:
                continue   # pruned from another dense curve of this recipe
            if t.get("rewind_images") != REWIND or t.get("ticket_warm"):
                continue   # another rewind point, or part of the budget at a smaller T: another recipe
            gap = 100 * (t["final_val_accuracy"] - dense)
            tickets.append({"ticket_budget": t["ticket_budget"], "passes": t["ticket_budget"] / t["train_images"],
                            "val_accuracy": t["final_val_accuracy"], "gap_points": gap,
                            "meets_target": gap >= 100 * TICKET_GAP_AIM, "sparsity": t["sparsity"],
                            "source_kind": t["kind"], "train_seconds": t.get("train_seconds"),
                            "ticket_lr": t.get("ticket_lr", t.get("lr")), "val_images": t.get("val_images")})
        tickets.sort(key=lambda r: (r["ticket_budget"], r["ticket_lr"] or 0))
        by_budget.setdefault(arch, []).append(
            {"recipe": recipe, "dense_val_accuracy": dense, "dense_budget": e["budget"],
             "dense_passes": e["budget"] / e["train_images"] if e.get("train_images") else None,
             "dense_train_seconds": e.get("train_seconds"), "tickets": tickets,
             "best": max(tickets, key=lambda r: r["val_accuracy"], default=None)})
    out = {}
    for arch, rows in by_budget.items():
        first, *longer = sorted(rows, key=lambda r: r["dense_budget"])
        out[arch] = {**first, "longer_dense": longer}
    return out


def book_tickets(roots: list[Path], passes: tuple[int, ...] = (2, 4), train: bool = False,
                 archs: tuple[str, ...] = ("vgg16", "resnet19"), book_cpu: Path | None = None,
                 profile: str = "cpu", overrides: dict | None = None, seeds: tuple[int, ...] = (0,)) -> dict:
    """{"archs": {arch: {"rows": [{seed, passes, test_accuracy, val_accuracy, dense_test_accuracy,
    gap_test_points, gap_val_points, meets_target, seconds_per_pass, threads, run}, ...], "same_mask":
    bool (each seed's runs share their mask), "gap": {passes: stats.spread of the seeds' test gaps},
    "longer_minus_book": paired (mean, low, high) of the gap after the most passes minus the fewest,
    over the seeds (None for one seed), "extra_normalised_minutes": {passes: that network's two tickets'
    share of the estimate}}}, "seeds", "extra_normalised_minutes": {passes: estimate}, "book_commit"
    (``book_cpu.json``'s commit: the build whose runs are seed 0), "book_normalised_minutes" (that
    build's normalised time, which the estimates add to), "basis"} for the book's LTH tickets trained for each of ``passes`` with each training seed (seed 0
    is the book's run; see the module's docstring)."""
    cfgs = {(a, p, s): profiles.get(profile, a, "fmnist", "lth", {**(overrides or {}), "train.epochs_final": p,
                                                                  "train.seed": s})
            for a in archs for p in passes for s in seeds}

    def where(cfg):
        return next((runstore.run_dir(cfg, r) for r in roots if lottery.finished(cfg, r)), None)
    missing = [c for c in cfgs.values() if where(c) is None]
    if missing and not train:
        raise SystemExit("ceiling: no finished run of " + ", ".join(f"{c.name} ({c.train.epochs_final} passes, "
                         f"seed {c.train.seed}, hash {c.hash()})" for c in missing) + f" under "
                         f"{', '.join(map(str, roots))}; pass --train to train them into {roots[0]}")
    if missing:
        parallel.run_all(missing, root=roots[0], progress=True)
    book = json.loads((book_cpu or RESULTS / "book_cpu.json").read_text())
    scale = book["normalised_seconds"] / book["total_seconds"]   # this build's seconds -> normalised
    out = {}
    for a in archs:
        rows, same = [], True
        for s in seeds:
            masks = set()
            for p in passes:
                cfg = cfgs[(a, p, s)]
                run = where(cfg)
                levels = {m["level"]: m for m in runstore.levels(run)}
                dense, last = levels[0], levels[cfg.prune.levels - 1]
                gap = 100 * (last["test_accuracy"] - dense["test_accuracy"])
                rows.append({"seed": s, "passes": p, "test_accuracy": last["test_accuracy"],
                             "test_images": last["test_images"], "val_accuracy": last.get("val_accuracy"),
                             "dense_test_accuracy": dense["test_accuracy"], "dense_val_accuracy": dense.get("val_accuracy"),
                             "gap_test_points": gap, "gap_val_points": None if last.get("val_accuracy") is None else
                             100 * (last["val_accuracy"] - dense["val_accuracy"]),
                             "meets_target": gap >= 100 * TICKET_GAP_AIM, "sparsity": last["sparsity"],
                             "seconds_per_pass": last["seconds"] / last["epochs"],
                             "threads": last.get("machine", {}).get("threads"), "run": run.name})
                manifest = run / "level_1" / "manifest.json"
                masks.add(json.loads(manifest.read_text())["files"]["level_1/mask.pt"]["sha256"]
                          if manifest.exists() else run.name)
            same = same and len(masks) == 1
        by = {p: [r["gap_test_points"] for r in rows if r["passes"] == p] for p in passes}
        paired = (list(stats.paired_t(by[min(passes)], by[max(passes)])) if len(seeds) > 1 else None)
        out[a] = {"rows": rows, "same_mask": same, "gap": {str(p): stats.spread(v) for p, v in by.items()},
                  "longer_minus_book": paired}
    # two tickets per network (LTH, u-Ticket) at the book's (seed 0) LTH seconds per pass, two side by side
    base = min(passes)
    own = {a: 2 * next(r for r in out[a]["rows"] if r["passes"] == base and r["seed"] == seeds[0])["seconds_per_pass"]
           for a in archs}
    per_pass = sum(own.values())
    for a in archs:   # the same estimate per network: what its own two tickets' extra passes would add
        out[a]["extra_normalised_minutes"] = {str(p): round((p - base) * own[a] / 2 * scale / 60, 1)
                                              for p in passes if p > base}
    return {"archs": out, "seeds": list(seeds), "book_commit": book.get("commit"),
            "book_normalised_minutes": round(book["normalised_seconds"] / 60, 1),
            "extra_normalised_minutes": {str(p): round((p - base) * per_pass / 2 * scale / 60, 1)
                                         for p in passes if p > base},
            "basis": f"extra passes x the {base}-pass LTH runs' seconds per pass (seed {seeds[0]}), for LTH and "
                     f"u-Ticket of each network, two runs side by side, x {scale:.3f} (book_cpu.json normalised / "
                     f"wall seconds)"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", default=str(RESULTS / "learning_curves.json"))
    ap.add_argument("--out", default=str(RESULTS / "ceiling.json"))
    ap.add_argument("--runs", action="append", default=[],
                    help="a runs root holding the cpu book's runs (repeatable): also record book_tickets")
    ap.add_argument("--passes", type=int, nargs="+", default=[2, 4], help="ticket passes for book_tickets")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds for book_tickets (0: the book's)")
    ap.add_argument("--train", action="store_true", help="train the longer book tickets that are missing")
    a = ap.parse_args()
    curves = json.loads(Path(a.curves).read_text())
    result = ceiling(curves["entries"])
    old = json.loads(Path(a.out).read_text()) if Path(a.out).exists() else {}
    longer = (book_tickets([Path(r) for r in a.runs], tuple(a.passes), a.train, seeds=tuple(a.seeds)) if a.runs
              else old.get("book_tickets"))
    io.save_json({"what": "98 % one-shot LTH tickets (width 0.25, rewound to 8,000 images) trained for several "
                          "budgets and learning rates on the full training split, validation accuracy against the dense network's "
                          "(each network's cpu-profile recipe of ci/learning_curves.py, ci/ceiling.py RECIPES; derived from "
                          "learning_curves.json); best: the highest a ticket reached",
                  "target_gap_points": 100 * TICKET_GAP_AIM, "archs": result,
                  **({"book_tickets": longer} if longer else {}),
                  "date": datetime.date.today().isoformat()}, a.out)
    for arch, r in result.items():
        for d in (r, *r["longer_dense"]):
            print(arch, f"dense {100 * d['dense_val_accuracy']:.1f} % after {d['dense_budget']:,} images",
                  "; ".join(f"{t['passes']:.1f} passes: {100 * t['val_accuracy']:.1f} % ({t['gap_points']:+.1f})"
                            for t in d["tickets"]))


if __name__ == "__main__":
    main()
