"""From runs on disk to the tables, hardware figures and claim checks that the book shows.

Chapter-specific helpers live in ``analysis.learning`` (chapters 1-4, 9) and
``analysis.hw`` (chapters 5-8, 10); this module holds what every chapter shares.
"""
from __future__ import annotations

import functools
import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from .. import data as datalib
from .. import hardware, io, lottery, paths, profiles
from ..config import RunConfig, from_dict, stable_hash

CLAIM_MARKER = "Claims checked (profile"   # ci/check_html.py looks for this text
METHODS = lottery.METHODS
# Display names shared by every table and figure.
METHOD_LABELS = {"lth": "LTH", "uticket": "u-Ticket"}
ARCH_LABELS = {"vgg16": "VGG-16", "resnet19": "ResNet-19"}
DATASET_LABELS = {"fmnist": "FMNIST", "cifar10": "CIFAR10", "svhn": "SVHN"}


# ----------------------------------------------------------------------------- how tables print
_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def plain_number(x: float) -> str:
    """A float as a reader wants it in a table: 12,600,000 and 0.987, never 1.26e+07.

    Magnitudes from 1,000 up get thousands separators and no decimals; from 0.001 three decimals;
    smaller non-zero values two significant digits times a power of ten (1.8×10⁻⁷)."""
    if x != x:  # NaN: pandas prints its own marker before calling this; kept for direct calls
        return "–"
    ax = abs(x)
    if ax >= 1000:
        return f"{x:,.0f}"
    if ax >= 0.001 or ax == 0:
        return f"{x:.3f}"
    mantissa, exp = f"{x:.1e}".split("e")
    return f"{mantissa}×10{str(int(exp)).translate(_SUPERSCRIPT)}"


# Every chapter imports this module: its DataFrames print in plain units.
pd.set_option("display.float_format", plain_number)
# ... no column or cell text hidden behind "...": wide tables scroll sideways on the page instead
pd.set_option("display.max_columns", None)
pd.set_option("display.max_colwidth", None)


# ----------------------------------------------------------------------------- running experiments
def overrides(seed: int = 0, n_pe: int = 16, width: float | None = None, levels: int | None = None,
              epochs: int | None = None, train_subset: int | None = None,
              **extra: Any) -> dict[str, Any]:
    """Config overrides from a notebook's parameters cell; ``None`` keeps the profile's value.

    ``extra`` takes config keys with dots written as double underscores (``train__lr=0.05``).
    """
    out: dict[str, Any] = {"train.seed": seed, "balance.seed": seed, "balance.n_pe": n_pe}
    optional = {"model.width": width, "prune.levels": levels, "train.epochs": epochs,
                "data.train_subset": train_subset}
    out.update({k: v for k, v in optional.items() if v is not None})
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
         overrides: Mapping[str, Any] | None = None, progress: bool = False) -> dict[str, Path]:
    """The LTH baseline and the u-Ticket run of one configuration: {"lth": dir, "uticket": dir}."""
    return {m: experiment(profile, arch, dataset, m, overrides, progress) for m in METHODS}


def pairs(profile: str, arch_list: str | Iterable[str], dataset: str = "fmnist",
          overrides: Mapping[str, Any] | None = None, progress: bool = False) -> dict[str, dict[str, Path]]:
    """``pair`` for every architecture: {arch: {"lth": dir, "uticket": dir}}.

    ``arch_list`` may be a notebook's comma-separated ``ARCHS`` string.
    """
    names = archs(arch_list) if isinstance(arch_list, str) else list(arch_list)
    return {a: pair(profile, a, dataset, overrides, progress) for a in names}


def config(run: Path) -> RunConfig:
    return from_dict(io.load_json(paths.config_path(run)))


def levels_frame(run: Path) -> pd.DataFrame:
    """One row per completed level: sparsity, accuracy, spike sparsity, time."""
    cols = ["level", "sparsity", "conv_sparsity", "test_accuracy", "best_test_accuracy",
            "spike_sparsity", "firing_rate", "nonzero_weights", "train_images_per_s", "seconds"]
    rows = lottery.levels(run)
    return pd.DataFrame([{c: r.get(c) for c in cols} for r in rows]).set_index("level")


def last_level(run: Path) -> int:
    return int(levels_frame(run).index.max())


# ----------------------------------------------------------------------------- hardware of a run
@functools.lru_cache(maxsize=16)
def _layers(arch: str, width: float, timesteps: int, dataset: str) -> tuple:
    spec = datalib.DATASETS[dataset]
    cfg = RunConfig().replace(**{"model.arch": arch, "model.width": width,
                                 "model.timesteps": timesteps, "data.dataset": dataset})
    return tuple(hardware.trace(lottery.build_model(cfg), (1, spec.in_channels, 32, 32)))


def layers(run: Path) -> list:
    """Layer geometry of a run's network (traced once per architecture and width)."""
    c = config(run)
    return list(_layers(c.model.arch, c.model.width, c.model.timesteps, c.data.dataset))


def hardware_report(run: Path, level: int | None = None, **options: Any) -> dict:
    """``hardware.report`` of one level's mask, cached as JSON in ``level_k/hw_<hash>/``.

    Defaults: the run's n_PE (``balance.n_pe``, 16 unless set), output-mode cycles, the run's T,
    and Eq. 3's S = the level's measured network spike sparsity. Event modes need recorded inputs
    and are not cached here.
    """
    level = last_level(run) if level is None else level
    c = config(run)
    here = paths.level_dir(run, level)
    metrics = io.load_json(paths.metrics_path(here))
    opts = {"n_pe": c.balance.n_pe, "mode": "output", "timesteps": c.model.timesteps,
            "spike_sparsity": metrics["spike_sparsity"], **options}
    cache = paths.hardware_dir(here, stable_hash(opts)) / "report.json"
    if cache.exists():
        return io.load_json(cache)
    result = hardware.report(lottery.load_masks(run, level), layers(run), **opts)
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


# ----------------------------------------------------------------------------- glue and claims
def glue(name: str, value: Any, fmt: str | None = None) -> Any:
    """Publish a number for the book's prose: ``{glue:md}`name``` in markdown.

    With ``fmt`` the value is formatted first (``fmt.format(value)``). Outside a book build this is
    a no-op that returns the value.
    """
    text = fmt.format(value) if fmt else str(value)
    try:
        from IPython.display import Markdown
        from myst_nb import glue as _glue
    except ImportError:  # plain Python: nothing to publish
        return value
    _glue(name, Markdown(text), display=False)
    return value


@dataclass(frozen=True)
class Claim:
    """A statement of the paper turned into a check on this build's numbers."""
    statement: str       # what is claimed, in checkable form
    measured: str        # what this build measured
    passed: bool
    source: str = ""     # where the paper says it (table, figure, section)


def claim(statement: str, measured: Any, passed: bool, source: str = "", fmt: str = "{:.3f}") -> Claim:
    text = fmt.format(measured) if isinstance(measured, (int, float)) and fmt else str(measured)
    return Claim(statement, text, bool(passed), source)


def claims_html(claims: Iterable[Claim], profile: str) -> str:
    """The claim table every chapter ends with (``CLAIM_MARKER`` starts it)."""
    rows = "".join(
        f"<tr><td>{html.escape(c.statement)}</td><td>{html.escape(c.source)}</td>"
        f"<td>{html.escape(c.measured)}</td>"
        f"<td class=\"{'claim-pass' if c.passed else 'claim-fail'}\"><b>{'PASS' if c.passed else 'FAIL'}</b></td></tr>"
        for c in claims)
    return (f'<div class="uticket-claims"><p><strong>{CLAIM_MARKER} {html.escape(profile)})'
            f"</strong></p><table><thead><tr><th>claim</th><th>paper</th><th>measured</th>"
            f"<th>result</th></tr></thead><tbody>{rows}</tbody></table></div>")


def show_claims(claims: Iterable[Claim], profile: str):
    """Display the claim table in a notebook (and return the claims for further use)."""
    claims = list(claims)
    from IPython.display import HTML, display
    display(HTML(claims_html(claims, profile)))
    return claims
