# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Scaling the PE array
#
# How do latency and energy change when the accelerator has more PEs? The paper's Table III
# {cite}`yin2024uticket` answers this for u-Ticket on VGG-16 with 2 to 64 PEs: latency falls almost
# in proportion, energy stays flat. We repeat the sweep on our masks.

# %% tags=["parameters"]
PROFILE = "cpu"
ARCHS = "vgg16,resnet19"
DATASET = "fmnist"
N_PE = 16
SEED = 0
WIDTH = None
LEVELS = None
EPOCHS = None
ENERGY = "paper_calibrated"
N_PES = "2,4,8,16,32,64"       # PE counts of the sweep (comma-separated; the first is the reference)

# %%
import pandas as pd
from IPython.display import display

from uticket_lib import analysis, paper, plotting
from uticket_lib.analysis import claims, hwframes, labels, paper_compare
from uticket_lib.plotting import hardware as hplot

runs = analysis.chapter(PROFILE, ARCHS, DATASET, seed=SEED, n_pe=N_PE, width=WIDTH, levels=LEVELS,
                        epochs=EPOCHS, max_colwidth=200).pairs
n_pes = tuple(int(n) for n in N_PES.split(","))
analysis.glue("c7_n_pe", N_PE)
analysis.glue("c7_first", n_pes[0])
analysis.glue("c7_last", n_pes[-1]);

# %% [markdown]
# ## What we sweep, and how it differs from the paper
#
# The paper ran u-Ticket once per PE count, so every column of its Table III comes from its own
# pruning run (hence the scatter in its energy row). We do not retrain. We give two estimates:
#
# - **as trained**: the final u-Ticket mask (balanced for {glue:md}`c7_n_pe` PEs during training)
#   and the final LTH mask, each mapped onto {glue:md}`c7_first` to {glue:md}`c7_last` PEs;
# - **rebalanced**: for every PE count, the final LTH mask is balanced by u-Ticket's rule for that
#   PE count (`pruning.balance`, one step, no retraining). This has the cycles and energy of a
#   u-Ticket mask for that array size, though not the accuracy of a retrained one.
#
# Latency and energy are normalised to the first PE count, as in Table III; energy is Eq. 3 with
# the `paper_calibrated` preset (chapter 6), so only the ratio $E_l / E_d$ matters. The constants
# (value, unit, source):

# %%
labels.constants(hwframes.constants_frame(analysis.hardware_report(next(iter(runs.values()))["lth"], energy=ENERGY),
                                          keys=["e_dyn", "e_leak"]))

# %%
sweeps = {a: {
    "u-Ticket": hwframes.pe_sweep(p["uticket"], n_pes=n_pes, energy=ENERGY),
    "LTH": hwframes.pe_sweep(p["lth"], n_pes=n_pes, energy=ENERGY),
    "LTH rebalanced": hwframes.pe_sweep(p["lth"], n_pes=n_pes, energy=ENERGY, rebalance=True)}
    for a, p in runs.items()}
# Table III is the paper's VGG-16 sweep: its columns stand beside VGG-16 only
tables = {a: paper_compare.table_iii(s, with_paper=(a == paper_compare.PAPER_TABLE_III_ARCH)) for a, s in sweeps.items()}
sweep_table = pd.concat({analysis.ARCH_LABELS.get(a, a): t for a, t in tables.items()}).round(3).fillna("–")
# latency, then energy (one table for both is wider than the page); "–": the paper's columns exist for VGG-16 only
display(sweep_table.filter(like="latency").rename(columns=lambda c: c.removeprefix("latency ")).rename_axis(columns="latency"))
display(sweep_table.filter(like="energy").rename(columns=lambda c: c.removeprefix("energy ")).rename_axis(columns="energy"))

# %%
figs = [plotting.captioned(
    hplot.pe_sweep(t, title=f"{analysis.ARCH_LABELS.get(a, a)}: latency and energy against the number of PEs",
                   paper_label=f"paper ({paper.TABLE_III_REF}, VGG-16 on CIFAR10)"),
    f"{analysis.ARCH_LABELS.get(a, a)}, one mask per method swept over {n_pes[0]} to {n_pes[-1]} PEs, normalised "
    f"to {n_pes[0]} PEs: LTH's mask as trained, the same mask rebalanced for each array size, and u-Ticket's, "
    f"against the ideal {n_pes[0]}/n latency (dashed). Imbalance grows with the block size; where the array "
    f"outgrows a layer's filters, idle PEs pad its blocks, which costs time and leakage energy."
    + (f" Stars on a dotted line: the paper's {paper.TABLE_III_REF}." if "latency paper" in t else ""))
    for a, t in tables.items()]

# %% [markdown]
# The absolute numbers behind the first architecture's u-Ticket sweep (cycles, Eq. 3 energy in
# units of $E_d$, utilization):

# %%
first = next(iter(sweeps))
# padded_layers: covered layers with fewer filters than a whole number of blocks; the normalised columns are above
sweeps[first]["u-Ticket"].drop(columns=["latency_norm", "energy_norm"]).round(3)

# %%
lat_last = {a: s["LTH rebalanced"]["latency_norm"].iloc[-1] for a, s in sweeps.items()}
e_span = {a: (s["LTH rebalanced"]["energy_norm"].max() / s["LTH rebalanced"]["energy_norm"].min())
          for a, s in sweeps.items()}   # largest over smallest normalised energy
analysis.glue("c7_lat_last_min", min(lat_last.values()), "{:.3f}")
analysis.glue("c7_lat_last_max", max(lat_last.values()), "{:.3f}")
analysis.glue("c7_ideal_last", n_pes[0] / n_pes[-1], "{:.3f}")
analysis.glue("c7_paper_lat_last", paper.TABLE_III["latency"][-1], "{:.2f}")
analysis.glue("c7_e_span_max", max(e_span.values()), "{:.2f}");

# %% [markdown]
# ## Reading the sweep
#
# With masks rebalanced for each array size, latency at {glue:md}`c7_last` PEs is
# {glue:md}`c7_lat_last_min` to {glue:md}`c7_lat_last_max` of the {glue:md}`c7_first`-PE latency
# (ideal: {glue:md}`c7_ideal_last`; the paper: {glue:md}`c7_paper_lat_last`), and the normalised
# energy's largest value over the sweep is up to {glue:md}`c7_e_span_max` x its smallest: at the
# larger arrays a width-0.25 layer has fewer filters than PEs, pads its blocks with idle PEs, and pays their
# leakage. Where every block is filled, balanced blocks keep the work constant and add no idle
# cycles, so the total number of PE-cycles, and with it the leakage, does not depend on the array
# size: only the time changes.
#
# Two effects break the ideal scaling:
#
# - **Imbalance grows with the block size.** The more filters share a barrier, the more likely one
#   of them is heavy. The LTH masks scale worse than the balanced ones, and the u-Ticket masks as
#   trained stay balanced only for PE counts that divide {glue:md}`c7_n_pe` (their blocks of
#   {glue:md}`c7_n_pe` equal filters split into equal sub-blocks); at larger counts a block merges
#   several differently balanced groups, and idle cycles reappear.
# - **Padding.** A layer with fewer filters than PEs leaves the remaining PEs empty for the whole
#   layer. Our networks are narrower than the paper's, so at the largest PE counts the first layers
#   cannot fill the array, and latency stops halving there even for balanced masks.

# %% [markdown]
# ## Exercises
#
# Each takes minutes with the smoke profile (`-p PROFILE cpu` for the book's numbers, runs cached).
# Write your prediction down before you run it.
#
# 1. Predict the normalised latency of the rebalanced masks at 8 PEs (ideal: $2/8$) and whether the
#    energy column moves. Run `uticket book --profile smoke --only 07_pe_scaling -p N_PES 2,4,8`.
# 2. u-Ticket masks trained for 8 PEs: up to which PE count of the sweep do they stay balanced, and
#    why there? Run `uticket book --profile smoke --only 07_pe_scaling -p N_PE 8`.
#
# :::{admonition} Solutions
# :class: dropdown
#
# 1. A rebalanced mask has no idle cycles, so its latency is its work divided by the PE count, and
#    the normalised latency at 8 PEs lands at about the ideal 0.25, a hair above it: rebalancing
#    rounds every block up to a whole number of weights per filter, which adds a little more work at
#    8 PEs than at 2. The rebalanced energy column stays at about 1: without idle cycles the
#    PE-cycles equal the work, which only that rounding changes, and at 2, 4 and 8 PEs every covered
#    layer (8 filters or more at the smoke width) fills its blocks, so no empty PE leaks
#    (the padded layers column is 0 in every row). LTH's own energy column, by contrast, rises with its idle
#    cycles.
# 2. Up to 8 PEs. Every block of 8 filters was balanced to one target, so at 2, 4 and 8 PEs each
#    block is a slice of a balanced group: utilization 1 and latency exactly $2/n$ of the 2-PE
#    value. From 16 PEs on, a block merges groups of 8 that were balanced to different targets (each
#    its own rounded-up mean), so it waits for the heavier group and idle cycles return, unless
#    neighbouring groups happen to share a target; at the larger counts, layers with fewer filters
#    than PEs also pad their blocks (at the smoke width the 8-filter layer from 16 PEs on).
# :::

# %% [markdown]
# ## Claims checked
#
# The halving and flat-energy claims are checked on the rebalanced LTH masks, our stand-in for the
# paper's separate u-Ticket runs. Where every covered layer fills its blocks (the padded layers
# column of the sweep is 0) balanced blocks halve their latency and keep their energy by
# construction: implementation checks, as is "rebalanced beats unbalanced". Over the whole sweep our
# narrower networks pad their blocks at the largest PE counts: those claims are INCONCLUSIVE, a
# property of the width, not of u-Ticket. Table III on u-Ticket tickets trained at each PE count is
# not tested at this profile.

# %%
chapter_claims = claims.show(
    [c for a, s in sweeps.items() for c in claims.pe_scaling(s, "LTH", "LTH rebalanced", label=analysis.ARCH_LABELS.get(a, a))],
    PROFILE, "07_pe_scaling");
