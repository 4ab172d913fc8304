"""The ceiling probe of issue 18: how close a 98 % ticket at width 0.25 gets to its dense network
when it trains long, per network, from the recorded learning curves.

    .venv/bin/python ci/ceiling.py [--curves ci/bench_results/learning_curves.json] [--out ci/bench_results/ceiling.json]

Trains nothing. The tickets are ``ci/learning_curves.py --tickets --ticket-budget N`` runs of the
no-augmentation recipe (one-shot global magnitude pruning of the dense curve's end state to 98 %,
rewound to its state after 8,000 images, trained on the full training split); each is scored on the
validation split. Per network: the dense network's final validation accuracy, and for every recorded
ticket budget the ticket's final validation accuracy and its gap to the dense network, the budget
in passes over the training split, and whether it reaches the project's target gap (-2 points).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uticket_lib import io, profiles  # noqa: E402
from uticket_lib.analysis.recipes import TICKET_GAP_AIM  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "bench_results"
RECIPE = "noaug"        # the cpu profile's recipe (no augmentation, AdamW)
REWIND = profiles.PROFILES["cpu"]["prune.rewind_images"]   # the cpu profile's rewind point (images)


def ceiling(entries: list[dict], recipe: str = RECIPE) -> dict:
    """{arch: {"dense_val_accuracy", "tickets": [{ticket_budget, passes, val_accuracy, gap_points,
    meets_target, source_kind}, ...]}} from learning-curve entries."""
    out = {}
    for e in entries:
        if e["recipe"] != recipe or e.get("quick") or e["kind"] != "dense":
            continue
        arch = e["arch"]
        dense = e["final_val_accuracy"]
        tickets = []
        for t in entries:
            if (t["arch"], t["recipe"], t.get("method")) != (arch, recipe, "lth") or t.get("quick"):
                continue
            if t.get("rewind_images") != REWIND:   # another rewind point: not a budget's ceiling
                continue
            gap = 100 * (t["final_val_accuracy"] - dense)
            tickets.append({"ticket_budget": t["ticket_budget"], "passes": t["ticket_budget"] / t["train_images"],
                            "val_accuracy": t["final_val_accuracy"], "gap_points": gap,
                            "meets_target": gap >= 100 * TICKET_GAP_AIM, "sparsity": t["sparsity"],
                            "source_kind": t["kind"], "train_seconds": t.get("train_seconds"),
                            "ticket_lr": t.get("ticket_lr", t.get("lr"))})
        out[arch] = {"dense_val_accuracy": dense, "dense_budget": e["budget"],
                     "tickets": sorted(tickets, key=lambda r: (r["ticket_budget"], r["ticket_lr"] or 0))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", default=str(RESULTS / "learning_curves.json"))
    ap.add_argument("--out", default=str(RESULTS / "ceiling.json"))
    a = ap.parse_args()
    curves = json.loads(Path(a.curves).read_text())
    result = ceiling(curves["entries"])
    io.save_json({"what": "98 % one-shot LTH tickets (width 0.25, rewound to 8,000 images) trained for several "
                          "budgets and learning rates on the full training split, validation accuracy against the dense network's "
                          f"(recipe {RECIPE!r} of ci/learning_curves.py; derived from learning_curves.json)",
                  "target_gap_points": 100 * TICKET_GAP_AIM, "archs": result,
                  "date": datetime.date.today().isoformat()}, a.out)
    for arch, r in result.items():
        print(arch, f"dense {100 * r['dense_val_accuracy']:.1f} %",
              "; ".join(f"{t['passes']:.1f} passes: {100 * t['val_accuracy']:.1f} % ({t['gap_points']:+.1f})"
                        for t in r["tickets"]))


if __name__ == "__main__":
    main()
