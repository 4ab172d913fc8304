"""What more compute buys: accuracy against CPU minutes for the recipes tried for the cpu profile.

Reads the recorded sweeps in ``ci/bench_results/recipe_*.json`` (written by
``ci/sweep_cpu_recipes.py``): every recipe scored on a validation split held out of the training
set, its CPU cost estimated from the images it trains and the 2-core model-only speed recorded with
the sweep. The book shows the table; nothing here trains.
"""
from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from .. import paper, runstore
from .labels import ARCH_LABELS, METHOD_LABELS
from .stats import mean_t, spread

RESULTS = Path(__file__).resolve().parents[2] / "ci" / "bench_results"
# What the cpu profile aims for (the project's targets for a 60-normalised-minute 2-core book; the
# paper's Table I is 93-95 %): the LTH ticket's final-level test accuracy on the whole Fashion-MNIST
# test set (AIMS), its dense network's (DENSE_AIMS), and a ticket within 2 points of its dense network.
AIMS = {"vgg16": 0.86, "resnet19": 0.84}
DENSE_AIMS = {"vgg16": 0.88, "resnet19": 0.86}
TICKET_GAP_AIM = -0.02


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
        if "dense accuracy" in r:
            row.update({"dense accuracy": r["dense accuracy"], "dense aim": DENSE_AIMS.get(arch),
                        "ticket - dense (points)": 100 * (r["test_accuracy"] - r["dense accuracy"])})
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
            "dense": "; ".join(f"{label(a)}: dense {r['dense accuracy']:.1%} against {r['dense aim']:.0%}, "
                               f"ticket minus dense {r['ticket - dense (points)']:+.1f} points against "
                               f"{100 * TICKET_GAP_AIM:+.0f}" for a, r in with_aim.iterrows()
                               if "dense accuracy" in gap and r.get("dense aim") is not None) or "no dense level",
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
        if int(last["epochs"]) == 1:
            text = (f"{ARCH_LABELS.get(arch, arch)}: level {sub.index[-1]} trained one epoch, mean training "
                    f"loss {last['loss last epoch']:.2f}, training accuracy {last['train accuracy']:.0%}")
        else:
            text = (f"{ARCH_LABELS.get(arch, arch)}: at level {sub.index[-1]} the training loss went from "
                    f"{last['loss first epoch']:.2f} to {last['loss last epoch']:.2f} over its "
                    f"{int(last['epochs'])} epochs and the training accuracy reached {last['train accuracy']:.0%}")
        if len(sub) > 1:
            text += f" (level {sub.index[-2]}: {sub.iloc[-2]['train accuracy']:.0%})"
        parts.append(text)
    return "; ".join(parts)


def curves_frame(path: Path | None = None) -> pd.DataFrame:
    """Every scored point of ``ci/bench_results/learning_curves.json`` (``ci/learning_curves.py``):
    arch, recipe, dense budget, kind (dense / lth / uticket / ...), images seen, validation accuracy
    and training seconds (on the machine each entry records)."""
    path = path or RESULTS / "learning_curves.json"
    cols = ["arch", "recipe", "budget", "kind", "images", "val_accuracy", "train_seconds"]
    if not path.exists():
        return pd.DataFrame(columns=cols)
    rows = []
    for e in json.loads(path.read_text())["entries"]:
        if e.get("quick"):
            continue
        for p in e["points"]:
            rows.append({"arch": e["arch"], "recipe": e["recipe"], "budget": e["budget"], "kind": e["kind"],
                         "images": p["images"], "val_accuracy": p["val_accuracy"],
                         "train_seconds": p["train_seconds"]})
    return pd.DataFrame(rows, columns=cols)


def curve_finals(frame: pd.DataFrame) -> pd.DataFrame:
    """The last point of every (arch, recipe, budget, kind) curve of ``curves_frame`` (budget: the
    dense curve's images): what its whole budget bought, with a ticket's gap to the dense network
    it was pruned from (points, validation)."""
    keys = ["arch", "recipe", "budget", "kind"]
    last = frame.sort_values("images").groupby(keys, sort=False).tail(1)
    out = last.set_index(keys).sort_index()
    dense = out.xs("dense", level="kind")["val_accuracy"]
    out["minus dense (points)"] = [100 * (r["val_accuracy"] - dense.get((a, rc, b), float("nan")))
                                   if k != "dense" else None for (a, rc, b, k), r in out.iterrows()]
    return out


def origin_frame(path: Path | None = None) -> pd.DataFrame:
    """Rows of ``ci/bench_results/imbalance_origin.json`` (``ci/imbalance_origin.py``): one-shot
    98 % masks of dense states against random masks of the same per-layer counts."""
    path = path or RESULTS / "imbalance_origin.json"
    cols = ["arch", "recipe", "optimizer", "weight_decay", "width", "images", "val_accuracy",
            "min_weights_per_filter", "uniform_random", "random_mean", "random_min", "random_max",
            "trained", "excess"]
    if not path.exists():
        return pd.DataFrame(columns=cols)
    return pd.DataFrame(json.loads(path.read_text())["rows"])[cols]


def origin_text(frame: pd.DataFrame, recipe: str = "noaug") -> dict[str, str]:
    """Sentences for chapter 3 from ``origin_frame``, per network: ``<arch>_length`` (``recipe``'s
    earliest and latest state -- the cpu profile's recipe by default --, split into counting noise,
    per-layer allocation and the within-layer excess) and ``<arch>_factors`` (every recipe at the
    end of its curve)."""
    out = {}
    for arch, sub in frame.groupby("arch", sort=False):
        label = ARCH_LABELS.get(arch, arch)
        first = sub[sub["recipe"] == recipe].sort_values("images")
        if first.empty:
            raise ValueError(f"origin_text: no {recipe!r} rows for {arch}; run ci/learning_curves.py "
                             f"--recipes {recipe} and ci/imbalance_origin.py --arch {arch}")
        parts = []
        for r in (first.iloc[0], first.iloc[-1]):
            parts.append(f"after {r['images']:,} images, random masks at one density in every layer "
                         f"reach {r['uniform_random']:.2f}, random masks with the trained per-layer "
                         f"counts {r['random_mean']:.2f} [{r['random_min']:.2f}, {r['random_max']:.2f}] "
                         f"and the trained mask {r['trained']:.2f} (excess {r['excess']:+.2f})")
        out[f"{arch}_length"] = f"{label}: " + "; ".join(parts)
        ends = sub.sort_values("images").groupby("recipe", sort=False).tail(1).set_index("recipe")
        by_opt = ends.groupby("optimizer")["excess"]
        out[f"{arch}_optimizer"] = "; ".join(f"{o}: excess {lo:+.2f} to {hi:+.2f}" if lo != hi else
                                             f"{o}: excess {lo:+.2f}"
                                             for o, (lo, hi) in by_opt.agg(["min", "max"]).iterrows())
        wd = ends[(ends["optimizer"] == "sgd") & ends.index.str.startswith("noaug")]
        out[f"{arch}_weight_decay"] = ("; ".join(f"weight decay {r['weight_decay']:g}: excess {r['excess']:+.2f}"
                                                 for _, r in wd.sort_values("weight_decay", ascending=False).iterrows())
                                       or "not recorded")
        out[f"{arch}_factors"] = f"{label}: " + "; ".join(
            f"{r} ({row['optimizer']}, weight decay {row['weight_decay']:g}, "
            f"{'no augmentation' if 'noaug' in r else 'augmentation'}) excess {row['excess']:+.2f}"
            for r, row in ends.iterrows())
    return out


def ticket_kind(kind: str) -> dict:
    """A learning-curve ticket's kind (``ci/learning_curves.py``: the method, then ``-rw<images>``,
    ``-tb<images>``, ``-lr<rate>`` and ``-w<T>-<fraction>`` where they differ from the defaults) as
    {"method", "rewind", "budget", "lr", "warm": (T, fraction)} (None where absent)."""
    method, _, rest = kind.partition("-")
    out = {"method": method, "rewind": None, "budget": None, "lr": None, "warm": None}
    number = r"\d+(?:\.\d+)?(?:e-?\d+)?"
    parts = list(re.finditer(rf"-(rw|tb|lr|w)({number})(?:-({number}))?", "-" + rest if rest else ""))
    if ("".join(m.group(0) for m in parts) != ("-" + rest if rest else "")
            or any((m.group(1) == "w") != (m.group(3) is not None) for m in parts)):
        raise ValueError(f"ticket kind {kind!r}: unknown part in {rest!r} (expected -rw<images>, "
                         f"-tb<images>, -lr<rate> or -w<T>-<fraction>)")
    for m in parts:
        key = {"rw": "rewind", "tb": "budget", "lr": "lr", "w": "warm"}[m.group(1)]
        out[key] = (float(m.group(2)) if key == "lr" else (int(m.group(2)), float(m.group(3))) if key == "warm"
                    else int(m.group(2)))
    return out


def curves_text(finals: pd.DataFrame) -> dict[str, str]:
    """Sentences for chapter 2 from ``curve_finals``, per network: ``<arch>_dense`` (every dense
    recipe's validation accuracy after its budget, best first) and ``<arch>_tickets`` (the one-shot
    tickets against their own dense network)."""
    out = {}
    for arch in dict.fromkeys(finals.index.get_level_values("arch")):
        sub = finals.loc[arch]
        label = ARCH_LABELS.get(arch, arch)
        dense = sub.xs("dense", level="kind").sort_values("val_accuracy", ascending=False)
        out[f"{arch}_dense"] = f"{label}: " + ", ".join(
            f"{r} {row['val_accuracy']:.1%} ({b:,} images)" for (r, b), row in dense.iterrows())
        tickets = sub[sub.index.get_level_values("kind") != "dense"]
        parts = []
        for (r, b, k), row in tickets.iterrows():
            t = ticket_kind(k)
            how = "".join([f", rewound to {t['rewind']:,} images" if t["rewind"] else "",
                           f", trained {t['budget']:,} images" if t["budget"] else "",
                           f", at lr {t['lr']:g}" if t["lr"] else "",
                           f", its first {t['warm'][1]:.1%} of them at T = {t['warm'][0]}" if t["warm"] else ""])
            parts.append(f"{METHOD_LABELS.get(t['method'], t['method'])} of {r} ({b:,} dense images{how}) "
                         f"{row['val_accuracy']:.1%} ({row['minus dense (points)']:+.1f} points against its "
                         f"dense network)")
        out[f"{arch}_tickets"] = f"{label}: " + (", ".join(parts) or "no ticket recorded")
    return out


def passes_text(finals: pd.DataFrame, arch: str, recipe: str, kinds: Mapping[str, str]) -> str:
    """The validation accuracy after its budget of each ticket ``kinds`` ({kind: words}) of one
    ``curve_finals`` recipe, in the given order: "85.8 % after two passes against 84.4 % after one";
    "not recorded" where one is missing."""
    parts = []
    for kind, words in kinds.items():
        key = [k for k in finals.index if k[0] == arch and k[1] == recipe and k[3] == kind]
        if not key:
            return "not recorded"
        parts.append(f"{finals.loc[key[0], 'val_accuracy']:.1%} {words}")
    return " against ".join(parts)


def imp_probe_text(path: Path | None = None) -> str:
    """One sentence from ``ci/bench_results/imp_probe.json``: the cpu profile's network pruned in two
    rounds instead of one, by level (validation where scored)."""
    path = path or RESULTS / "imp_probe.json"
    if not path.exists():
        return "not recorded"
    rec = json.loads(path.read_text())
    parts = [f"level {m['level']} at {m['sparsity']:.1%} sparsity"
             + (f" {m['val_accuracy']:.1%} on validation" if m.get("val_accuracy") is not None else
                " (validation not scored)") for m in rec["levels"]]
    return "; ".join(parts)


def imp_probe_comparison(finals: pd.DataFrame, path: Path | None = None, arch: str = "vgg16",
                         recipe: str = "noaug") -> dict[str, str]:
    """The IMP probe's drop (its dense level's validation accuracy minus its last level's) beside the
    one-shot ticket's drop on the ``recipe`` learning curve (``curve_finals``), and how far the two
    dense networks differ: ``dense_gap``, ``imp_drop``, ``one_shot_drop`` (points, as text)."""
    path = path or RESULTS / "imp_probe.json"
    levels = json.loads(path.read_text())["levels"] if path.exists() else []
    scored = [m for m in levels if m.get("val_accuracy") is not None]
    try:
        dense = finals.loc[(arch, recipe)].xs("dense", level="kind")["val_accuracy"].iloc[0]
        ticket = finals.loc[(arch, recipe)].xs("lth", level="kind")["val_accuracy"].iloc[0]
    except KeyError:
        dense = ticket = None
    if len(scored) < 2 or dense is None:
        return {"dense_gap": "not recorded", "imp_drop": "not recorded", "one_shot_drop": "not recorded"}
    return {"dense_gap": f"{100 * (scored[0]['val_accuracy'] - dense):.1f}",
            "imp_drop": f"{100 * (scored[0]['val_accuracy'] - scored[-1]['val_accuracy']):.1f}",
            "one_shot_drop": f"{100 * (dense - ticket):.1f}"}


# The machine the cpu book's time budget is normalised to: model-only VGG-16 training images/s (width
# 0.25, 2 cores, ci/bench_train.py) of the 2026-11-22 record in ci/bench_results
REFERENCE_IMAGES_PER_S = 284.0


def parallel_text(path: Path | None = None) -> str:
    """``ci/bench_results/parallel.json`` (``ci/bench_parallel.py``) in words: per network, two runs
    side by side on half the cores each over one run on all of them (images/s), with the cores;
    "not recorded" where the file is missing."""
    path = path or RESULTS / "parallel.json"
    if not path.exists():
        return "not recorded"
    d = json.loads(path.read_text())
    ratios = ", ".join(f"{r['pair_over_alone']:.2f}x ({ARCH_LABELS.get(a, a)})" for a, r in d["results"].items())
    threads = d.get("threads_per_process_in_pair", 1)
    return (f"two runs side by side on {threads} thread{'s' * (threads != 1)} each trained {ratios} the "
            f"images/s of one run on all {d['cores']} cores (`ci/bench_results/parallel.json`, "
            f"{d.get('machine', {}).get('cpu', 'this machine')}, {d['date']})")


def own_gap_text(accuracy: Mapping[str, object], passes: Mapping[str, int]) -> str:
    """This page's LTH tickets against their dense networks: per arch, ``accuracy[arch]``'s
    ``PairedDiff.text()`` (ticket minus dense, 95 % interval over the test images) after
    ``passes[arch]`` ticket passes; arches without a paired difference are left out."""
    return "; ".join(f"{ARCH_LABELS.get(a, a)} {d.text()} after {passes[a]} passes"
                     for a, d in accuracy.items() if d is not None)


def build_minutes_text(path: Path | None = None) -> str:
    """The recorded cpu build from an empty ``runs/`` (``book_cpu.json``) in words: its normalised
    minutes against the 60 of the budget, its wall minutes, the benchmark speed and the CPU."""
    path = path or RESULTS / "book_cpu.json"
    if not path.exists():
        return "not recorded"
    d = json.loads(path.read_text())
    speed = d["normalised_seconds"] * REFERENCE_IMAGES_PER_S / d["total_seconds"]
    return (f"{d['normalised_seconds'] / 60:.1f} normalised minutes of the 60, {d['total_seconds'] / 60:.1f} minutes "
            f"on a machine at {speed:.0f} images/s ({d.get('machine', {}).get('cpu', 'CPU not recorded')}, "
            f"commit {str(d.get('commit', ''))[:7]})")


def bf16_speedup_text(paths: Sequence[Path] | None = None) -> str:
    """bf16 autocast over fp32 per network, from ``ci/bench_train.py`` readings (default: the two beside
    the recorded cpu build, ``book_cpu_bench_before/after.json``): the model-only and end-to-end ratios,
    a range where the readings differ, with the batch they ran at; "" where none records bf16."""
    paths = paths or [RESULTS / "book_cpu_bench_before.json", RESULTS / "book_cpu_bench_after.json"]
    per_arch: dict[str, dict[str, list[float]]] = {}
    for path in paths:
        if not Path(path).exists():
            continue
        for arch, r in json.loads(Path(path).read_text())["results"].items():
            if "bf16" not in r:
                continue
            d = per_arch.setdefault(arch, {"model": [], "end to end": [], "batch": []})
            d["model"].append(r["bf16"]["model_speedup_over_fp32"])
            d["end to end"].append(r["bf16"]["end_to_end_speedup_over_fp32"])
            d["batch"].append(r.get("batch"))

    def span(v: list[float]) -> str:
        lo, hi = min(v), max(v)
        return f"{lo:.2f}x" if f"{lo:.2f}" == f"{hi:.2f}" else f"{lo:.2f}-{hi:.2f}x"
    return "; ".join(f"{ARCH_LABELS.get(a, a)} {span(d['model'])} model-only, {span(d['end to end'])} end to end "
                     f"(batch {'/'.join(str(b) for b in dict.fromkeys(d['batch']))}, {len(d['model'])} "
                     f"reading{'s' * (len(d['model']) != 1)})" for a, d in per_arch.items())


def second_pass_text(levels: pd.DataFrame, methods=("lth", "uticket"), at_once: int = 1) -> str:
    """What one more pass for the tickets that trained once would cost: the last level's training
    seconds per pass (``runs.method_levels`` frame, LTH rows; seconds / epochs where the frame has them)
    per network, times the number of ticket runs of the networks whose last level trained one epoch
    (all networks where the frame has no epochs, or where none trained once), over ``at_once``: the
    runs that trained side by side (``parallel``), each level's seconds measured while the others ran."""
    lth = levels[levels["method"] == "lth"] if "method" in levels else levels
    last = lth.sort_values("level").groupby("arch", sort=False).tail(1).set_index("arch")
    epochs = last["epochs"].fillna(1).clip(lower=1) if "epochs" in last else pd.Series(1, index=last.index)
    per_pass = last["seconds"] / epochs
    once = [a for a in last.index if epochs[a] == 1] or list(last.index)
    parts = ", ".join(f"{ARCH_LABELS.get(a, a)} {s / 60:.1f} min" for a, s in per_pass.items())
    total = len(methods) * float(per_pass[once].sum()) / 60 / max(1, at_once)
    if len(once) == len(last):
        whose = f"{'each' if len(last) > 1 else 'the'} network"
    else:
        whose = " and ".join(ARCH_LABELS.get(a, a) for a in once) + " (" + ", ".join(
            f"{ARCH_LABELS.get(a, a)}'s tickets train {int(epochs[a])} passes" for a in last.index if a not in once) + " already)"
    beside = (f"{at_once} runs at a time, as this build trained them, each pass timed with the others "
              f"beside it; " if at_once > 1 else "")
    return (f"a pass of a ticket level took {parts} in this build, so one more pass for the {len(methods)} "
            f"tickets of {whose} would add about {total:.0f} minutes of this "
            f"machine's time to it ({beside}the budget counts minutes of a machine that trains at "
            f"{REFERENCE_IMAGES_PER_S:g} images/s; scale "
            f"by this machine's speed, which the README's record gives)")


def runs_at_once(pairs) -> int:
    """How many runs of ``pairs`` ({arch: {method: run dir}}) trained side by side, from their last
    levels' records: the machine's cores over the threads a run trained on (1 where not recorded)."""
    counts = set()
    for runs in pairs.values():
        for run in runs.values():
            done = runstore.levels(Path(run))
            m = done[-1].get("machine", {}) if done else {}
            if m.get("cpus") and m.get("threads"):
                counts.add(max(1, int(m["cpus"]) // int(m["threads"])))
    return min(counts) if counts else 1


def precision_text(pairs) -> str:
    """The arithmetic the runs of ``pairs`` ({arch: {method: run dir}}) trained in, from their configs,
    and the CPU they ran on as their last level records it: "both networks in bf16 autocast, on AMD
    EPYC (native bf16)", or per network where they differ."""
    per_arch, cpus = {}, set()
    for arch, runs in pairs.items():
        amps = {bool(runstore.read_config(Path(run)).train.amp) for run in runs.values()}
        per_arch[arch] = " and ".join(("bf16 autocast" if a else "fp32") for a in sorted(amps))
        for run in runs.values():
            done = runstore.levels(Path(run))
            if done and "machine" in done[-1]:
                m = done[-1]["machine"]
                cpus.add(f"{m.get('cpu', '?')} ({'native bf16' if m.get('native_bf16') else 'no native bf16'})")
    if len(per_arch) > 1 and len(set(per_arch.values())) == 1:
        words = f"{'both' if len(per_arch) == 2 else 'all'} networks in {next(iter(per_arch.values()))}"
    else:
        words = ", ".join(f"{ARCH_LABELS.get(a, a)} in {w}" for a, w in per_arch.items()) or "unknown"
    return words + (f", on {'; '.join(sorted(cpus))}" if cpus else "")


AMP_WORDS = {"dense": "dense network", "lth": "LTH ticket", "uticket": "u-Ticket",
             "lth_sparsity": "LTH sparsity", "uticket_sparsity": "u-Ticket sparsity",
             "lth_spike_sparsity": "LTH spike sparsity", "lth_utilization": "LTH utilization"}


def amp_text(path: Path | None = None) -> str:
    """``ci/bench_results/amp_equivalence.json`` (``ci/amp_equivalence.py``) in words, per network:
    how many seeds each precision trained, and every compared quantity whose bf16 - fp32 difference
    lies outside its 95 % interval (points; utilization as a fraction), or that none does."""
    path = path or RESULTS / "amp_equivalence.json"
    if not path.exists():
        return "not recorded"
    parts = []
    for name, r in json.loads(path.read_text()).get("recipes", {}).items():
        arch = name.rpartition("/")[2]
        n = r.get("n", {})
        seeds = " and ".join(f"{n[k]} {k}" for k in ("fp32", "bf16") if k in n)
        off = [f"its {AMP_WORDS.get(q, q)} {c['diff']:+.2f} +- {c['half_width']:.2f}"
               + ("" if q.endswith("utilization") else " points") + " in bf16"
               for q, c in r["compare"].items() if not c["within_noise"]]
        parts.append(f"{ARCH_LABELS.get(arch, arch)} ({seeds} seeds): "
                     + ("; ".join(off) + ", the rest within seed noise" if off else "every quantity within seed noise"))
    return "; ".join(parts) or "not recorded"


# ----------------------------------------------------------------------------- training noise
SEED_SPREAD = RESULTS / "seed_spread.json"
# What the recorded seeds vary (set to seed 0 to match), and the precision: the cpu profile trains
# in bf16 where the CPU has it natively and in fp32 elsewhere (profiles.resolve_amp), and the two
# were measured within seed noise of each other (ci/bench_results/amp_equivalence.json), so a
# recipe's spread recorded in one precision serves the other.
SEED_KEYS = {"train.seed": 0, "balance.seed": 0, "train.amp": False}


def seed_spread(cfg, quantity: str, between_runs: bool = False, path: Path | None = None):
    """``stats.SeedSpread`` (points) of ``quantity`` for the recipe of ``cfg`` (a ``RunConfig`` or a
    run directory), or None where that recipe's seeds were not recorded.

    Read from ``ci/bench_results/seed_spread.json`` (``ci/seed_spread.py``): a recipe matches when
    its recorded seed-0 hash equals ``cfg``'s with the seeds set to 0, so any other setting a reader
    changes (a notebook parameter, another profile) gives None, and the book's intervals then hold
    test-image noise only and say so. Quantities: ``dense``, ``lth``, ``uticket`` (final-level test
    accuracy), ``ticket - dense`` (LTH), ``lth - uticket``. ``between_runs``: the spread of the
    difference between two independently trained runs of the recipe (sqrt 2 x one run's, the runs'
    noise taken as independent), for contrasts the record holds no per-seed pairs of (a switch
    against the paper behaviour, quantized against float).
    """
    from . import stats
    path = path or SEED_SPREAD
    if not path.exists():
        return None
    if not hasattr(cfg, "hash"):
        cfg = runstore.read_config(Path(cfg))
    key = cfg.replace(**SEED_KEYS).hash()
    for name, r in json.loads(path.read_text()).get("recipes", {}).items():
        for arch, d in r.get("archs", {}).items():
            if key not in d.get("hashes", {}).values():
                continue
            s = d["spread"].get(quantity)
            if s is None or s.get("n", 0) < 2 or s.get("std") is None:
                return None
            source = f"{quantity} of the {name} recipe in seed_spread.json"
            if between_runs:
                return stats.SeedSpread(s["n"], 2 ** 0.5 * s["std"], source + " (x sqrt 2: two independent runs)",
                                        factor=2 ** 0.5)
            return stats.SeedSpread(s["n"], s["std"], source, values=tuple(s["values"]))
    return None


def seed_frame(path: Path | None = None) -> pd.DataFrame:
    """The recorded seeds (``seed_spread.json``): one row per (recipe, arch, seed) with the final-level
    test accuracy (%) of the dense network, the LTH and u-Ticket tickets and their differences;
    empty where nothing was recorded."""
    path = path or SEED_SPREAD
    cols = ["recipe", "arch", "seed", "level", "dense", "lth", "uticket", "ticket - dense", "lth - uticket"]
    if not path.exists():
        return pd.DataFrame(columns=cols)
    rows = [{"recipe": name, "arch": arch, **{k: s[k] for k in cols[2:]}}
            for name, r in json.loads(path.read_text())["recipes"].items()
            for arch, d in sorted(r["archs"].items(), key=lambda kv: _arch_order(kv[0])) for s in d["seeds"]]
    return pd.DataFrame(rows, columns=cols)


def _arch_order(arch: str) -> int:
    """The book's order of networks (VGG-16 first), unknown ones last."""
    order = list(ARCH_LABELS)
    return order.index(arch) if arch in order else len(order)


# seed_spread.json's name for the cpu recipe as it was before train.lr_rounds (its tickets at the
# dense round's learning rate), kept to measure what the change moved
BEFORE_LR_ROUNDS = "cpu-dense-lr"
# ... and VGG-16's runs of the cpu recipe before it moved to batch 32 and bf16 where native (the
# 2026-12-06 build at 371a68a: batch 64, fp32), kept to measure what that change moved
BEFORE_BATCH32 = "cpu-vgg16-b64-fp32"
# ... and the runs of the cpu recipe before their tickets trained two passes (train.epochs_final 2;
# VGG-16: the 2026-12-06 build at 33ac3d2, batch 32, bf16 where native; ResNet-19: the build at
# 2baa1ba), kept to measure what the second pass moved, and what VGG-16's batch 32 moved before it
BEFORE_SECOND_PASS = "cpu-1pass"
# ... and VGG-16's runs of the cpu recipe while its tickets trained two passes (the 2026-12-06 build at
# fb510e2), kept to measure what its third and fourth pass moved (the profile's train.epochs_final 4)
BEFORE_FOUR_PASSES = "cpu-vgg16-2pass"
# the recipe each network had right after train.lr_rounds came in, where it is no longer "cpu": what
# lr_rounds moved is measured against it, not against the later changes stacked on top
AFTER_LR_ROUNDS = {"vgg16": BEFORE_BATCH32, "resnet19": BEFORE_SECOND_PASS}


def recipe_shift_text(frame: pd.DataFrame, before: str, after: str,
                      quantities: Sequence[str] = ("lth", "uticket"),
                      after_by_arch: Mapping[str, str] | None = None) -> str:
    """What changing recipe ``before`` into ``after`` moved, per arch and quantity of ``seed_frame``:
    the mean difference (points) with a 95 % interval, paired by seed where both recipes trained the
    same seeds from the same dense networks (equal dense accuracies: only the change differs), else
    Welch's interval of the two means; "" where either recipe has fewer than 2 seeds of an arch.
    ``after_by_arch`` names another ``after`` recipe for some networks (``AFTER_LR_ROUNDS``)."""
    from . import stats
    parts = []
    for arch in dict.fromkeys(frame["arch"]):
        a = frame[(frame["recipe"] == before) & (frame["arch"] == arch)].sort_values("seed")
        later = (after_by_arch or {}).get(arch, after)
        b = frame[(frame["recipe"] == later) & (frame["arch"] == arch)].sort_values("seed")
        if len(a) < 2 or len(b) < 2:
            continue
        paired = a["seed"].tolist() == b["seed"].tolist() and a["dense"].tolist() == b["dense"].tolist()
        test = stats.paired_t if paired else stats.welch
        shifts = []
        for q in quantities:
            d, lo, hi = test(a[q].tolist(), b[q].tolist())
            shifts.append(f"{QUANTITY_WORDS.get(q, q)} {d:+.1f} points [{lo:+.1f}, {hi:+.1f}]")
        how = f"{len(a)} seeds, paired" if paired else f"{len(a)} and {len(b)} seeds, Welch"
        parts.append(f"{ARCH_LABELS.get(arch, arch)} ({how}): " + ", ".join(shifts))
    return "; ".join(parts)


QUANTITY_WORDS = {"lth": "LTH ticket", "uticket": "u-Ticket", "dense": "dense network",
                  "ticket - dense": "LTH ticket minus dense", "lth - uticket": "LTH minus u-Ticket"}


def seed_text(frame: pd.DataFrame, collapse_points: float = 20.0) -> str:
    """One sentence per recipe and arch: the seeds' spread of ticket - dense, and any ticket more than
    ``collapse_points`` below its dense network named with its seed (a failed training, not noise)."""
    out = []
    for (recipe, arch), g in frame.groupby(["recipe", "arch"], sort=False):
        name = ARCH_LABELS.get(arch, arch)
        gaps = g["ticket - dense"]
        line = (f"{name} (recipe {recipe}; {len(g)} seeds): LTH ticket minus dense from {gaps.min():+.1f} to "
                f"{gaps.max():+.1f} points")
        bad = g[g["ticket - dense"] < -collapse_points]
        for _, r in bad.iterrows():
            line += (f"; with seed {int(r['seed'])} the LTH ticket failed to train in its pass ({r['lth']:.1f} %, "
                     f"its u-Ticket {r['uticket']:.1f} %)")
        out.append(line + ".")
    return " ".join(out)


def ceiling_text(path: Path | None = None, lrs: Mapping[str, float] | None = None) -> str:
    """The ceiling probe (``ci/ceiling.py``) in words: per network, the one-shot 98 % ticket's gap to
    its dense network (validation, points) after each recorded training budget; with ``lrs``
    ({arch: ticket learning rate}) only the tickets trained at that rate, which the text then names once."""
    path = path or RESULTS / "ceiling.json"
    if not path.exists():
        return "no ceiling probe recorded"
    parts = []
    for arch, r in sorted(json.loads(path.read_text())["archs"].items(), key=lambda kv: _arch_order(kv[0])):
        lr = (lrs or {}).get(arch)
        tickets = [t for t in r["tickets"] if lr is None or t.get("ticket_lr") == lr]
        steps = ", ".join(f"{t['gap_points']:+.2f} after {t['ticket_budget']:,} images ({t['passes']:.1f} "
                          f"pass{'es' * (round(t['passes'], 1) != 1)})"
                          + (f" at lr {t['ticket_lr']:g}" if t.get("ticket_lr") and lr is None else "")
                          for t in tickets)
        parts.append(f"{ARCH_LABELS.get(arch, arch)} {steps or 'none recorded'}" + (f" (lr {lr:g})" if lr else ""))
    return "; ".join(parts)


def longer_probe_frame(lrs: Mapping[str, float], path: Path | None = None) -> pd.DataFrame:
    """The validation probe of ``ceiling.json`` (``archs``: the learning curves' one-shot tickets, one
    draw each) at the tickets' learning rate ``lrs`` ({arch: rate}): ticket minus dense network
    (points) per network and ticket budget (columns: passes over the 58,000-image split and images)."""
    path = path or RESULTS / "ceiling.json"
    if not path.exists():
        return pd.DataFrame()
    rows = {}
    for arch, r in sorted(json.loads(path.read_text()).get("archs", {}).items(), key=lambda kv: _arch_order(kv[0])):
        rows[ARCH_LABELS.get(arch, arch)] = {
            f"{t['passes']:.1f} pass{'es' * (round(t['passes'], 1) != 1)} ({t['ticket_budget']:,} images)": t["gap_points"]
            for t in r["tickets"] if t.get("ticket_lr") == lrs.get(arch)}
    return pd.DataFrame(rows).T.astype(float).round(2)


def trained_long_frame(path: Path | None = None) -> pd.DataFrame:
    """The trained-long probe (``ceiling.json`` ``archs.<arch>.longer_dense``: a dense curve trained
    more than one pass and the 98 % LTH tickets pruned from it; validation, one draw each), one
    column per network and ticket: the dense network's images, passes and accuracy, the separate
    one-pass dense run's accuracy, the ticket's images, passes, learning rate and accuracy, and
    ticket minus dense (points). Values are formatted strings (a learning rate keeps its digits)."""
    path = path or RESULTS / "ceiling.json"
    if not path.exists():
        return pd.DataFrame()
    cols = {}
    for arch, r in sorted(json.loads(path.read_text()).get("archs", {}).items(), key=lambda kv: _arch_order(kv[0])):
        pairs = [(d, t) for d in r.get("longer_dense", []) for t in d["tickets"]]
        for d, t in pairs:   # a network's several probes are told apart by their passes
            name = ARCH_LABELS.get(arch, arch) + (f", {d['dense_passes']:.0f} + {t['passes']:.0f} passes"
                                                  if len(pairs) > 1 else "")
            cols[name] = {
                "dense: training images": f"{d['dense_budget']:,}", "dense: passes": f"{d['dense_passes']:.2f}",
                "dense: validation accuracy (%)": f"{100 * d['dense_val_accuracy']:.2f}",
                "separate one-pass dense run: validation accuracy (%)": f"{100 * r['dense_val_accuracy']:.2f}",
                "ticket: training images": f"{t['ticket_budget']:,}", "ticket: passes": f"{t['passes']:.2f}",
                "ticket: learning rate": f"{t['ticket_lr']:g}",
                "ticket: validation accuracy (%)": f"{100 * t['val_accuracy']:.2f}",
                "ticket minus its dense network (points)": f"{t['gap_points']:+.2f}"}
    return pd.DataFrame(cols)


def _val_test_offsets(rec: Mapping) -> dict[str, dict[str, tuple[float, float]]]:
    """{arch: {"dense" | "lth": (mean, standard error)}}: how many points validation reads above
    the test set in the test-set probe's runs (``book_tickets``; the same seeded 2,000-image
    validation split), over its dense networks (one per seed) and over its LTH tickets."""
    out = {}
    for arch, r in ((rec.get("book_tickets") or {}).get("archs") or {}).items():
        rows = [x for x in r["rows"] if x.get("val_accuracy") is not None]
        kinds = {"dense": list({x["seed"]: 100 * (x["dense_val_accuracy"] - x["dense_test_accuracy"]) for x in rows
                                if x.get("dense_val_accuracy") is not None}.values()),
                 "lth": [100 * (x["val_accuracy"] - x["test_accuracy"]) for x in rows]}
        out[arch] = {k: (s["mean"], s["std"] / math.sqrt(s["n"]) if s["n"] > 1 else 0.0)
                     for k, s in ((k, spread(v)) for k, v in kinds.items() if v)}
    return out


def _against(value: float, bound: float, band: float) -> str:
    """Where ``value`` lies against ``bound`` given an uncertainty ``band`` (points)."""
    if value >= bound + band:
        return "above it"
    if value < bound - band:
        return "below it"
    return f"at it, within the uncertainty (+-{band:.1f})"


def trained_long_text(path: Path | None = None) -> dict[str, str]:
    """The trained-long probe in words (``trained_long_frame``'s record; one draw, one budget, one
    learning rate per network): ``result`` (per network, what the dense network and its ticket gained
    from the longer training, against the one-pass dense run and against the ticket of the one-pass
    probe trained longest at the same rate, validation), ``verdict`` (the gap to a well-trained dense
    network against the 2-point target, and the gap the book measures, to its one-pass dense
    network, from the one-pass probe), ``offset`` (per network, how far validation reads above the
    test set in the test-set probe's runs, dense and ticket apart), ``aims`` (per network, the
    trained-long dense network and ticket less those offsets against the test-set aims, each within
    an uncertainty band: the binomial standard error on the validation images, the offset's standard
    error and the seeds' spread of the test-set probe, in quadrature) and ``rule`` (which aims the
    project's rule lowers: an aim the trained-long result lies below beyond its band becomes that
    result less 2 points); ``middle`` (the shorter probes between the profile and the longest: the
    dense network, about what it reads on the test set against its aim, and the ticket's gap)."""
    path = path or RESULTS / "ceiling.json"
    rec = json.loads(path.read_text()) if path.exists() else {}
    longs = {a: r["longer_dense"][-1] for a, r in rec.get("archs", {}).items() if r.get("longer_dense")
             and r["longer_dense"][-1]["tickets"]}
    keys = ("result", "offset", "aims", "verdict", "rule", "middle")
    if not longs:
        return {k: "not measured" for k in keys}
    offsets = _val_test_offsets(rec)
    books = (rec.get("book_tickets") or {}).get("archs", {})
    result, gaps, budget, aims, lowered, offset_words, longer, n_vals = [], [], [], [], [], [], [], set()
    for arch in sorted(longs, key=_arch_order):
        d, name, r = longs[arch], ARCH_LABELS.get(arch, arch), rec["archs"][arch]
        t = max(d["tickets"], key=lambda x: x["ticket_budget"])
        short = max((x for x in r["tickets"] if x.get("ticket_lr") == t["ticket_lr"]),
                    key=lambda x: x["ticket_budget"], default=None)
        dense_gain = 100 * (d["dense_val_accuracy"] - r["dense_val_accuracy"])
        line = (f"{name}: the dense network {100 * d['dense_val_accuracy']:.2f} % after {d['dense_passes']:.1f} passes, "
                f"{dense_gain:+.2f} points over the one-pass run; its 98 % LTH ticket {100 * t['val_accuracy']:.2f} % "
                f"after {t['passes']:.1f} passes at lr {t['ticket_lr']:g}")
        if short is not None:
            line += (f", {100 * (t['val_accuracy'] - short['val_accuracy']):+.2f} over the one-pass dense network's ticket "
                     f"after {short['passes']:.1f} passes at that rate ({100 * short['val_accuracy']:.2f} %)")
        result.append(line)
        gaps.append(f"{name} {t['gap_points']:+.2f}")
        if short is not None:
            budget.append(f"{name} {short['gap_points']:+.2f} after {short['passes']:.1f} passes")
        off = offsets.get(arch, {})
        if off:
            offset_words.append(f"{name} {off['dense'][0]:.1f} (dense) and {off['lth'][0]:.1f} (tickets)"
                                if "dense" in off and "lth" in off else name)
        rows = books.get(arch, {}).get("rows", [])
        most = max((x["passes"] for x in rows), default=None)
        seed_sd = {"dense": spread(list({x["seed"]: 100 * x["dense_test_accuracy"] for x in rows}.values()))["std"]
                  if len({x["seed"] for x in rows}) > 1 else 0.0,
                  "lth": spread([100 * x["test_accuracy"] for x in rows if x["passes"] == most])["std"]
                  if sum(x["passes"] == most for x in rows) > 1 else 0.0}
        n_val = t.get("val_images")
        n_vals.add(n_val)
        if r.get("dense_passes"):
            longer.append(d["dense_passes"] / r["dense_passes"])
        parts = []
        for kind, what, acc, table in (("dense", "dense network", d["dense_val_accuracy"], DENSE_AIMS),
                                       ("lth", "LTH ticket", t["val_accuracy"], AIMS)):
            if arch not in table:
                continue
            o, o_se = off.get(kind, (0.0, 0.0))
            binom = 100 * math.sqrt(acc * (1 - acc) / n_val) if n_val else 0.0
            band = math.sqrt(binom ** 2 + o_se ** 2 + seed_sd[kind] ** 2)
            est = 100 * acc - o
            where = _against(est, 100 * table[arch], band)
            parts.append(f"{what} about {est:.1f} % against {100 * table[arch]:.0f} %: {where}")
            if where == "below it":
                lowered.append(f"{name}'s {what} aim to about {est + 100 * TICKET_GAP_AIM:.1f} %")
        aims.append(f"{name}'s " + "; its ".join(parts))
    times = f"{min(longer):.0f} times as long" if longer else "longer"
    verdict = (f"against a dense network trained {times}, the 98 % tickets stay far outside the "
               f"{-100 * TICKET_GAP_AIM:.0f}-point target ({', '.join(gaps)} points): at 98 % and width 0.25 a well-trained dense network outruns "
               f"its ticket, at least at this budget and learning rate"
               + (f". The book measures the gap against its one-pass dense network, and there the tickets of the "
                  f"one-pass probe come near the target with more passes ({'; '.join(budget)}), so the book's gap "
                  f"is its ticket budget's" if budget else ""))
    rule = ((f"the rule lowers {', '.join(lowered)}" if lowered else
             "no trained-long result lies below an aim beyond its band, so the rule lowers no aim")
            + ". Since each LTH aim is its dense aim less 2 points, a build that meets the dense aim and the gap "
              "target meets the LTH aim as well; with the LTH aims where the long-trained tickets are, meeting "
              "all three asks the book's tickets to match these long-trained draws")
    middle, pulls = [], []
    for arch in sorted(longs, key=_arch_order):
        r, name = rec["archs"][arch], ARCH_LABELS.get(arch, arch)
        o = offsets.get(arch, {})
        for d in r["longer_dense"][:-1]:
            for t in d["tickets"]:
                dense_test = 100 * d["dense_val_accuracy"] - o.get("dense", (0.0,))[0]
                pulls.append(dense_test >= 100 * DENSE_AIMS.get(arch, 1.0) and not t["meets_target"])
                middle.append(f"{name} with its dense network trained {d['dense_passes']:.1f} passes "
                              f"({100 * d['dense_val_accuracy']:.2f} %, about {dense_test:.1f} % on the test set "
                              f"against its aim of {100 * DENSE_AIMS.get(arch, float('nan')):.0f} %) and its ticket "
                              f"{t['passes']:.1f} ({100 * t['val_accuracy']:.2f} %): {t['gap_points']:+.2f} points, "
                              f"{'within' if t['meets_target'] else 'outside'} the "
                              f"{-100 * TICKET_GAP_AIM:.0f}-point target")
    if pulls and all(pulls):   # every shorter probe: the dense aim met, the gap target missed
        middle.append("training the dense network longer buys its aim and costs the gap: the two targets pull apart")
    split = (f"on the same {n_vals.pop():,}-image split" if len(n_vals) == 1 and None not in n_vals
             else "on the same seeded split")
    return {"result": "; ".join(result), "verdict": verdict, "rule": rule,
            "middle": "; ".join(middle) or "not measured",
            "offset": ("; ".join(offset_words) + f" points (means over the test-set probe's runs, every seed, "
                       f"{split})" if offset_words else "not recorded"),
            "aims": "; ".join(aims)}


def longer_book_frame(path: Path | None = None) -> pd.DataFrame:
    """The book's own LTH tickets trained longer (``ceiling.json`` ``book_tickets``, test set), one
    column per network: ticket minus dense network (points) of every seed after each number of
    passes, their mean, sample standard deviation and 95 % t interval of the mean, and the paired
    difference between the most and fewest passes with its 95 % interval."""
    path = path or RESULTS / "ceiling.json"
    rec = json.loads(path.read_text()).get("book_tickets") if path.exists() else None
    if not rec:
        return pd.DataFrame()
    own = f" (the build at {rec['book_commit'][:7]})" if rec.get("book_commit") else " (this book's run)"
    cols = {}
    for arch, r in sorted(rec["archs"].items(), key=lambda kv: _arch_order(kv[0])):
        col = {}
        for p in sorted(map(int, r["gap"])):
            for x in (x for x in r["rows"] if x["passes"] == p):
                col[f"{_passes(p)}: seed {x['seed']}" + (own if x["seed"] == 0 else "")] = \
                    x["gap_test_points"]
            m, low, high = mean_t([x["gap_test_points"] for x in r["rows"] if x["passes"] == p])
            col[f"{_passes(p)}: mean"], col[f"{_passes(p)}: sample sd"] = m, r["gap"][str(p)]["std"]
            col[f"{_passes(p)}: mean, 95 % low"], col[f"{_passes(p)}: mean, 95 % high"] = low, high
        if r.get("longer_minus_book"):
            lo_p, hi_p = min(map(int, r["gap"])), max(map(int, r["gap"]))
            what = f"{hi_p} minus {lo_p} passes (paired)"
            for k, v in zip(("mean", "95 % low", "95 % high"), r["longer_minus_book"]):
                col[f"{what}: {k}"] = v
        cols[ARCH_LABELS.get(arch, arch)] = col
    return pd.DataFrame(cols).astype(float).round(2)


def _passes(n: float) -> str:
    """"1 pass", "2 passes"."""
    return f"{n:g} pass{'es' * (n != 1)}"


def _verdict(values: Sequence[float], low: float, high: float, bound: float, what: str) -> str:
    """Whether ``values`` (one per seed) and the interval [low, high] of their mean clear ``bound``."""
    above, below = all(v >= bound for v in values), all(v < bound for v in values)
    if len(values) == 1:
        return f"{'clears' if above else 'misses'} {what} (one draw)"
    if above and low >= bound:
        return f"every seed and the interval clear {what}"
    if below and high < bound:
        return f"every seed and the interval miss {what}"
    seeds = "every seed clears" if above else "every seed misses" if below else "the seeds split on"
    return f"{seeds} {what}, but the interval includes it"


def book_tickets_text(path: Path | None = None, book_cpu: Path | None = None,
                      profile_passes: Mapping[str, int | None] | None = None) -> dict[str, str]:
    """The book's own LTH tickets trained longer (``ci/ceiling.py --runs``, ``book_tickets``) in words:
    ``tickets`` (the book's runs, seed 0: test accuracy and ticket minus dense after each number of
    passes), ``meets`` (the mean gap over the seeds after the most passes with its 95 % interval,
    against the 2-point target), ``recovered`` (the share of the fewest-passes gap the extra passes
    recovered, paired over the seeds), ``threads`` (seeds whose shorter and longer tickets trained on
    different thread counts), ``aims`` (the LTH accuracy after the most passes against its aim) and
    ``dense`` (the dense networks against theirs), ``cost`` (what the extra passes would add to the
    cpu book, normalised minutes, against its 60; per network where the record has it, and where
    ``profile_passes`` ({arch: the cpu profile's ticket passes}) already trains a network's tickets
    that long, that this build paid for them), ``build`` (the build whose runs are seed 0)."""
    path = path or RESULTS / "ceiling.json"
    rec = json.loads(path.read_text()).get("book_tickets") if path.exists() else None
    keys = ("tickets", "meets", "recovered", "threads", "aims", "dense", "cost", "build")
    if not rec:
        return {k: "not recorded" for k in keys}
    tickets, meets, recovered, threads, aims, dense = [], [], [], [], [], []
    for arch, r in sorted(rec["archs"].items(), key=lambda kv: _arch_order(kv[0])):
        name = ARCH_LABELS.get(arch, arch)
        own = [x for x in r["rows"] if x.get("seed", 0) == 0]
        steps = ", ".join(f"{100 * x['test_accuracy']:.1f} % after {_passes(x['passes'])} "
                          f"({x['gap_test_points']:+.2f} points against its dense network"
                          + (f"; {x['gap_val_points']:+.2f} on validation" if x.get("gap_val_points") is not None
                             else "") + ")" for x in own)
        tickets.append(f"{name}: {steps}" + ("" if r.get("same_mask") else " (the masks differ)"))
        fewest, most = min(map(int, r["gap"])), max(map(int, r["gap"]))
        last = [x for x in r["rows"] if x["passes"] == most]
        mean, low, high = mean_t([x["gap_test_points"] for x in last])
        n = len(last)
        meets.append(f"{name}'s mean gap after {_passes(most)} {mean:+.2f} points"
                     + (f" (95 % interval [{low:+.2f}, {high:+.2f}] over {n} seeds)" if n > 1 else "")
                     + f": {_verdict([x['gap_test_points'] for x in last], low, high, 100 * TICKET_GAP_AIM, 'the target')}")
        if r.get("longer_minus_book"):
            d, d_lo, d_hi = r["longer_minus_book"]
            base = -r["gap"][str(fewest)]["mean"]
            if base > 0:
                recovered.append(f"{name} {100 * d / base:.0f} % of its {fewest}-pass gap "
                                 f"({100 * d_lo / base:.0f}-{100 * d_hi / base:.0f} %: the paired interval over "
                                 f"the mean {fewest}-pass gap, whose own spread it leaves out)")
        by_seed: dict[int, set] = {}
        for x in r["rows"]:
            by_seed.setdefault(x["seed"], set()).add(x.get("threads"))
        mixed = [str(k) for k, t in by_seed.items() if len(t) > 1]   # a run's floats depend on its threads
        if mixed:
            threads.append(f"{name}'s seed{'s' * (len(mixed) > 1)} {' and '.join(mixed)}")
        if arch in AIMS:
            m, lo, hi = mean_t([100 * x["test_accuracy"] for x in last])
            aims.append(f"{name} {m:.1f} %" + (f" [{lo:.1f}, {hi:.1f}]" if n > 1 else "") + f" against "
                        f"{100 * AIMS[arch]:.0f} %: "
                        + _verdict([100 * x["test_accuracy"] for x in last], lo, hi, 100 * AIMS[arch], "the aim"))
        if arch in DENSE_AIMS:
            dense_accs = {x["seed"]: 100 * x["dense_test_accuracy"] for x in r["rows"]}
            dm = sum(dense_accs.values()) / len(dense_accs)
            dense.append(f"{name} {dm:.1f} % (mean of {len(dense_accs)} seed{'s' * (len(dense_accs) != 1)}) "
                         f"against {100 * DENSE_AIMS[arch]:.0f} %")
    base_p = min(x["passes"] for r in rec["archs"].values() for x in r["rows"])
    book = book_cpu or RESULTS / "book_cpu.json"
    total = json.loads(book.read_text())["normalised_seconds"] / 60 if book.exists() else None
    how = "the u-Ticket tickets counted at their LTH tickets' time per pass"

    if rec.get("book_normalised_minutes") is not None:   # the estimate is that build's: add it to its total
        total = rec["book_normalised_minutes"]
        which = f"that build's ({rec['book_commit'][:7]})" if rec.get("book_commit") else "this build's"
    else:
        which = "this build's"

    def within(m: float) -> str:
        return (f", which would take {which} {total:.1f} to about {total + m:.1f}: "
                f"{'more than' if total + m > 60 else 'within'} the 60 of its budget" if total is not None else "")
    per_arch = {a: r["extra_normalised_minutes"] for a, r in rec["archs"].items() if r.get("extra_normalised_minutes")}
    if per_arch:   # per network; a network whose tickets the profile already trains that long was paid for
        costs = []
        for arch in sorted(per_arch, key=_arch_order):
            for p, m in per_arch[arch].items():
                name = ARCH_LABELS.get(arch, arch)
                paid = (profile_passes or {}).get(arch)
                if paid is not None and paid >= int(p):
                    costs.append(f"{name}'s two tickets at {_passes(int(p))} about {m:g} normalised minutes by this "
                                 f"estimate{within(m)}; the profile now spends them (this build trained them "
                                 f"{_passes(paid)})")
                else:
                    costs.append(f"{name}'s two tickets at {_passes(int(p))} instead of {_passes(base_p)} about {m:g} "
                                 f"normalised minutes ({how}){within(m)}")
    else:
        costs = [f"about {m:g} normalised minutes ({_passes(int(p))} instead of {_passes(base_p)}; the u-Ticket "
                 f"tickets, not trained longer here, counted at their LTH tickets' time per pass){within(m)}"
                 for p, m in rec["extra_normalised_minutes"].items()]
    return {"tickets": "; ".join(tickets), "meets": "; ".join(meets),
            "build": f"the build at {rec['book_commit'][:7]}" if rec.get("book_commit") else "this book's build",
            "recovered": "; ".join(recovered) or "not measured over seeds",
            "threads": ("; ".join(threads) + " trained the shorter and the longer tickets on different thread counts, "
                        "another draw besides the passes") if threads else "Every pair trained on the same threads",
            "aims": "; ".join(aims), "dense": "; ".join(dense), "cost": "; ".join(costs)}


