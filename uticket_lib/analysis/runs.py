"""Runs on disk: running or reusing experiments, their levels, per-image predictions and the cached
hardware report of a level (keyed by the mask's content and the hardware model's version).

Every function that takes ``level=None`` means the run's last completed level (``level_of``).
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
import torch

from .. import data as datalib
from .. import hardware, io, lottery, parallel, paths, profiles, runstore
from ..config import RunConfig, stable_hash
from . import stats


# The methods every chapter compares, baseline first: analysis names them here once. A chapter
# that shows another method passes ``methods=("lth", "<its key>")`` (pruning.methods.METHODS).
COMPARED = ("lth", "uticket")
METHODS = COMPARED   # the name chapters used before the registry


def overrides(seed: int = 0, n_pe: int = 16, width: float | None = None, levels: int | None = None,
              epochs: int | None = None, train_subset: int | None = None,
              **extra: Any) -> dict[str, Any]:
    """Config overrides from a notebook's parameters cell; ``None`` keeps the profile's value.

    ``epochs`` trains every pruning round that long, the last one included (it clears a profile's
    ``train.epochs_final``). ``extra`` takes config keys with dots written as double underscores
    (``train__lr=0.05``), applied last.
    """
    out: dict[str, Any] = {"train.seed": seed, "balance.seed": seed, "balance.n_pe": n_pe}
    optional = {"model.width": width, "prune.levels": levels, "train.epochs": epochs,
                "data.train_subset": train_subset}
    out.update({k: v for k, v in optional.items() if v is not None})
    if epochs is not None:
        out["train.epochs_final"] = None
    out.update({k.replace("__", "."): v for k, v in extra.items()})
    return out


def archs(text: str) -> list[str]:
    """"vgg16,resnet19" -> ["vgg16", "resnet19"] (papermill-friendly list parameter)."""
    return [a.strip() for a in text.split(",") if a.strip()]


def experiment(profile: str, arch: str = "vgg16", dataset: str = "fmnist", method: str = "lth",
               overrides: Mapping[str, Any] | None = None, progress: bool = False) -> Path:
    """Run (or reuse from the run cache) one configuration of a profile; returns its run directory."""
    return lottery.run(profiles.get(profile, arch, dataset, method, overrides), progress=progress)


def pair(profile: str, arch: str = "vgg16", dataset: str = "fmnist",
         overrides: Mapping[str, Any] | None = None, progress: bool = False,
         methods: Sequence[str] = COMPARED) -> dict[str, Path]:
    """The baseline and the candidate run of one configuration, in that order:
    {"lth": dir, "uticket": dir} by default (``methods``); trained side by side where that is
    faster (``parallel.run_all``)."""
    return pairs(profile, [arch], dataset, overrides, progress, methods)[arch]


def pairs(profile: str, arch_list: str | Iterable[str], dataset: str = "fmnist",
          overrides: Mapping[str, Any] | None = None, progress: bool = False,
          methods: Sequence[str] = COMPARED) -> dict[str, dict[str, Path]]:
    """``pair`` for every architecture: {arch: {"lth": dir, "uticket": dir}}.

    ``arch_list`` may be a notebook's comma-separated ``ARCHS`` string.
    """
    names = archs(arch_list) if isinstance(arch_list, str) else list(arch_list)
    cfgs = {(a, m): profiles.get(profile, a, dataset, m, overrides) for a in names for m in methods}
    dirs = dict(zip(cfgs, parallel.run_all(list(cfgs.values()), progress=progress)))
    return {a: {m: dirs[(a, m)] for m in methods} for a in names}


def roles(pair: Mapping[str, Any]) -> tuple[str, str]:
    """(baseline, candidate): the two method keys of a pair, in its order."""
    keys = list(pair)
    if len(keys) != 2:
        raise ValueError(f"a comparison needs exactly two methods (baseline, candidate), got {keys}")
    return keys[0], keys[1]


def config(run: Path) -> RunConfig:
    return runstore.read_config(run)


# The PE count a chapter analyses every run at: its ``N_PE`` parameter (``analysis.chapter`` sets it).
# An LTH run does not depend on n_PE, so one LTH directory serves every N_PE and its config.json
# keeps the ``balance.n_pe`` of whichever chapter trained it first: reading n_PE from it would count
# LTH at 16 PEs beside a u-Ticket balanced for 32. None (outside a chapter): the run's own value.
ANALYSIS_N_PE: int | None = None


def pe_count(run: Path) -> int:
    """The n_PE to analyse ``run`` at: the chapter's (``ANALYSIS_N_PE``), else the run's config."""
    return int(ANALYSIS_N_PE) if ANALYSIS_N_PE is not None else config(run).balance.n_pe


def levels_frame(run: Path) -> pd.DataFrame:
    """One row per completed level: sparsity, accuracy, spike sparsity, time."""
    cols = ["level", "sparsity", "conv_sparsity", "test_accuracy", "best_test_accuracy",
            "spike_sparsity", "firing_rate", "nonzero_weights", "train_images_per_s", "seconds", "epochs"]
    rows = runstore.levels(run)
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows]).set_index("level")


def last_level(run: Path) -> int:
    return int(levels_frame(run).index.max())


def level_of(run: Path, level: int | None = None) -> int:
    """``level``, or the run's last completed level when ``level`` is None (the one place that rule lives)."""
    return last_level(run) if level is None else int(level)


def metrics(run: Path, level: int | None = None) -> dict:
    """metrics.json of a level (default: the last)."""
    return io.load_json(paths.metrics_path(paths.level_dir(run, level_of(run, level))))


def predictions(run: Path, level: int | None = None) -> torch.Tensor | None:
    """Per-image correctness (bool [test images]) of a level's final evaluation, or None for runs
    written before ``level_k/predictions.pt`` existed (claims that need it are then INCONCLUSIVE)."""
    path = paths.predictions_path(paths.level_dir(run, level_of(run, level)))
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=True).bool()


def paired_accuracy(run_a: Path, run_b: Path, level_a: int | None = None, level_b: int | None = None):
    """``stats.PairedDiff`` of accuracy(A) - accuracy(B) over the same test images, or None when a
    level has no ``predictions.pt`` (older runs) or the two were evaluated on different test sets."""
    a, b = predictions(run_a, level_a), predictions(run_b, level_b)
    if a is None or b is None or a.numel() != b.numel():
        return None
    return stats.paired_difference(a, b)


# ----------------------------------------------------------------------------- cache keys
def file_digest(path: Path) -> str:
    """sha256 of a file's bytes (the content, not its name or time)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def hardware_version() -> str:
    """sha256 over the sources of ``uticket_lib/hardware/*.py`` (name and bytes, sorted by name):
    any edit to the accelerator model changes it, so cached reports cannot outlive the model."""
    h = hashlib.sha256()
    for f in sorted(Path(hardware.__file__).parent.glob("*.py")):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def hardware_key(mask_file: Path, options: dict) -> str:
    """Cache key of a hardware report: the mask file's content, the hardware model's version and the
    report options (n_PE, mode, T, spike sparsity, energy preset, ...)."""
    return stable_hash({"mask_sha256": file_digest(mask_file), "hardware": hardware_version(),
                        "options": options})


@functools.lru_cache(maxsize=16)
def _layers(arch: str, width: float, timesteps: int, dataset: str) -> tuple:
    spec = datalib.DATASETS[dataset]
    cfg = RunConfig().replace(**{"model.arch": arch, "model.width": width,
                                 "model.timesteps": timesteps, "data.dataset": dataset})
    return tuple(hardware.trace(runstore.build_model(cfg), (1, spec.in_channels, 32, 32)))


def layers(run: Path) -> list:
    """Layer geometry of a run's network (traced once per architecture and width)."""
    c = config(run)
    return list(_layers(c.model.arch, c.model.width, c.model.timesteps, c.data.dataset))


def hardware_report(run: Path, level: int | None = None, **options: Any) -> dict:
    """``hardware.report`` of one level's mask, cached as JSON in ``level_k/hw_<key>/``.

    Defaults: the chapter's n_PE (``pe_count``: else the run's ``balance.n_pe``), output-mode cycles, the run's T,
    and Eq. 3's S = the level's measured network spike sparsity. The key (``hardware_key``) covers
    the mask file's content, the hardware sources and the options, so a changed mask or model is
    recomputed. Event modes need recorded inputs and are not cached here.
    """
    level = level_of(run, level)
    c = config(run)
    here = paths.level_dir(run, level)
    m = io.load_json(paths.metrics_path(here))
    opts = {"n_pe": pe_count(run), "mode": "output", "timesteps": c.model.timesteps,
            "spike_sparsity": m["spike_sparsity"], **options}
    cache = paths.hardware_dir(here, hardware_key(paths.mask_path(here), opts)) / "report.json"
    if cache.exists():
        return io.load_json(cache)
    result = hardware.report(runstore.load_masks(run, level), layers(run), **opts)
    io.save_json(result, cache)
    return result


def utilization_frame(run: Path, **options: Any) -> pd.DataFrame:
    """Per level: sparsity and the network's work, idle, latency, utilization and energy."""
    rows = []
    for lv in levels_frame(run).index:
        net = hardware_report(run, int(lv), **options)["network"]
        rows.append({"level": int(lv), "sparsity": net["weight_sparsity"],
                     **{k: net[k] for k in ("work", "idle", "latency", "utilization", "energy")}})
    return pd.DataFrame(rows).set_index("level")


def method_levels(pairs: Mapping[str, Mapping[str, Path]], methods=("lth", "uticket"),
                  utilization: bool = False) -> pd.DataFrame:
    """Long table over archs, methods and levels: sparsity, accuracy, spike sparsity, seconds.

    ``pairs``: {arch: {method: run dir}} (what ``analysis.pair`` returns, per arch). Adds the
    sparsity that plain repeated pruning would reach (``expected_sparsity``: 1 - (1-p)^k) and, with
    ``utilization``, the network utilization of Eq. 2 (16 PEs unless the run says otherwise,
    parameter-weighted) from ``analysis.hardware_report``.
    """
    frames = []
    for arch, runs in pairs.items():
        for method in methods:
            if method not in runs:
                continue
            run = runs[method]
            cfg = config(run)
            f = levels_frame(run).reset_index()
            f.insert(0, "method", method)
            f.insert(0, "arch", arch)
            f["expected_sparsity"] = [1 - (1 - cfg.prune.fraction) ** k for k in f["level"]]
            if utilization:
                f["utilization"] = [hardware_report(run, int(k), n_pe=pe_count(run))["network"]["utilization"]
                                    for k in f["level"]]
            frames.append(f)
    return pd.concat(frames, ignore_index=True)


def final_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The last level of every (arch, method) of a ``method_levels`` frame."""
    idx = frame.groupby(["arch", "method"], sort=False)["level"].idxmax()
    return frame.loc[idx].set_index(["arch", "method"])


def ticket_summary(frame: pd.DataFrame, method: str = "lth") -> pd.DataFrame:
    """Per arch, the final level of ``method`` from a ``method_levels`` frame next to the dense
    level: level, sparsity, expected sparsity, accuracy, spike sparsity, dense accuracy and the
    accuracy drop in points (dense - final)."""
    f = frame[frame["method"] == method]
    fin = final_rows(f).reset_index(level="method", drop=True)
    dense = f[f["level"] == 0].set_index("arch")["test_accuracy"]
    out = fin[["level", "sparsity", "expected_sparsity", "test_accuracy", "spike_sparsity"]].copy()
    out["dense accuracy"] = dense
    out["accuracy drop (points)"] = 100 * (out["dense accuracy"] - out["test_accuracy"])
    return out


Runs = Mapping[str, Mapping[str, Path]]          # {arch: {"lth": dir, "uticket": dir}}


def dataset_of(runs: Runs) -> str:
    """The dataset of the runs (the first run's config)."""
    first = next(iter(next(iter(runs.values())).values()))
    return config(first).data.dataset


def test_images(run: Path, n: int = 8) -> torch.Tensor:
    """The first ``n`` images of a seeded subset of the run's test set, [n, C, 32, 32]."""
    c = config(run)
    ds = datalib.dataset(c.data.dataset, train=False, root=c.data.root, augment=False,
                         subset=n, subset_seed=c.data.subset_seed)
    return torch.stack([ds[i][0] for i in range(min(n, len(ds)))])


def record(run: Path, level: int | None = None, n_images: int = 8) -> dict:
    """Input spike patterns of every layer of a level's trained network on ``n_images`` test images."""
    level = level_of(run, level)
    return hardware.record_inputs(runstore.load_model(run, level), test_images(run, n_images),
                                  config(run).model.timesteps)


def event_report(run: Path, level: int | None = None, mode: str = "events", inputs: dict | None = None,
                 n_images: int = 8, **options: Any) -> dict:
    """``hardware.report`` of a level in an event mode, from spikes recorded on a few test images."""
    level = level_of(run, level)
    inputs = record(run, level, n_images) if inputs is None else inputs
    options = {"n_pe": pe_count(run), **options}
    return hardware.report(runstore.load_masks(run, level), layers(run), mode=mode, inputs=inputs,
                           timesteps=config(run).model.timesteps, memory=False, **options)
