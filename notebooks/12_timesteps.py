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
# # Layerwise timesteps on the PE array
#
# Every chapter so far ran every layer for the same number of timesteps, $T = 4$. Layerwise
# disaggregated SNNs (LD-SNN, Nallathambi et al. {cite}`nallathambi2022ldsnn`) let each layer run its
# own $T_l$ and report 1.67-3.84x fewer synaptic updates, 1.2-2.56x fewer neuron evaluations and
# 1.25-3.45x faster inference over four networks. On the PE array of chapter 5, whose cycles are
# non-zeros $\times H_{out} W_{out} \times T$, a layer that runs fewer steps is directly fewer
# cycles, and the saving is orthogonal to u-Ticket's: u-Ticket removes idle PE cycles within a
# step, a time plan removes steps. This chapter chooses a time plan for the LTH and u-Ticket tickets
# of chapters 2 and 4 and measures how the two savings combine.
#
# **How layers with different $T$ connect is our choice** (only LD-SNN's abstract is public). A
# *stage* is one conv of VGG-16, or the stem, one residual block or the classifier of ResNet-19.
# Where a stage's $T$ differs from that of its input spikes, a time adapter at its input cuts the
# steps into contiguous groups (4 -> 3 gives {0}, {1, 2}, {3}, the grouping of MTT's public code);
# shrinking joins each group by a **sum** (spike counts; the default, `model.time_join = "sum"`) or
# an **OR** (binary), growing copies steps. A summed input of up to $g$ spikes is a small integer
# that a one-bit-per-cycle PE streams as $\lceil \log_2(g + 1) \rceil$ bit-planes, so halving $T$
# with a sum saves no cycles in the layer that reads the sums: 2 steps x 2 bit-planes = 4 cycles
# per weight and position, the same as before. It saves in every layer after it. The encoder still
# runs once; the logits are averaged over the last stage's steps.

# %% tags=["parameters"]
PROFILE = "cpu"
ARCHS = "vgg16"
DATASET = "fmnist"
N_PE = 16
SEED = 0
WIDTH = None
LEVELS = None
EPOCHS = None
# None keeps the profile's search setting (profiles.TIMEPLAN_SEARCH): BUDGET is the accuracy budget
# as a fraction (0.01 = one point), CANDIDATES the smaller T tried per stage (e.g. "1,2"), VAL_SIZE
# the validation images of the selection, MAX_STEPS a cap on greedy trials, FINETUNE_EPOCHS the
# epochs at the chosen plan, JOIN the time adapter ("sum" or "or").
BUDGET = None
CANDIDATES = None
VAL_SIZE = None
MAX_STEPS = None
FINETUNE_EPOCHS = None
JOIN = None

# %%
import pandas as pd
from IPython.display import display

from uticket_lib import analysis
from uticket_lib.analysis import claims as claimlib
from uticket_lib.analysis import timesteps as ts
from uticket_lib import plotting
from uticket_lib.plotting import timesteps as tplot

ch = analysis.chapter(PROFILE, ARCHS, DATASET, seed=SEED, n_pe=N_PE, width=WIDTH, levels=LEVELS,
                      epochs=EPOCHS)
overrides, arch_list, pairs = ch.overrides, ch.archs, ch.pairs
settings = ts.search_settings(PROFILE, budget=BUDGET, candidates=CANDIDATES, val_size=VAL_SIZE,
                              max_steps=MAX_STEPS, finetune_epochs=FINETUNE_EPOCHS, join=JOIN)
analysis.glue("ch12_profile", PROFILE)
analysis.glue("ch12_budget", 100 * settings["budget"], "{:g}")
analysis.glue("ch12_join", settings["join"])
setting_names = {"val_size": "validation images", "candidates": "candidate T per stage", "budget": "accuracy budget",
                 "max_steps": "greedy trials (cap)", "join": "time adapter", "finetune_epochs": "fine-tuning epochs"}
display(analysis.table(pd.DataFrame({"search setting": {setting_names.get(k, k): str(v) for k, v in settings.items()}})))

# %% [markdown]
# ## Choosing the plan
#
# The search (`uticket_lib.timeplan.search`) works on a trained ticket and never sees the test set.
# It selects on held-out training images: the first images of the run's validation split
# (`data.val_split`, held out of the training set), so none of them was trained on. For every stage and every smaller $T$ it
# measures the validation accuracy and the hardware cost of two changes: that stage alone at $T$,
# and that stage with every later one at $T$ (a suffix). The suffixes are needed because of the sum
# join: a lone stage at $T = 2$ reads 2 steps x 2 bit-planes and hands on 2 steps that are copied
# back to 4, so it saves no cycles anywhere, while a run of stages at $T = 2$ saves in each stage
# after its first (costs: output-mode cycles, per-layer $T_l$, bit-planes, Eq. 3 with the measured
# bit sparsity of each layer's adapted input). Then, from the uniform plan, it applies the
# candidates that save latency in order of latency saved per point of accuracy lost and keeps each
# one whose combined plan stays within
# {glue:md}`ch12_budget` point(s) of the uniform plan's validation accuracy. The join is
# {glue:md}`ch12_join`. The test accuracy of the chosen plan is measured once, afterwards.

# %%
results = ts.searches(pairs, **settings)
first = arch_list[0]
sens = ts.sensitivity_frame(results[first]["lth"])
cheap = sens[sens["latency saving %"] > 0]["drop (points)"]
saving = sorted({(sc, t) for (sc, _, t) in cheap.index})
plotting.captioned(
    tplot.sensitivity(sens),
    f"Where fewer timesteps are cheap, for the {analysis.ARCH_LABELS.get(first, first)} LTH ticket: each row "
    "changes one stage alone or the suffix from that stage on to a smaller T. Changes that save PE latency "
    f"(right): {', '.join(f'{sc} at T = {t}' for sc, t in saving) or 'none'}. The drops (left, validation "
    "points; blue: accuracy rose) tell which of them the search can afford: "
    f"{int((cheap <= 100 * settings['budget']).sum())} of the {len(cheap)} latency-saving changes cost at most "
    f"the {100 * settings['budget']:g}-point budget on their own.");

# %% [markdown]
# The heatmaps show, for the LTH ticket of the first network, the validation accuracy drop and the
# latency saving of each change: one stage alone, or a suffix from that stage on, at fewer steps. The
# stem (stage 0) is the direct encoding: its conv is not a covered layer, so its own row saves no PE latency, but fewer stem steps change
# every spike that follows. A stage right after a summed shrink saves fewer cycles than its $T$
# suggests, because its inputs need extra bit-planes.

# %%
plans = ts.plans_frame(results)
display(analysis.table(plans.T))   # one column per ticket: the plan's ten columns do not fit side by side
analysis.glue("ch12_plans", ts.plan_summary(results, settings["budget"]))
n_val = results[first]["lth"]["settings"]["validation_images"]
analysis.glue("ch12_val_images", n_val)
analysis.glue("ch12_point_images", n_val / 100, "{:g}");

# %% [markdown]
# In this build: {glue:md}`ch12_plans`. A ticket that keeps uniform $T$ has reductions of 1x below:
# how far a ticket can cut steps depends on how much accuracy margin it has (a short-trained, 98 %-sparse
# ticket has little), and, at this profile, on the search's cap on greedy trials, which tries the
# changes with the most latency saved per point lost first and may stop before the small, cheap ones.
#
# ## Against LD-SNN's ranges
#
# LD-SNN starts from its own networks' $T$; here every ticket starts from $T = 4$, so no
# reduction can exceed 4x (every stage at $T = 1$), and LD-SNN's upper ends (up to 3.84x) are
# not reachable targets. What can be compared is whether the layerwise plans reach at least the
# low end of each of LD-SNN's ranges. Neuron evaluations fall exactly with $\sum_l N_l T_l$;
# synaptic updates also fall with the spikes the adapted inputs carry; latency falls less where a
# summed input needs two bit-planes.

# %%
display(ts.combined_frame(results))

# %% [markdown]
# ## With u-Ticket
#
# The table compares both tickets at uniform $T$ and at their own layerwise plans, relative to LTH at
# uniform $T$. u-Ticket makes each step's cycles busier (higher utilization, chapter 4); the time
# plan removes steps. The question is whether u-Ticket's latency advantage survives once each ticket
# runs its own plan: a ticket whose accuracy tolerates fewer steps may win on steps what it loses on
# balance. Energy here is Eq. 3 with the bit sparsity each layer's input has on the search's
# validation images, layer by layer; chapter 6 uses one network spike sparsity measured on the test
# set, so the two chapters' energy savings at uniform $T$ are close but not equal.
#
# ## Claims checked
#
# Profile {glue:md}`ch12_profile`. The reductions are measured on one ticket per method and
# selected within the validation budget on {glue:md}`ch12_val_images` held-out images, where one
# point is {glue:md}`ch12_point_images` images: the budget is a noisy bound, and a search over
# some thirty candidates favours the ones that happened to look cheap. The plans table shows each
# chosen plan's test accuracy beside its validation accuracy, measured after the choice.

# %%
claims = (ts.reduction_claims(results, settings["budget"]) + [ts.uticket_claim(results)]
          + ts.invariant_claims(pairs[first]["lth"]))
claimlib.show(claims, PROFILE, chapter="12_timesteps");
