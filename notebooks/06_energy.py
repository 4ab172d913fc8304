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
# # Energy of the PE array
#
# Idle PEs still leak. This chapter turns the cycles of chapter 5 into energy with the paper's
# Eq. 3 {cite}`yin2024uticket`, calibrates the one ratio the paper leaves open against its own
# results, and then measures u-Ticket's saving on our runs (Fig. 7), its dependence on sparsity and
# its split into components (Fig. 8), under two sets of constants.

# %% tags=["parameters"]
PROFILE = "cpu"
ARCHS = "vgg16,resnet19"
DATASET = "fmnist"
N_PE = 16
SEED = 0
WIDTH = None
LEVELS = None
EPOCHS = None
ENERGY = "paper_calibrated"     # Eq. 3 constants: paper_calibrated | bottom_up_32nm

# %%
import pandas as pd

from uticket_lib import analysis, paper, plotting
from uticket_lib.analysis import claims, hwframes, labels, paper_compare
from uticket_lib.plotting import hardware as hplot

runs = analysis.chapter(PROFILE, ARCHS, DATASET, seed=SEED, n_pe=N_PE, width=WIDTH, levels=LEVELS,
                        epochs=EPOCHS, max_colwidth=200).pairs
first = next(iter(runs))
analysis.glue("c6_energy", ENERGY);

# %% [markdown]
# ## Eq. 3
#
# The paper charges every PE-cycle a leakage energy $E_l$ and every work cycle that meets an input
# spike a dynamic energy $E_d$:
#
# $$E = N_{work} \left(E_d (1 - S_{in}) + E_l\right) + N_{idle} E_l
#     = N_{work} (1 - S_{in}) E_d + (N_{work} + N_{idle}) E_l ,$$
#
# with $S_{in}$ the input spike sparsity of the network (measured on the test set for each of our
# levels). Idle cycles cost only leakage, so removing them saves $N_{idle} E_l$; a lower latency
# saves nothing more, because every PE leaks in every cycle whether it works or waits.
#
# ## Calibrating $E_l / E_d$ against the paper
#
# The paper publishes neither $E_d$ nor $E_l$, but only their ratio matters for a relative saving.
# With $E_d = 1$, Eq. 3 is linear in $r = E_l / E_d$, and each of the six Fig. 7(a) reductions,
# together with the work, idle (Table II) and spike sparsity (Table I) of its two rows, gives one
# equation for $r$. The least-squares solution over the six cases:

# %%
r_fit = paper_compare.fitted_ratio()
cal = paper_compare.calibration_frame()
analysis.glue("c6_r_fit", r_fit, "{:.4f}")
analysis.glue("c6_cal_worst", cal["difference (pp)"].abs().max(), "{:.2f}")
analysis.glue("c6_assumed", paper.ASSUMED_NOTE);
cal.round(2).assign(**{c: cal[c] for c in cal if c.startswith("spike sparsity")})   # Table I's three digits

# %% [markdown]
# One ratio, $E_l / E_d$ = {glue:md}`c6_r_fit`, reproduces all six published reductions within
# {glue:md}`c6_cal_worst` percentage points: one parameter fitted to six numbers, so the paper's
# reductions are consistent with Eq. 3 on the cycle counts of Table II. This is a calibration, not a
# reproduction: it uses no number measured by this build. The `paper_calibrated` preset uses this
# ratio. Note the
# {glue:md}`c6_assumed`.

# %%
fig = plotting.captioned(hplot.calibration_scatter(cal),
    f"With the fitted leakage ratio E_l/E_d = {r_fit:.4f}, Eq. 3 reproduces the paper's six Fig. 7(a) "
    f"reductions from its Tables I and II within {cal['difference (pp)'].abs().max():.2f} points (dots on the "
    f"dashed y = x line); crosses: the same prediction with the bottom-up 32 nm constants.")

# %% [markdown]
# ## The constants
#
# Two presets, none of them published: `paper_calibrated` (the fit above, in units of $E_d$) and
# `bottom_up_32nm` (unit energies of the paper's PE components from a 32 nm synthesis and a CACTI
# scratchpad, the accelerator family of {cite}`yin2023sata`). Dynamic energies from
# {cite}`horowitz2014energy` are not a preset: that source gives no leakage, and borrowing the
# calibrated ratio would make it a copy of the first preset rather than an independent check.
# Every value with its unit and source:

# %%
presets = hwframes.presets_frame()
labels.constants(presets)

# %% [markdown]
# ## Energy reduction of our runs (Fig. 7(a))
#
# Eq. 3 with the {glue:md}`c6_energy` preset, the final level of each run and its measured spike
# sparsity. The paper's column is its reduction for the same architecture on the same dataset.

# %%
ef = hwframes.energy_frame(runs, ENERGY)
analysis.glue("c6_red_min", ef["reduction %"].min(), "{:.1f}")
analysis.glue("c6_red_max", ef["reduction %"].max(), "{:.1f}");
ef.round(3)

# %%
fig = plotting.captioned(hplot.energy_bars(ef),
    f"Eq. 3 PE energy of the final tickets: u-Ticket needs {ef['reduction %'].min():.1f} % to "
    f"{ef['reduction %'].max():.1f} % less than LTH in this build (above each pair; the paper's Fig. 7(a) "
    f"reduction in brackets). Stars: the u-Ticket energy the paper's reduction would give from this build's "
    f"LTH energy.")

# %% [markdown]
# u-Ticket saves {glue:md}`c6_red_min` % to {glue:md}`c6_red_max` % of the PE energy on our runs.
# The saving is roughly the idle share of chapter 5 times the leakage share of the LTH energy: a
# network whose blocks were already fairly balanced gains less. The spike sparsity of the two runs
# differs a little (each is a separately trained network), and that moves the dynamic term.
#
# ## Saving against sparsity (Fig. 7(b))
#
# Across the pruning levels of our runs (level 0 is the shared dense network, where both methods
# coincide):

# %%
vs = {analysis.ARCH_LABELS.get(a, a): hwframes.energy_vs_sparsity(p, ENERGY) for a, p in runs.items()}
pd.concat(vs).round(3)

# %%
paper_7a = paper_compare.fig7a_points(DATASET, list(runs))
fig = plotting.captioned(
    hplot.energy_vs_sparsity(vs, paper=paper_7a,
                             paper_label=f"paper (Fig. 7a at Table I sparsity, {analysis.DATASET_LABELS.get(DATASET, DATASET)})"),
    "u-Ticket's energy reduction over LTH at every level of each network, against the LTH mask's weight "
    "sparsity (the dense level has nothing to balance)."
    + (" Stars: the paper's reduction for its final tickets (Fig. 7(a)) at their weight sparsity (Table I), "
       "edged in the network's colour." if paper_7a else ""))

# %% [markdown]
# The paper's Fig. 7(b) shows the saving growing with sparsity: as the masks get sparser, the LTH
# blocks become more unequal (chapter 3) and the idle share grows. A run that prunes in a single round
# (the cpu profile) has only its dense and its final level, so this build cannot show the trend; its
# claim below is then INCONCLUSIVE.
#
# ## Where the energy goes (Fig. 8)
#
# The component split needs unit energies, so it uses the `bottom_up_32nm` preset: MAC, LIF and
# scratchpad (MEM), each dynamic and leakage, in pJ, summed over the covered layers. The LIF
# dynamic term (one update per output neuron per timestep) is not part of Eq. 3; the figure adds
# it, as the paper's Fig. 8 does.

# %%
bd = {analysis.ARCH_LABELS.get(a, a): hwframes.breakdown_frame(p) for a, p in runs.items()}
labels.constants(pd.concat(bd).round(1))

# %%
fig = plotting.captioned(hplot.breakdown_bars(bd),
    "Where the PE energy goes (bottom-up 32 nm constants): the leakage terms (light) scale with the latency, "
    "which u-Ticket cuts; the dynamic terms (dark) scale with the work, which balancing changes only by the "
    "weights it recovers and removes.")

# %% [markdown]
# The leakage terms fall with the PE-cycles (work + idle, that is $n_{PE}$ times the latency), so
# they fall exactly as much as the latency of chapter 5; the dynamic terms follow the work and the
# spike sparsity, which u-Ticket changes too (its work differs from LTH's, chapter 5). The paper
# observes a larger dynamic share under u-Ticket on ResNet-19.
#
# ## How the conclusion depends on the constants

# %%
sens = hwframes.preset_sensitivity(runs)
reps = {a: {m: analysis.hardware_report(p[m], energy="paper_calibrated")["network"] for m in p} for a, p in runs.items()}
be = {a: hwframes.break_even_ratio(r["lth"], r["uticket"]) for a, r in reps.items()}
analysis.glue("c6_sens_min", sens.iloc[:, 1:].min().min(), "{:.1f}")
analysis.glue("c6_sens_max", sens.iloc[:, 1:].max().max(), "{:.1f}")
analysis.glue("c6_break_even", "; ".join(
    f"{analysis.ARCH_LABELS.get(a, a)}: " + ("u-Ticket saves energy at every ratio" if r is None else f"{r:.3f}")
    for a, r in be.items()));
sens.round(3)

# %% [markdown]
# The saving scales with $E_l / E_d$: between {glue:md}`c6_sens_min` % and {glue:md}`c6_sens_max` %
# over the presets and the architectures of this build. Its sign is not guaranteed: u-Ticket removes
# idle cycles but can add work (its balanced masks may keep more weights than LTH's, chapter 5), and
# extra work costs dynamic energy. With $D$ the spike-weighted work and $P$ = work + idle of each
# network, the two energies are equal at $E_l / E_d = (D_{u} - D_{l}) / (P_{l} - P_{u})$; this
# build's break-even ratios: {glue:md}`c6_break_even`. Below the break-even ratio u-Ticket costs
# energy; a technology with little leakage would gain mostly latency, not energy.

# %% [markdown]
# ## Exercises
#
# Each takes minutes with the smoke profile (`-p PROFILE cpu` for the book's numbers, runs cached).
# Write your prediction down before you run it.
#
# 1. The saving scales with $E_l / E_d$. Predict from the constants table whether it grows or
#    shrinks with this preset before you run it. Run `uticket book --profile smoke --only 06_energy
#    -p ENERGY bottom_up_32nm`.
# 2. With smaller blocks LTH idles less (chapter 3): predict the change in u-Ticket's energy
#    saving. Run `uticket book --profile smoke --only 06_energy -p N_PE 8`.
#
# :::{admonition} Solutions
# :class: dropdown
#
# 1. With $r = E_l / E_d$, LTH's energy is $N_{work}(1 - S_{in}) + (N_{work} + N_{idle})\, r$ (in
#    units of $E_d$), and u-Ticket saves mainly the idle cycles' leakage $N_{idle}\, r$, so the
#    relative saving grows with $r$. The `bottom_up_32nm` preset has a somewhat smaller ratio than
#    the calibrated one (the constants table: below 0.19 against 0.21), so the saving shrinks a
#    little for both networks, and the dynamic energy of the weights balancing adds weighs slightly
#    more. The sensitivity table at the end of the page shows both presets side by side.
# 2. The saving comes from the idle cycles that balancing removes. With blocks of 8 the heaviest
#    filter of a block is closer to the block mean, so LTH's mask idles less (chapter 3), while
#    u-Ticket, rerun and balanced for 8 PEs, still idles next to nothing: there is less leakage to
#    remove and the saving shrinks. By how much depends on how unequal the LTH filters are; the idle
#    share of chapter 5 at 8 PEs is the quantity to watch.
# :::

# %% [markdown]
# ## Claims checked
#
# The Fig. 7(a) fit is a calibration (fitted to the numbers it is compared with) and is not counted.
# The PE energy reduction is compared with Fig. 7(a) by size: PASS within 25 % of the paper's value,
# DIRECTION where only the sign agrees.
# The leakage terms of Fig. 8 fall exactly as the latency of chapter 5 does, so they are not claimed
# again here. On the smoke profile the networks are tiny and barely trained, so the trend over
# levels may not show.

# %%
finals = {a: (r["lth"]["energy"], r["uticket"]["energy"]) for a, r in
          {a: {m: analysis.hardware_report(p[m], energy=ENERGY)["network"] for m in p} for a, p in runs.items()}.items()}
chapter_claims = claims.show(claims.energy(cal, finals, {analysis_key: f["reduction %"] for analysis_key, f in
                                                         {a: hwframes.energy_vs_sparsity(p, ENERGY) for a, p in runs.items()}.items()},
                                           ENERGY), PROFILE, "06_energy");
