"""Where the paper and the released code disagree: one switch per discrepancy, the extra runs with
the code's behaviour, and the tables that compare them with the paper's behaviour.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .. import io, lottery, paper, parallel, paths, profiles
from ..config import RunConfig
from .labels import ARCH_LABELS, DATASET_LABELS
from .labels import name as label_name
from .runs import config, hardware_report, level_of, levels_frame, pe_count


SWITCHES: dict[str, dict[str, Any]] = {
    "weight_decay": {"label": "(a) weight decay not applied", "key": "train.released_weight_decay",
                     "paper": False, "code": True, "kind": "training",
                     "note": "weight decay 5e-4 passed where the optimizer expects dampening"},
    "rewind": {"label": "(b) biases not rewound", "key": "prune.released_rewind",
               "paper": False, "code": True, "kind": "training",
               "note": "biases and BN statistics keep the previous round's trained values"},
    "carry": {"label": "(c) balanced mask not carried", "key": "balance.carry",
              "paper": True, "code": False, "kind": "training",
              "note": "the next round prunes the unbalanced mask; recovered weights do not carry over"},
    "et": {"label": "(f) early-time ticket", "key": "prune.search_timesteps",
           "paper": None, "code": "et", "kind": "training",
           "note": "search rounds at the T chosen by find_ET_ticket (always 2); the last level at T=4"},
    "weighting": {"label": "(d) unweighted network utilization", "key": "weighting",
                  "paper": "params", "code": "mean", "kind": "analysis",
                  "note": "layers averaged with equal weight instead of by parameter count"},
    "avg": {"label": "(e) ceil average in Eq. 2", "key": "avg", "paper": "mean", "code": "ceil",
            "kind": "analysis", "note": "T_avg rounded up to whole weights"},
}


def training_switches() -> list[str]:
    return [k for k, s in SWITCHES.items() if s["kind"] == "training"]


def switch_configs(profile: str, arch: str = "vgg16", dataset: str = "fmnist",
                   overrides: Mapping[str, Any] | None = None, levels: int = 3,
                   method: str = "uticket") -> dict[str, RunConfig]:
    """One u-Ticket run configuration per training switch set to the released code's behaviour,
    with ``levels`` levels (``prune.levels`` is not hashed: a run with fewer levels is a prefix of
    the same configuration with more)."""
    base = {**dict(overrides or {}), "prune.levels": levels}
    return {name: profiles.get(profile, arch, dataset, method,
                               {**base, SWITCHES[name]["key"]: SWITCHES[name]["code"]})
            for name in training_switches()}


def switch_runs(configs: Mapping[str, RunConfig], datasets=None, progress: bool = False,
                baselines: Mapping[str, RunConfig] | None = None) -> dict[str, Path]:
    """Run (or reuse from the cache) every switch configuration, and the ``baselines`` beside them
    (named configs, e.g. the paper-behaviour u-Ticket and LTH runs): {name: run dir}, switches first.
    Without ``datasets`` they train side by side where that is faster (``parallel.run_all``); with
    them (tests' synthetic data) one after another in this process."""
    every = {**dict(configs), **dict(baselines or {})}
    if datasets is not None:
        return {name: lottery.run(cfg, datasets=datasets, progress=progress) for name, cfg in every.items()}
    return dict(zip(every, parallel.run_all(list(every.values()), progress=progress)))


def _level_summary(run: Path, level: int, **options: Any) -> dict:
    m = io.load_json(paths.metrics_path(paths.level_dir(run, level)))
    n_pe = pe_count(run)
    net = hardware_report(run, level, **{"n_pe": n_pe, **options})["network"]
    seconds = sum(io.load_json(paths.metrics_path(paths.level_dir(run, k)))["seconds"]
                  for k in range(level + 1))
    return {"accuracy": m["test_accuracy"], "sparsity": m["sparsity"],
            "spike sparsity": m["spike_sparsity"], "utilization": net["utilization"],
            "seconds": seconds, "timesteps": m.get("timesteps")}


def switch_levels(baseline: Path, runs: Mapping[str, Path], levels: int | None = None) -> pd.DataFrame:
    """Long table per setting (paper = ``baseline``, and each switch) and level < ``levels``:
    accuracy, sparsity, spike sparsity, utilization, cumulative seconds, timesteps."""
    rows = []
    sources = {"paper behaviour": baseline, **{SWITCHES[k]["label"]: r for k, r in runs.items()}}
    for setting, run in sources.items():
        for level in levels_frame(run).index:
            if levels is not None and level >= levels:
                continue
            rows.append({"setting": setting, "level": int(level), **_level_summary(run, int(level))})
    return pd.DataFrame(rows)


def switch_table(baseline: Path, lth: Path, runs: Mapping[str, Path], level: int) -> pd.DataFrame:
    """The paper-vs-code comparison at one level, one row per switch (a)-(e).

    Training switches compare the switch's u-Ticket run with ``baseline`` (the paper behaviour,
    same configuration otherwise); analysis switches recompute the utilization of the LTH run
    ``lth`` and of ``baseline`` with the code's option. Columns: switch, config key, run, then
    paper / code / difference (code - paper) for accuracy, sparsity, spike sparsity, utilization
    and seconds (training time of levels 0..level together: the cost of the search).
    """
    rows = []
    base = _level_summary(baseline, level)
    for name, s in SWITCHES.items():
        if s["kind"] == "training":
            if name not in runs:
                continue
            pairs = [("u-Ticket", base, _level_summary(runs[name], level))]
        else:
            pairs = []
            for label, run in (("LTH", lth), ("u-Ticket", baseline)):
                p = _level_summary(run, level, **{s["key"]: s["paper"]})
                c = _level_summary(run, level, **{s["key"]: s["code"]})
                pairs.append((label, p, c))
        for label, p, c in pairs:
            row = {"switch": s["label"], "config key": s["key"], "run": label}
            for metric in ("accuracy", "sparsity", "spike sparsity", "utilization", "seconds"):
                row[f"{metric} paper"] = p[metric]
                row[f"{metric} code"] = c[metric]
                row[f"{metric} diff"] = c[metric] - p[metric]
            rows.append(row)
    return pd.DataFrame(rows).set_index(["switch", "run"])


def by_metric(table: pd.DataFrame) -> pd.DataFrame:
    """``switch_table`` for reading: one row per (switch, run, metric) with the columns paper, code and
    diff (the table's fifteen value columns side by side are wider than a page); the config key is
    left out (the list of switches gives it)."""
    values = table.drop(columns=["config key"], errors="ignore")
    values.columns = pd.MultiIndex.from_tuples([tuple(c.rsplit(" ", 1)) for c in values.columns],
                                               names=["metric", None])
    metrics = list(dict.fromkeys(values.columns.get_level_values(0)))
    out = values.stack(level="metric", future_stack=True)
    return out.reindex(pd.MultiIndex.from_tuples(
        [(*i, m) for i in table.index for m in metrics], names=[*table.index.names, "metric"]))[["paper", "code", "diff"]]


def analysis_switch_table(pairs: Mapping[str, Mapping[str, Path]], level: int | None = None) -> pd.DataFrame:
    """Switches (d) and (e) on every run of ``pairs`` ({arch: {method: run}}) at one level (default:
    each run's last): network utilization with the paper's choice and the code's, per switch."""
    rows = []
    for arch, runs in pairs.items():
        for method, run in runs.items():
            lv = level_of(run, level)
            n_pe = pe_count(run)
            row = {"arch": ARCH_LABELS.get(arch, arch), "method": label_name(method),
                   "level": lv}
            for name in ("weighting", "avg"):
                s = SWITCHES[name]
                for side in ("paper", "code"):
                    rep = hardware_report(run, lv, n_pe=n_pe, **{s["key"]: s[side]})
                    row[f"{s['key']}={s[side]}"] = rep["network"]["utilization"]
            rows.append(row)
    return pd.DataFrame(rows).set_index(["arch", "method"])


def paper_sparsity_gap_text(arch: str, dataset: str) -> str:
    """The paper's u-Ticket minus LTH weight sparsity (Table I) for ``arch`` on ``dataset``, as book
    text, or a note that Table I has no such row."""
    rows = [paper.TABLE_I.get((arch, dataset, m)) for m in ("lth", "uticket")]
    if not all(rows):
        return "(no Table I row for this dataset)"
    gap = rows[1]["weight_sparsity"] - rows[0]["weight_sparsity"]
    return f"{gap:+.1f} points ({ARCH_LABELS.get(arch, arch)}, {DATASET_LABELS.get(dataset, dataset)})"
