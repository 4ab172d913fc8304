"""What more compute buys: accuracy against CPU minutes for the recipes tried for the cpu profile.

Reads the recorded sweeps in ``ci/bench_results/recipe_*.json`` (written by
``ci/sweep_cpu_recipes.py``): every recipe scored on a validation split held out of the training
set, its CPU cost estimated from the images it trains and the 2-core model-only speed recorded with
the sweep. The book shows the table; nothing here trains.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .. import paper, runstore
from .labels import ARCH_LABELS

RESULTS = Path(__file__).resolve().parents[2] / "ci" / "bench_results"
# What the cpu profile aims for: final-level test accuracy on the whole Fashion-MNIST test set, both
# methods (the project's target for a 40-minute 2-core book; the paper's Table I is 93-95 %).
AIMS = {"vgg16": 0.88, "resnet19": 0.85}


def sweep_frame(path: Path | None = None) -> pd.DataFrame:
    """One row per (recipe, arch, method) of a recorded sweep, sorted by CPU minutes.

    Columns: recipe, arch, method, cpu_minutes (estimate for the LTH + u-Ticket pair), levels
    trained, final sparsity, val_accuracy (the choosing split), test_accuracy (for the record) and
    test_images. Recipes that did not finish in the sweep are absent.
    """
    path = path or RESULTS / "recipe_sweep_gpu.json"
    if not path.exists():
        return pd.DataFrame(columns=["recipe", "arch", "method", "cpu_minutes", "sparsity",
                                     "val_accuracy", "test_accuracy", "test_images"])
    rows = []
    for r in json.loads(path.read_text())["rows"]:
        if "error" in r or "images_trained" not in r:
            continue
        for method in ("lth", "uticket"):
            if method not in r:
                continue
            m = r[method]
            rows.append({"recipe": r["recipe"], "arch": r["arch"], "method": method,
                         "cpu_minutes": r["cpu_minutes_estimate"], "sparsity": m["sparsity"],
                         "val_accuracy": m["val_accuracy"], "test_accuracy": m["test_accuracy"],
                         "test_images": m["test_images"],
                         "overrides": ", ".join(f"{k}={v}" for k, v in r["overrides"].items())})
    return pd.DataFrame(rows).sort_values(["arch", "cpu_minutes", "recipe", "method"],
                                          ignore_index=True)


def probe_frame(path: Path | None = None) -> pd.DataFrame:
    """Dense-only optimizer probes: one row per (setting, arch) with its validation accuracy."""
    path = path or RESULTS / "recipe_probe_gpu.json"
    if not path.exists():
        return pd.DataFrame(columns=["setting", "arch", "val_accuracy", "test_accuracy"])
    rows = [{"setting": r["recipe"], "arch": r["arch"], "val_accuracy": r["lth"]["val_accuracy"],
             "test_accuracy": r["lth"]["test_accuracy"], "cpu_minutes": r["cpu_minutes_estimate"]}
            for r in json.loads(path.read_text())["rows"] if "lth" in r]
    return pd.DataFrame(rows).sort_values(["arch", "val_accuracy"], ascending=[True, False],
                                          ignore_index=True)


def gap_frame(summary: pd.DataFrame, sweep: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per arch of ``summary`` (``runs.ticket_summary``): this build's final test accuracy, the aim
    (``AIMS``), the gap in points, and from the recorded sweep (``sweep_frame``) the most accurate
    LTH recipe on validation with its CPU minutes and its gain over the cheapest one."""
    sweep = sweep_frame() if sweep is None else sweep
    rows = []
    for arch, r in summary.iterrows():
        row = {"arch": arch, "test_accuracy": r["test_accuracy"], "aim": AIMS.get(arch),
               "gap (points)": 100 * (AIMS[arch] - r["test_accuracy"]) if arch in AIMS else None}
        sw = sweep[(sweep["arch"] == arch) & (sweep["method"] == "lth")]
        if len(sw):
            best, cheap = sw.loc[sw["val_accuracy"].idxmax()], sw.loc[sw["cpu_minutes"].idxmin()]
            row.update({"best swept recipe": best["recipe"], "its cpu_minutes": best["cpu_minutes"],
                        "its val_accuracy": best["val_accuracy"],
                        "gain over cheapest (points)": 100 * (best["val_accuracy"] - cheap["val_accuracy"]),
                        "cheapest cpu_minutes": cheap["cpu_minutes"]})
        rows.append(row)
    return pd.DataFrame(rows).set_index("arch")


def gap_text(gap: pd.DataFrame) -> dict[str, str]:
    """Sentences for the book from ``gap_frame``: ``aims`` (the aims per arch), ``paper`` (the range
    of the paper's Fashion-MNIST accuracies in Table I), ``reached`` (this build against the aims) and
    ``gain`` (what the most accurate swept recipe gained over the cheapest, where it cost more)."""
    def label(a):
        return ARCH_LABELS.get(a, a)
    accs = [v["acc"] for k, v in paper.TABLE_I.items() if k[1] == "fmnist"]
    with_aim = gap[gap["aim"].notna()]
    gains = [f"{label(a)}: {r['gain over cheapest (points)']:+.1f} points on validation from "
             f"{r['cheapest cpu_minutes']:.0f} to {r['its cpu_minutes']:.0f} CPU minutes ({r['best swept recipe']})"
             for a, r in gap.iterrows()
             if "best swept recipe" in gap and isinstance(r["best swept recipe"], str)
             and r["its cpu_minutes"] > r["cheapest cpu_minutes"]]
    return {"aims": ", ".join(f"{100 * v:.0f} % ({label(a)})" for a, v in AIMS.items()),
            "paper": f"{min(accs):.1f}-{max(accs):.1f} %",
            "reached": "; ".join(f"{label(a)}: {r['test_accuracy']:.1%} against {r['aim']:.0%}"
                                 for a, r in with_aim.iterrows()),
            "gain": "; ".join(gains) or "no longer recipe recorded"}


def training_trend(runs: dict) -> pd.DataFrame:
    """Per arch ({arch: run dir}) and each of its last two levels: epochs, the training loss of the
    first and the last epoch, the last epoch's training accuracy and the test accuracy. A loss still
    falling at the last epoch says the level was stopped by the epoch budget while still learning."""
    rows = []
    for arch, run in runs.items():
        for m in runstore.levels(run)[-2:]:
            h = m["history"]
            rows.append({"arch": arch, "level": m["level"], "epochs": len(h),
                         "loss first epoch": h[0]["loss"], "loss last epoch": h[-1]["loss"],
                         "train accuracy": h[-1]["train_accuracy"], "test accuracy": m["test_accuracy"]})
    return pd.DataFrame(rows).set_index(["arch", "level"])


def trend_text(trend: pd.DataFrame) -> str:
    """One clause per arch from ``training_trend``: the last level's loss over its epochs and its
    training accuracy against the level before."""
    parts = []
    for arch in dict.fromkeys(trend.index.get_level_values("arch")):
        sub = trend.loc[arch]
        last = sub.iloc[-1]
        text = (f"{ARCH_LABELS.get(arch, arch)}: at level {sub.index[-1]} the training loss went from "
                f"{last['loss first epoch']:.2f} to {last['loss last epoch']:.2f} over its "
                f"{int(last['epochs'])} epochs and the training accuracy reached {last['train accuracy']:.0%}")
        if len(sub) > 1:
            text += f" (level {sub.index[-2]}: {sub.iloc[-2]['train accuracy']:.0%})"
        parts.append(text)
    return "; ".join(parts)
