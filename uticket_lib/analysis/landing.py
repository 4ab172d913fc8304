"""The book's landing summary: this build against the paper, at a glance, generated (never typed).

``render(profile, claims_dir, ...)`` returns MyST markdown with, in a reader's order,

- one sentence on how far the reproduction gets (``summary_sentence``);
- the headline metrics (``claims.HEADLINE``: accuracy, sparsity, LTH imbalance, latency, PE and
  system energy, balancing cost) per network, this build against the paper with the verdict of the
  claim on each (and the ratio where it is a size), from the claims' ``headline`` records, and the
  dot plot of those ratios (``plotting.summary``, drawn by the caller, who passes its path);
- a box naming every way this build is smaller than the paper (width, data, training images, test
  images, epochs, pruning rounds, accuracy), computed from ``profiles.get(profile)`` against
  ``profiles.get("paper")`` on the same dataset (the paper reports all three of its datasets);
- every reproduction claim with the paper's value, this build's, their ratio and the verdict,
  grouped into the paper's results, the released code, related work and this book's own extensions,
  folded into a dropdown;
- the claim verdicts per chapter, counted by kind (reproduction PASS / DIRECTION / FAIL /
  INCONCLUSIVE; the calibrations and implementation checks counted apart).

``ci/run_notebooks.py`` writes it to ``book/executed/results.md`` after every run; the book's
introduction includes that file.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Mapping

from .. import profiles
from ..config import RunConfig
from ..data import SPLIT_SIZES
from ..validation import pass_images
from .labels import ARCH_LABELS
from .claims import HEADLINE, KINDS, NOT_IN_PAPER, REL_TOL, VERDICTS
from .labels import ARCH_LABELS



def final_epochs(cfg: RunConfig) -> int:
    """Epochs of a run's last pruning round: ``train.epochs_final`` where set, else ``train.epochs``."""
    return cfg.train.epochs_final if cfg.train.epochs_final is not None else cfg.train.epochs


def total_epochs(cfg: RunConfig) -> int:
    """Training epochs of one run: the dense round plus every pruning round (the last one
    ``train.epochs_final`` where set)."""
    rounds = cfg.prune.levels - 1
    final = final_epochs(cfg) if rounds else cfg.train.epochs
    return cfg.train.epochs_dense + max(0, rounds - 1) * cfg.train.epochs + (final if rounds else 0)


def round_epochs(cfg: RunConfig) -> str:
    """The pruning rounds' epochs in words: "6 x 2", or "2 x 1 + 1 x 3" with ``train.epochs_final``."""
    rounds = cfg.prune.levels - 1
    if cfg.train.epochs_final is None or cfg.train.epochs_final == cfg.train.epochs or rounds < 1:
        return f"{rounds} x {cfg.train.epochs}"
    head = f"{rounds - 1} x {cfg.train.epochs} + " if rounds > 1 else ""
    return f"{head}1 x {cfg.train.epochs_final}"


def images(cfg: RunConfig, train: bool) -> int:
    """Images a run trains on (``train``) or is tested on: the subset, else the whole split."""
    subset = cfg.data.train_subset if train else cfg.data.test_subset
    full = SPLIT_SIZES[cfg.data.dataset][0 if train else 1]
    return min(subset, full) if subset else full


def scale_gaps(profile: str, arch: str = "vgg16", dataset: str = "fmnist") -> list[tuple[str, str, str]]:
    """(aspect, this build, the paper) for every way ``profile`` is smaller than the paper."""
    ours = profiles.get(profile, arch, dataset)
    ref = profiles.get("paper", arch, dataset)   # the paper reports every dataset: compare like with like
    rows = []
    if ours.model.width != ref.model.width:
        rows.append(("network width", f"{ours.model.width:g} x the channels "
                     f"(about {100 * ours.model.width ** 2:.1f} % of the weights)", f"{ref.model.width:g}"))
    for train, what in ((True, "training images"), (False, "test images")):
        a, b = (min(pass_images(ours), images(ours, True)) if train else images(ours, False)), images(ref, train)
        if a < b:
            rows.append((what, f"{a:,}" + (" (the rest held out for validation)" if train and
                                          ours.data.val_split is not None else ""), f"{b:,}"))
    if ours.data.augment != ref.data.augment:
        rows.append(("augmentation", "on" if ours.data.augment else "none (chosen on validation)",
                     "on" if ref.data.augment else "none"))
    def epochs(c):
        return f"{total_epochs(c):,} ({c.train.epochs_dense} dense + {round_epochs(c)})"
    per_arch = {a: profiles.get(profile, a, dataset) for a in ARCH_LABELS}
    if any(total_epochs(c) < total_epochs(ref) for c in per_arch.values()):
        texts = {a: epochs(c) for a, c in per_arch.items()}   # a network's own overrides (ARCH_OVERRIDES)
        rows.append(("training epochs per run",
                     next(iter(texts.values())) if len(set(texts.values())) == 1 else
                     "; ".join(f"{ARCH_LABELS[a]}: {t}" for a, t in texts.items()), epochs(ref)))
    if ours.prune.levels != ref.prune.levels:
        rows.append(("pruning rounds",
                     f"{ours.prune.levels - 1} of {100 * ours.prune.fraction:.0f} % "
                     f"({100 * profiles.expected_sparsity(ours):.1f} % sparsity)",
                     f"{ref.prune.levels - 1} of {100 * ref.prune.fraction:.0f} % "
                     f"({100 * profiles.expected_sparsity(ref):.1f} % sparsity)"))
    def optimizer(c):
        name = {"adam": "AdamW", "sgd": "SGD with momentum"}.get(c.train.optimizer, c.train.optimizer)
        rounds = c.train.lr_rounds
        return f"{name}, lr {c.train.lr:g}" + (f", tickets {rounds:g}" if rounds not in (None, c.train.lr) else "")
    mine = {a: optimizer(profiles.get(profile, a, dataset)) for a in ARCH_LABELS}
    if set(mine.values()) != {optimizer(ref)}:
        text = (next(iter(mine.values())) if len(set(mine.values())) == 1 else
                "; ".join(f"{ARCH_LABELS[a]}: {t}" for a, t in mine.items()))
        rows.append(("optimizer", text + (" (chosen on validation)" if ours.data.val_split is not None else ""),
                     optimizer(ref)))
    def rewind(c):
        if c.prune.rewind_images is not None:
            return f"after {c.prune.rewind_images:,} training images of the dense round"
        return f"end of epoch {c.prune.rewind_epoch}"
    if rewind(ours) != rewind(ref):
        # the paper only says "re-initialization"; the epoch is the released code's (reproduction notes)
        rows.append(("rewind point", rewind(ours), rewind(ref) + " (the released code's; the paper does not say)"))
    return rows


def load_claims(claims_dir: Path) -> dict[str, list[dict]]:
    """``{chapter: [claim dict, ...]}`` from ``claims_dir/<chapter>.json`` (sorted by chapter)."""
    out = {}
    for path in sorted(Path(claims_dir).glob("*.json")):
        try:
            rows = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(rows, list):
            out[path.stem] = [r for r in rows if isinstance(r, dict)]
    return out


def verdict_counts(claims: Mapping[str, list[dict]]) -> dict[str, Counter]:
    """Per chapter: Counter of ``(kind, verdict)``."""
    return {ch: Counter((c.get("kind"), c.get("verdict")) for c in rows) for ch, rows in claims.items()}


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def short_measured(text: str, width: int = 60) -> str:
    """A claim's measured value for the landing table: without its interval's composition (the
    chapter shows it), without the ratio (its own column), and cut at a "; " when still long."""
    text = str(text).split(" (95 %")[0]
    text = re.sub(r" \([-+]?[\d.]+ x the [^)]*\)", "", text)
    if len(text) > width:
        text = re.sub(r" \([^()]*\)$", "", text)           # a trailing remark
    if len(text) > width and "; " in text:
        text = text.split("; ")[0] + " ..."
    return text


def _ratio(c: Mapping) -> str:
    r = c.get("ratio")
    return "" if r is None else f"{r:.2f}"


# Chapters whose reproduction claims test something other than the u-Ticket paper's own results
OTHER_SOURCES = {"09_paper_vs_code": "The released code against the paper",
                 "11_quantization": "Related work: quantization (Schaefer et al.)",
                 "12_timesteps": "Related work: layerwise timesteps"}
PAPER_GROUP = "The u-Ticket paper's results"
EXTENSIONS = "This book's own extensions (no number in any paper)"


def claim_group(chapter: str, claim: Mapping) -> str:
    """Which table of the landing page a reproduction claim belongs to."""
    if claim.get("paper") in (None, "", NOT_IN_PAPER):
        return EXTENSIONS
    return OTHER_SOURCES.get(chapter, PAPER_GROUP)


def headline_records(claims: Mapping[str, list[dict]]) -> list[dict]:
    """The claims' ``headline`` records, one per (metric, network) (the first chapter's wins), in
    ``HEADLINE`` order."""
    found: dict[tuple, dict] = {}
    for rows in claims.values():
        for c in rows:
            h = c.get("headline")
            if isinstance(h, dict) and h.get("metric") in HEADLINE and h.get("value") is not None:
                found.setdefault((h["metric"], h.get("arch")), {**h, "verdict": c.get("verdict"),
                                                                 "kind": c.get("kind"),
                                                                 "expected": c.get("expected")})
    order = list(HEADLINE)
    return sorted(found.values(), key=lambda h: order.index(h["metric"]))


def format_value(x: float | None, unit: str) -> str:
    """A headline number: 80.0 %, 0.56, 0.0031 % (two significant digits below 0.1)."""
    if x is None:
        return "–"
    if unit == "%":
        body = f"{x:.2g}" if abs(x) < 0.1 else (f"{x:.2f}" if abs(x) < 1 else f"{x:.1f}")
        return f"{body} %"
    return f"{x:.2f}"


def compared(record: dict) -> bool:
    """Whether this build / the paper is a size comparison for the record (``HEADLINE``'s third field)
    and the paper gives a number."""
    return bool(HEADLINE[record["metric"]][2]) and record.get("paper") not in (None, 0)


# Verdicts as the headline table prints them (its caption spells them out): it must fit a text column
SHORT_VERDICT = {"DIRECTION": "DIR.", "INCONCLUSIVE": "INC."}
# What the verdict beside a number that is not compared by size refers to
VERDICT_NOTE = {"accuracy": "vs dense", "balancing_cost": "< 1 %"}


def verdict_cell(record: dict) -> str:
    """The verdict of the claim that carries the record, with the ratio where it is a size comparison,
    or what the verdict tests where it is not; "schedule" for a number the schedule sets."""
    if record.get("kind") == "invariant":
        return "schedule"
    v = SHORT_VERDICT.get(record.get("verdict") or "", record.get("verdict") or "")
    if compared(record):
        return f"{v} ({record['value'] / record['paper']:.2f})"
    note = VERDICT_NOTE.get(record["metric"])
    return f"{v} ({note})" if note and v else v


def headline_table(records: list[dict]) -> list[str]:
    """Markdown rows: one row per headline metric; per network this build / the paper, then the verdict
    of the chapter's claim on it (with the ratio where the paper's size is the test)."""
    archs = list(dict.fromkeys(r["arch"] for r in records))
    cell = {(r["metric"], r["arch"]): r for r in records}
    head = "| |" + "".join(f" {ARCH_LABELS.get(a, a)}: this build / paper | verdict (ratio) |" for a in archs)
    out = [head, "|---|" + "---:|---|" * len(archs)]
    for m in dict.fromkeys(r["metric"] for r in records):
        row = f"| {HEADLINE[m][0]} |"
        for a in archs:
            r = cell.get((m, a))
            if r is None:
                row += " – |  |"
                continue
            unit = r.get("unit", "%")
            paper = format_value(r["paper"], unit) if r.get("paper") is not None else "–"
            row += f" {format_value(r['value'], unit)} / {paper} | {verdict_cell(r)} |"
        out.append(row)
    return out


def summary_sentence(claims: Mapping[str, list[dict]]) -> str:
    """Two sentences: the verdicts of the u-Ticket paper's own results at this scale, and the size of
    u-Ticket's savings against the paper's (the headline records compared by size)."""
    rep = [c for ch, rows in claims.items() for c in rows
           if c.get("kind") == "reproduction" and claim_group(ch, c) == PAPER_GROUP]
    if not rep:
        return "No reproduction claim of the paper's results has been recorded yet."
    n = Counter(c.get("verdict") for c in rep)
    out = (f"Of {len(rep)} checks of the u-Ticket paper's own results, {n['PASS']} pass their stated "
           f"tolerance or bound, {n['DIRECTION']} have the paper's direction but not its size, {n['FAIL']} fail "
           f"and {n['INCONCLUSIVE']} cannot be decided at this scale.")
    records = [r for r in headline_records(claims) if r["metric"] in SAVINGS and compared(r)]
    savings = [r["value"] / r["paper"] for r in records]
    if savings:
        lo, hi = min(savings), max(savings)
        size = f"{lo:.2f}" if abs(hi - lo) < 0.005 else f"{lo:.2f}-{hi:.2f}"
        out += (f" u-Ticket's savings over LTH (latency, PE and system energy, where the paper gives them) are "
                f"{size} x the paper's")
        own = [r["value"] / r["expected"] for r in records if r.get("expected")]
        out += (f", and {min(own):.2f}-{max(own):.2f} x what this build's own LTH tickets leave to gain (the open "
                "circles of the figure): u-Ticket removes nearly all the idle time there is here, while the paper's "
                "tickets had more to remove and its u-Ticket also saved work (chapter 5 splits the two)." if own and
                min(own) >= 1 - TOLERANCE else ".")
    return out + " Claims about the released code, related work and this book's extensions are listed apart."


SAVINGS = ("latency", "pe_energy", "system_energy")
FIGURE_NAME = "fig-headline"
TABLE_NAME = "tab-headline"
TOLERANCE = REL_TOL     # the PASS tolerance of a size: the band drawn on the dot plot


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def figure_caption(records: list[dict]) -> str:
    """The dot plot's caption: which metrics lie within the paper's tolerance for every network, which
    below or above it (from the same records the plot draws)."""
    def where(r):
        q = r["value"] / r["paper"]
        return "within" if abs(q - 1) <= TOLERANCE else ("below" if q < 1 else "above")
    by = {}
    for r in records:
        if compared(r) and r["value"] / r["paper"] > 0:
            by.setdefault(r["metric"], set()).add(where(r))
    names = lambda k: ", ".join(HEADLINE[m][0] for m, w in by.items() if w == {k})  # noqa: E731
    parts = [f"{k} it for every network: {names(k)}" for k in ("within", "below", "above") if names(k)]
    mixed = ", ".join(HEADLINE[m][0] for m, w in by.items() if len(w) > 1)
    if mixed:
        parts.append(f"within it for one network only: {mixed}")
    return ("This build over the paper, one dot per headline metric and network (log scale; 1 is the paper, "
            f"the grey band the +-{100 * TOLERANCE:.0f} % within which an effect's size counts as reproduced). "
            + (_upper_first("; ".join(parts)) + ". " if parts else "")
            + ("Open circles: what this build's own numbers predict for it (the claims' expected values: random "
               "masks of the same per-layer counts for imbalance, the LTH tickets' idle share for latency, the PE "
               "saving times the PE share for system energy), over the paper's. "
               if any(compared(r) and r.get("expected") for r in records) else "")
            + "Accuracy, sparsity and balancing cost are not sizes to compare (the table gives both numbers); a "
            "metric the paper gives for one network only has one dot.")


def render(profile: str, claims_dir: Path, titles: Mapping[str, str] | None = None,
           link_prefix: str = "executed/", dataset: str = "fmnist", figure: str | None = None) -> str:
    """The landing summary as MyST markdown (links relative to the including page). ``figure``: the
    path of the headline dot plot relative to the including page (``plotting.summary.ratio_dots``
    of ``headline_records``), or None to leave it out."""
    titles = titles or {}
    claims = load_claims(claims_dir)
    gaps = scale_gaps(profile, dataset=dataset)
    records = headline_records(claims)
    out = [f"## This build at a glance (profile `{profile}`)", ""]
    if records:
        out += [":::{table} The final pruning level: this build / the paper, and the verdict of the chapter's claim "
                "(DIR.: the paper's direction only; INC.: undecidable here; imbalance: 1 - utilization). Paper: "
                "Fashion-MNIST, but the system saving from Fig. 9 (VGG-16, CIFAR10, 95 %) and the balancing cost "
                "on a GPU.",
                ":class: uticket-headline", f":name: {TABLE_NAME}", ""]
        out += headline_table(records) + [":::", ""]
    if figure and records:
        out += [f":::{{figure}} {figure}", f":name: {FIGURE_NAME}",
                ":alt: Dot plot of this build's value over the paper's for each headline metric and network, "
                f"on a log axis, with a band of plus or minus {100 * TOLERANCE:.0f} percent around 1.", "",
                figure_caption(records), ":::", ""]
    out += [summary_sentence(claims), ""]
    if gaps:
        out += [":::{admonition} How this build is smaller than the paper", ":class: warning",
                "| | this build | the paper |", "|---|---|---|"]
        out += [f"| {a} | {b} | {c} |" for a, b, c in gaps]
        acc = [r for r in records if r["metric"] == "accuracy" and r.get("paper") is not None]
        if acc:
            out.append("| LTH accuracy (final level) | " + ", ".join(
                f"{format_value(r['value'], '%')} ({ARCH_LABELS.get(r['arch'], r['arch'])})" for r in acc)
                + " | " + ", ".join(format_value(r["paper"], "%") for r in acc) + " |")
        out += ["", "Computed from `uticket_lib.profiles` (this profile against `paper`). Absolute "
                "numbers differ from the paper's; the claims test what should hold at this scale.", ":::", ""]
    else:
        out += ["This build runs the paper's settings.", ""]
    link = lambda ch: f"[{_cell(titles.get(ch, ch))}]({link_prefix}{ch}.ipynb)"  # noqa: E731
    number = lambda ch: f"[{int(ch[:2]) if ch[:2].isdigit() else _cell(ch)}]({link_prefix}{ch}.ipynb)"  # noqa: E731
    rep = [(ch, c) for ch, rows in claims.items() for c in rows if c.get("kind") == "reproduction"]
    names = [PAPER_GROUP, *dict.fromkeys(OTHER_SOURCES.values()), EXTENSIONS]
    groups = [(g, [(ch, c) for ch, c in rep if claim_group(ch, c) == g]) for g in names]
    n_rep = len(rep)
    out += [f"::::{{admonition}} All {n_rep} reproduction claims: this build against the paper",
            ":class: dropdown", "",
            "The ratio is this build's value over the paper's (negative: the opposite sign; for a factor, such "
            "as chapter 12's cuts, its excess over 1 over the paper's, (x - 1) / (paper - 1)). PASS: within "
            "the stated tolerance of the paper's value (25 % for the size of an effect or a level), or an "
            "accuracy interval (test images and training seeds) inside the paper's bound; DIRECTION: the "
            "paper's sign at another size; FAIL: the opposite sign, no effect, a level outside the "
            "tolerance, an interval wholly outside the bound, or every training seed beyond the same bound "
            "(three seeds agree where their interval, widened by their spread, cannot decide); INCONCLUSIVE: "
            "not decidable at this scale "
            "(each claim says why).", ""]
    if not rep:
        out += ["No chapter has recorded a reproduction claim yet.", ""]
    for title, rows in groups:
        if not rows:
            continue
        # the verdict next to the claim: on a phone the table scrolls, and those two come first
        out += [f"**{title}**", "", "| ch. | claim | verdict | this build | paper | ratio |",
                "|---|---|---|---|---|---|"]
        out += [f"| {number(ch)} | {_cell(c.get('statement'))} | **{_cell(c.get('verdict'))}** | "
                f"{_cell(short_measured(c.get('measured', '')))} | {_cell(c.get('paper'))} | {_ratio(c)} |"
                for ch, c in rows]
        out.append("")
    out += ["::::", "", "### Claim verdicts per chapter", ""]
    if claims:
        counts = verdict_counts(claims)
        others = [k for k in KINDS if k != "reproduction"]
        short = {"INCONCLUSIVE": "INCONCL.", "DIRECTION": "DIRECT.", "invariant": "impl. checks",
                 "calibration": "calibr."}
        out += ["Reproduction claims by verdict, then the calibrations and implementation checks.", "",
                "| chapter | " + " | ".join(short.get(v, v) for v in VERDICTS) + " | "
                + " | ".join(short.get(o, o) for o in others) + " |",
                "|---" + "|---:" * (len(VERDICTS) + len(others)) + "|"]
        total = Counter()
        for ch, cnt in counts.items():
            total.update(cnt)
            out.append(f"| {link(ch)} | " + " | ".join(str(cnt[("reproduction", v)]) for v in VERDICTS)
                       + " | " + " | ".join(str(sum(n for (k, _), n in cnt.items() if k == o)) for o in others)
                       + " |")
        out.append("| **all** | " + " | ".join(f"**{total[('reproduction', v)]}**" for v in VERDICTS)
                   + " | " + " | ".join(str(sum(n for (k, _), n in total.items() if k == o)) for o in others)
                   + " |")
        out += ["", "The reproduction columns count every group above (the paper's results, the released "
                "code, related work and this book's extensions). Calibrations were fitted to the paper's numbers "
                "and implementation checks hold by construction: neither counts as evidence.", ""]
    else:
        out.append("No chapter has recorded its claims yet (`book/executed/claims/*.json`).")
    out.append("")
    return "\n".join(out)


def schedules_text(cfgs: Mapping[str, RunConfig]) -> str:
    """``schedule_text`` of several networks ({arch: config}) as a sentence: "Every network trains ..."
    where they agree (the network's name for one), else "VGG-16 trains ...; ResNet-19 trains ..."."""
    texts = {a: schedule_text(c) for a, c in cfgs.items()}
    if len(texts) == 1:
        a, t = next(iter(texts.items()))
        return f"{ARCH_LABELS.get(a, a)} {t}"
    if len(set(texts.values())) == 1:
        return f"Every network {next(iter(texts.values()))}"
    return "; ".join(f"{ARCH_LABELS.get(a, a)} {t}" for a, t in texts.items())


def schedule_text(cfg: RunConfig) -> str:
    """One sentence fragment for a run's training schedule: epochs per round, the rewind point and
    the data it trains on."""
    rewind = (f"rewinds to the state after {cfg.prune.rewind_images:,} training images of level 0"
              if cfg.prune.rewind_images is not None
              else f"rewinds to the end of epoch {cfg.prune.rewind_epoch} of level 0")
    n = min(pass_images(cfg), images(cfg, True))
    data = (f"{n:,} training images ({'with' if cfg.data.augment else 'without'} augmentation)")
    def ep(k):
        return f"{k} epoch{'s' * (k != 1)}"
    r, e, ef = cfg.prune.levels - 1, cfg.train.epochs, cfg.train.epochs_final
    if ef is not None and ef != e and r > 1:
        first = "the first pruning round" if r == 2 else f"each of the first {r - 1} pruning rounds"
        rounds = f"{ep(e)} in {first} and {ep(ef)} in the last"
    else:
        rounds = (f"{ep(ef if ef is not None else e)} in its one pruning round" if r == 1 else
                  f"{ep(e)} in each of the {r} pruning rounds")
    return (f"trains {ep(cfg.train.epochs_dense)} at level 0 and {rounds}, {rewind}, and uses width "
            f"{cfg.model.width:g} and {data}")
