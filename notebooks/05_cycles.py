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
# # Hardware mapping and cycles
#
# The pruned networks of chapters 2 and 4 are only useful if an accelerator can exploit their
# sparsity. This chapter describes the processing-element (PE) array that u-Ticket targets
# {cite}`yin2024uticket,yin2023sata`, turns a mask into work, idle and latency cycles, rebuilds the
# paper's Table II for our runs and compares the layer-by-layer picture of its Fig. 6.

# %% tags=["parameters"]
PROFILE = "cpu"
ARCHS = "vgg16,resnet19"
DATASET = "fmnist"
N_PE = 16
SEED = 0
WIDTH = None
LEVELS = None
EPOCHS = None
N_IMAGES = 8          # test images for the event-driven cycle modes

# %%
import pandas as pd
from IPython.display import display

from uticket_lib import analysis, paper, plotting
from uticket_lib.analysis import claims, decompose, hwframes, labels, masks, paper_compare
from uticket_lib.plotting import hardware as hplot

runs = analysis.chapter(PROFILE, ARCHS, DATASET, seed=SEED, n_pe=N_PE, width=WIDTH, levels=LEVELS,
                        epochs=EPOCHS).pairs
first = next(iter(runs))
reports = {a: {m: analysis.hardware_report(p[m]) for m in p} for a, p in runs.items()}
analysis.glue("c5_n_pe", N_PE)
analysis.glue("c5_T", analysis.config(runs[first]["lth"]).model.timesteps);

# %% [markdown]
# ## The PE array and its schedule
#
# The accelerator is weight-stationary: before a layer runs, every PE receives one whole output
# filter (all of its non-zero weights, stored in a compressed form in the PE's scratchpad), and the
# input spikes are then broadcast to all PEs. With {glue:md}`c5_n_pe` PEs, a layer with $K$ filters
# is cut into $\lceil K / n_{PE} \rceil$ consecutive *blocks*: PE $j$ of block $b$ holds filter
# $b \cdot n_{PE} + j$. Blocks run one after another, and a block ends only when its slowest PE has
# finished (a barrier: there are no FIFOs that would let a fast PE start on the next block).
#
# A PE's load is proportional to the number of non-zero weights of its filter. For one block with
# per-PE loads $l_j$:
#
# $$\text{work} = \sum_j l_j, \qquad \text{latency} = \max_j l_j, \qquad
#   \text{idle} = \sum_j (\max_i l_i - l_j),$$
#
# so that $\text{work} + \text{idle} = n_{PE} \cdot \text{latency}$ per block, and therefore per
# layer and per network. Utilization (the paper's Eq. 2) is
# $\mu = 1 - \frac{T_{max} - T_{avg}}{T_{max}} \cdot \frac{n}{n-1}$ with $T_{max}$ the block
# latency and $T_{avg}$ the mean load; a layer's value is the mean over its blocks, and the network
# value is weighted by each layer's number of weights, as the paper does. Covered layers are every
# convolution except the first (which encodes the analog image); ResNet shortcuts are included,
# linear layers are not.
#
# ## From non-zero weights to cycles
#
# The paper does not spell out how a non-zero weight becomes cycles. Its Table II, however, obeys
# latency = (work + idle) / 16 in every row, which pins down the block model above; the absolute
# values (around $10^8$) are far larger than the weight counts of a VGG-16 at the paper's final
# sparsity ({glue:md}`c5_synth_nnz` non-zero weights at {glue:md}`c5_synth_sparsity`). The
# reconstruction we use: every non-zero weight is applied at every output position at every
# timestep, so a filter's load is its non-zero count times $H_{out} \cdot W_{out} \cdot T$ (here
# $T$ = {glue:md}`c5_T`). One cycle is one weight meeting one spike bit. On a synthetic full-width
# VGG-16 pruned to that sparsity (global magnitude pruning of random fan-in-scaled weights,
# computed below) this gives work of {glue:md}`c5_synth_work` cycles against the paper's
# {glue:md}`c5_paper_work` for its VGG-16 CIFAR10 ticket; spike sparsity does not enter the cycle
# count (it enters the energy of chapter 6). It is a reconstruction, not the authors' code.

# %%
synth = masks.synthetic_paper_vgg(n_pe=16)
analysis.glue("c5_synth_nnz", synth["nnz"], "{:,}")
analysis.glue("c5_synth_sparsity", synth["sparsity"], "{:.2%}")
analysis.glue("c5_synth_work", synth["work"], "{:.3g}")
analysis.glue("c5_paper_work", paper.TABLE_II[("vgg16", "cifar10", "lth")]["work"] * 1e8, "{:.3g}");

# %% [markdown]
# The paper's Table II and the identity check on its rows:

# %%
paper_t2 = paper_compare.paper_table_ii()
paper_t2[["work", "idle", "latency", "(work+idle)/16", "utilization", "latency_reduction_pct"]].round(3)

# %% [markdown]
# The constant that turns cycles into seconds (the paper's synthesis clock):

# %%
labels.constants(hwframes.constants_frame(reports[first]["lth"], keys=["clock_hz"]))

# %% [markdown]
# ## Table II for our runs
#
# Our runs use the profile's dataset and width, so absolute cycles are smaller than the paper's
# (cycles grow with the square of the width). The second table below holds the paper's rows for the
# same architecture and method on the same dataset. Compare utilization, the idle share
# idle / (work + idle) and the latency reduction, not the cycle counts.

# %%
t2 = paper_compare.table_ii(runs)
display(t2.filter(regex="^(?!paper)").round(3))   # this build
display(t2.filter(regex="^paper").round(3))       # the paper's rows, same arch and method

# %%
lat_red = {a: hwframes.latency_reduction(p) for a, p in runs.items()}
mu_lth = {a: reports[a]["lth"]["network"]["utilization_params"] for a in runs}
analysis.glue("c5_lat_red_min", min(lat_red.values()), "{:.1f}")
analysis.glue("c5_lat_red_max", max(lat_red.values()), "{:.1f}")
analysis.glue("c5_mu_lth_min", min(mu_lth.values()), "{:.2f}")
analysis.glue("c5_mu_lth_max", max(mu_lth.values()), "{:.2f}")
analysis.glue("c5_paper_lat_red_max", paper.TEXT["max_latency_reduction_pct"][0], "{:.1f}")
analysis.glue("c5_latency_us", 1e6 * reports[first]["uticket"]["network"]["latency_s"], "{:.1f}")
work = paper_compare.paper_work_and_idle("fmnist")
analysis.glue("c5_paper_work_vgg", -work.loc["vgg16", "work change %"], "{:.0f}")
analysis.glue("c5_paper_work_resnet", -work.loc["resnet19", "work change %"], "{:.0f}")
analysis.glue("c5_paper_idle_only_vgg", work.loc["vgg16", "latency reduction from idle alone %"], "{:.0f}")
analysis.glue("c5_paper_idle_only_resnet", work.loc["resnet19", "latency reduction from idle alone %"], "{:.0f}")
analysis.glue("c5_paper_red_vgg", work.loc["vgg16", "latency reduction %"], "{:.0f}")
analysis.glue("c5_paper_red_resnet", work.loc["resnet19", "latency reduction %"], "{:.0f}")
our_work = {a: 100 * (reports[a]["uticket"]["network"]["work"] / reports[a]["lth"]["network"]["work"] - 1) for a in runs}
analysis.glue("c5_our_work", ", ".join(f"{analysis.ARCH_LABELS.get(a, a)} {v:+.0f} %" for a, v in our_work.items()));

# %% [markdown]
# With {glue:md}`c5_n_pe` PEs, the LTH masks reach a network utilization of
# {glue:md}`c5_mu_lth_min` to {glue:md}`c5_mu_lth_max` across the architectures, and u-Ticket cuts
# the latency by {glue:md}`c5_lat_red_min` % to {glue:md}`c5_lat_red_max` % (the paper's abstract
# quotes up to {glue:md}`c5_paper_lat_red_max` %). At the 400 MHz clock, the u-Ticket network of the
# first architecture takes {glue:md}`c5_latency_us` µs per image for the covered layers.
#
# The work does not stay the same. In the paper's own Table II (Fashion-MNIST) u-Ticket does
# {glue:md}`c5_paper_work_vgg` % (VGG-16) and {glue:md}`c5_paper_work_resnet` % (ResNet-19) *less*
# work than LTH, because its tickets are sparser; removing LTH's idle cycles alone, at LTH's work,
# would cut the latency by only {glue:md}`c5_paper_idle_only_vgg` % and
# {glue:md}`c5_paper_idle_only_resnet` %, against the {glue:md}`c5_paper_red_vgg` % and
# {glue:md}`c5_paper_red_resnet` % the table shows. In this build, u-Ticket's work relative to
# LTH's is {glue:md}`c5_our_work`: balancing to the rounded-up block mean recovers more weights
# than it removes, so here the latency gain comes from idle cycles alone, net of the added work.
#
# ## Where the reductions come from, beside the paper's
#
# Per block, work + idle = $n_{PE}$ x latency, so with the cycle utilization $u = W / (W + I)$ the
# latency ratio of u-Ticket to LTH is exactly the work ratio times $u_{LTH} / u_{uT}$; Eq. 3's
# energy ratio splits likewise into a work, a utilization and a spike-sparsity part (definitions in
# `analysis.decompose`). A part's *share* is its share of the logarithm of the ratio: shares add
# up to 1, and a negative share means that part works against the reduction. The work ratio in
# turn is the ratio of surviving weights, $(1 - s_{uT}) / (1 - s_{LTH})$ with $s$ the weight
# sparsity, times the ratio of cycles per surviving weight (where in the network the weights
# sit). The paper's rows use its Table II cycles and its Table I sparsities; the energy split uses
# the $E_l / E_d$ fitted in chapter 6.

# %%
ours = {a: {m: reports[a][m]["network"] for m in ("lth", "uticket")} for a in runs}
parts = decompose.frame(ours, DATASET, paper_compare.fitted_ratio())
display(analysis.table(parts.T.rename(columns=analysis.ARCH_LABELS, level="arch")))

# %% [markdown]
# What narrowing the network does, on synthetic tickets (the random model of the section above, at
# the sparsity of this build's final LTH tickets): fewer weights per filter make the per-filter
# loads more uneven and the ceiling of the block mean a larger share of the work, since it adds
# less than one weight per filter.

# %%
final_sparsity = {a: reports[a]["lth"]["network"]["weight_sparsity"] for a in runs}
width = {a: decompose.width_effect(widths=(1.0, 0.5, 0.25), sparsity=final_sparsity[a], arch=a,
                                   n_pe=N_PE) for a in runs}
display(analysis.table(pd.concat({analysis.ARCH_LABELS.get(a, a): f.rename(index="{:g}".format)
                                   for a, f in width.items()})))
for key, sentence in decompose.text(parts, width).items():
    analysis.glue(f"c5_dec_{key}", sentence);

# %% [markdown]
# Latency reductions, with the shares of work and utilization. {glue:md}`c5_dec_latency`.
#
# The work part is where this build and the paper can part ways. What u-Ticket's final ticket
# keeps, relative to LTH's: {glue:md}`c5_dec_weights`. In the paper's Table I the u-Ticket tickets end
# sparser than the LTH tickets, so they also do less work. A ratio at or above 1 (the rounded-up
# ceiling adds weights back, and with a single pruning round, as at the cpu profile, they are never
# pruned again) leaves u-Ticket only its utilization part, net of the work it adds. Chapter 9
# measures, on its own shorter runs, whether the released code's pruning semantics (switch (c)) or
# its early-time ticket (switch (f)) move the weight sparsity.
#
# The reduced width is not a reason for a smaller gain. On the synthetic tickets:
# {glue:md}`c5_dec_width`. A narrower network is *less* balanced under LTH, which leaves u-Ticket
# more idle cycles to remove, and the ceiling's extra work stays a few per cent. The utilization
# part is set by how unbalanced the trained LTH tickets are; their cycle utilization here and in
# the paper: {glue:md}`c5_dec_balance`.
#
# ## Layer by layer (Fig. 6)
#
# The paper's Fig. 6 shows VGG-16 on CIFAR10; we show every architecture of this build on its
# dataset. Layers are numbered in execution order (covered layers only).

# %%
layer_captions = {a: f"{analysis.ARCH_LABELS.get(a, a)}, per covered layer: u-Ticket's blocks finish together (every "
                     f"PE of a block gets the block's target load), so it has next to no idle cycles and a layer's "
                     f"latency is set by the target, not by the largest filter; the work changes only by the weights "
                     f"balancing recovers and removes. Whole network: utilization {mu_lth[a]:.2f} (LTH) against "
                     f"{reports[a]['uticket']['network']['utilization_params']:.2f} (u-Ticket), latency "
                     f"{lat_red[a]:.1f} % lower." for a in runs}
fig = plotting.captioned(hplot.layer_bars(hwframes.layer_frame(runs[first]), title=analysis.ARCH_LABELS.get(first, first)),
                         layer_captions[first])

# %%
figs = [plotting.captioned(hplot.layer_bars(hwframes.layer_frame(p), title=analysis.ARCH_LABELS.get(a, a)), layer_captions[a])
        for a, p in runs.items() if a != first]

# %% [markdown]
# The early layers have the largest feature maps, so each non-zero weight there costs the most
# cycles, and an unbalanced block there wastes many idle cycles. For VGG-16 that is where most of
# LTH's idle cycles, and so u-Ticket's saving, sit, as in the paper's Fig. 6; ResNet-19 spreads its
# idle cycles over its layers, and its largest share need not fall in an early layer.
#
# ## Other ways to count cycles
#
# The output-position reconstruction is one choice among several. The accelerator model offers
# four modes:
#
# - `output`: the reconstruction above (every weight at every output position and timestep);
# - `valid`: the same, but a kernel tap that falls into the zero padding costs nothing;
# - `events`: only a (non-zero weight, input spike) pair costs a cycle; the PEs of a block
#   synchronise at every timestep and output position, so the block's latency is the sum over
#   those of the slowest PE;
# - `ticks`: the tick-batched dataflow the paper describes for its accelerator, where all-zero
#   activations are dropped before the PEs and every surviving activation is streamed bit by bit
#   ($T$ cycles per match).
#
# The event modes need the actual spikes: we record the inputs of every layer of the final trained
# network on a few test images and report cycles per image (their mean).

# %%
analysis.glue("c5_n_images", N_IMAGES)
modes = pd.concat({analysis.ARCH_LABELS.get(a, a): hwframes.cycle_modes(p, n_images=N_IMAGES) for a, p in runs.items()})
modes[["work", "idle", "latency", "utilization", "idle_share", "latency reduction %"]].round(3)

# %%
ev_red = modes.xs("events", level="mode").xs("u-Ticket", level="method")["latency reduction %"]
analysis.glue("c5_ev_red_min", ev_red.min(), "{:.1f}")
analysis.glue("c5_ev_red_max", ev_red.max(), "{:.1f}")
tk_red = modes.xs("ticks", level="mode").xs("u-Ticket", level="method")["latency reduction %"]
analysis.glue("c5_tk_red_min", tk_red.min(), "{:.1f}")
analysis.glue("c5_tk_red_max", tk_red.max(), "{:.1f}");

# %% [markdown]
# With spikes taken into account ({glue:md}`c5_n_images` test images), u-Ticket's latency reduction
# across the architectures becomes {glue:md}`c5_ev_red_min` % to {glue:md}`c5_ev_red_max` % in the
# `events` mode and {glue:md}`c5_tk_red_min` % to {glue:md}`c5_tk_red_max` % in the `ticks` mode
# (the `u-Ticket` rows of those modes in the table). Balancing the number of
# non-zero weights per filter does not balance the number of spikes each filter actually meets: in
# the event modes the PEs also wait for each other because their weights sit at input positions
# with different firing. The paper's Table II numbers correspond to the static `output` count, not
# to the `ticks` dataflow the paper describes; the `output` count is what we use in the rest of the
# book unless a table says otherwise.

# %% [markdown]
# ## Exercises
#
# Each takes minutes with the smoke profile (`-p PROFILE cpu` for the book's numbers, runs cached).
# Write your prediction down before you run it.
#
# 1. Predict how LTH's idle cycles change with 32 PEs per block, and whether u-Ticket masks, now
#    balanced for 32 PEs, stay free of idle cycles. Run `uticket book --profile smoke --only
#    05_cycles -p N_PE 32`.
# 2. With fewer test images in the event-driven modes, which numbers change and by how much would
#    you expect them to scatter? Run `uticket book --profile smoke --only 05_cycles -p N_IMAGES 2`.
#
# :::{admonition} Solutions
# :class: dropdown
#
# 1. The LTH mask stays the same, so its work does not change, but each block now waits for the
#    heaviest of 32 filters, which lies further above their mean than the heaviest of 16: idle
#    cycles and the idle share rise, and a layer with fewer than 32 filters adds idle PEs that have
#    no filter at all. The rerun balances u-Ticket for 32 PEs, and its idle cycles are zero only in
#    layers whose filter count is a multiple of 32. At the smoke width VGG-16's first three covered
#    layers (8 and 16 filters) and ResNet-19's first stage (16) fill less than one block; those
#    empty PE slots idle whatever the mask, and since these layers have the largest feature maps,
#    u-Ticket's idle column is far from zero (see them in the Fig. 6 bars).
# 2. Only the event-driven rows (`events`, `ticks`) can change: the `output` and `valid` rows are
#    counted from the masks alone. The event modes report the mean cycles per image over the
#    recorded test images, so with 2 images instead of 8 that mean scatters about $\sqrt{8/2} = 2$
#    times as much from one choice of images to another. The latency reduction in those rows moves
#    less than the cycle counts, because LTH and u-Ticket are measured on the same images, so much
#    of the image-to-image variation cancels in their ratio.
# :::

# %% [markdown]
# ## Claims checked
#
# Zero idle cycles and utilization 1 for u-Ticket follow from `balance()` whenever every covered
# layer fills its blocks, and the cycle identity is checked against counts made from the masks
# (per-PE loads and per-block maxima) without the cycle model's code: both are implementation
# checks. The reproduction claim compares the size of u-Ticket's latency reduction with Table II's:
# PASS within 25 % of the paper's value, DIRECTION where only the sign agrees. Beside it, what this
# build's own LTH ticket allows: its idle share, the reduction that removing every idle cycle buys at
# equal work (the paper's reduction adds the work its sparser u-Ticket ticket saves; chapter 4's
# sparsity claim tests that gain, which this build does not have).

# %%
chapter_claims = claims.show(claims.cycles(reports, hwframes.cycles_checks(runs)), PROFILE, "05_cycles");
