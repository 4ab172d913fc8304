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
# # How to: your own network on the PE model
#
# Every chapter so far ran the book's spiking VGG-16 and ResNet-19. The PE model of
# {doc}`05_cycles` does not need them: it traces any PyTorch module and counts the work, idle
# cycles, latency and energy of whatever masks its convolution and linear weights carry. This page
# takes a small SpikingJelly network of the kind a reader would write, prunes it, balances it as
# u-Ticket does {cite}`yin2024uticket`, and reports it on the PE array, first from Python and then
# from the command line. Nothing here trains: the weights are the network's initial ones, so the
# masks say nothing about accuracy; with a trained network, load its state first.

# %% tags=["parameters"]
PROFILE = "cpu"       # this page trains nothing: every profile gives the same numbers
WIDTH = 16            # channels of the first convolution (then 2x and 4x)
SPARSITY = 0.9        # share of the covered convs' weights pruned, one-shot, by global magnitude
N_PE = 16             # PEs per block
TIMESTEPS = 4

# %%
import inspect

from IPython.display import Markdown, display

from uticket_lib import analysis, examples, hardware
from uticket_lib.analysis import claims, own

analysis.glue("c13_width", WIDTH)
analysis.glue("c13_sparsity", f"{SPARSITY:.0%}")
analysis.glue("c13_n_pe", N_PE);

# %% [markdown]
# ## The network
#
# Three convolutions with batch normalisation and LIF neurons, two max-poolings and a linear
# read-out, for 28 x 28 grey images, written with SpikingJelly's multi-step layers and nothing from
# this book's library (`uticket_lib/examples.py`):

# %%
display(Markdown("```python\n" + inspect.getsource(examples.TinySNN) + "```"))

# %% [markdown]
# `hardware.trace` runs one forward pass on a blank image and records every `nn.Conv2d` and
# `nn.Linear` it meets (SpikingJelly's layers are both), with their input and output sizes. The
# first convolution is the encoder, which the PE array does not run (the paper leaves it out too),
# and the last linear layer is the classifier: u-Ticket and the cycle counts cover the other
# convolutions.

# %%
model = examples.tiny_snn(width=WIDTH, timesteps=TIMESTEPS)
input_shape = (1, 28, 28)
layers = hardware.trace(model, (1, *input_shape))
display(analysis.table(own.trace_frame(layers, N_PE)))

# %% [markdown]
# ## Prune, balance, report
#
# `own.tickets` prunes the covered convolutions' weights one-shot to {glue:md}`c13_sparsity` by global
# magnitude (`pruning.prune`), then balances those masks for {glue:md}`c13_n_pe` PEs
# (`pruning.balance.balance`, Algorithm 1 of the paper: within each block of {glue:md}`c13_n_pe`
# filters, pruned weights are switched back on in the lighter filters and surviving ones off in the
# heavier, at random, until every filter holds the block's mean load rounded up, so a few weights
# are added). Only the covered convolutions are pruned: the encoder and the read-out keep every
# weight (pruned globally with the rest, this read-out's many small initial weights would all go).
# `hardware.report` turns each set of masks into the PE model's numbers.

# %%
masks = own.tickets(model, SPARSITY, n_pe=N_PE)
reports = own.reports(masks, layers, n_pe=N_PE, timesteps=TIMESTEPS)
frame = own.summary(reports)
display(analysis.table(frame))
for method, rep in reports.items():
    display(Markdown(f"**{method}**, per layer:"))
    display(analysis.table(own.layer_frame(rep)))
analysis.glue("c13_latency_cut", f"{-frame.loc['u-Ticket', 'latency vs magnitude (%)']:.1f} %")
analysis.glue("c13_util_mag", f"{frame.loc['magnitude', 'utilization (Eq. 2)']:.2f}");

# %% [markdown]
# Magnitude pruning leaves the blocks unequal (utilization {glue:md}`c13_util_mag`); balanced, every
# PE of a block holds the same number of weights, and the latency falls by {glue:md}`c13_latency_cut`
# at nearly the same sparsity. On untrained weights the imbalance is counting noise alone, the baseline
# that {doc}`03_imbalance` compares trained tickets with; a trained network's masks are usually
# more uneven.
#
# ## The same from the command line
#
# Save the masks with `uticket_lib.pruning.save(masks, "masks.pt")` (a dict from weight name to a
# 0/1 tensor of the weight's shape) and point `uticket hw` at the factory that builds the network:

# %%
argv = own.command("masks.pt", "uticket_lib.examples:tiny_snn", {"width": WIDTH, "timesteps": TIMESTEPS},
                   input_shape, N_PE)
display(Markdown("```bash\nuticket " + " ".join(argv) + "\n```"))
via_cli = own.cli_report(masks["u-Ticket"], "uticket_lib.examples:tiny_snn",
                         {"width": WIDTH, "timesteps": TIMESTEPS}, input_shape, N_PE)
display(analysis.table(own.summary({"library": reports["u-Ticket"], "command line": via_cli})
                       .drop(columns=["latency vs library (%)", "energy vs library (%)"])))

# %% [markdown]
# `--model package.module:factory` imports the module (the current folder is importable) and calls
# the factory with the `--model-arg key=value` pairs as keyword arguments; `--input-shape C,H,W`
# sizes the blank image the layers are traced with. Masks whose names are not the network's weight
# names are refused with the names it expected (`uticket_lib.pruning.prunable(model)` lists them).
# Without `--json` the command prints a per-layer table.
#
# ## Exercises
#
# 1. Predict whether the latency cut grows or shrinks at 98 % sparsity, where far fewer weights
#    survive per filter. Run `uticket book --only 13_own_network -p SPARSITY 0.98`.
# 2. Change `N_PE` to 4: blocks of 4 filters are easier to balance by chance. Predict the
#    utilization of the magnitude masks before you run it.
#
# :::{admonition} Solutions
# :class: dropdown
#
# 1. It grows. Global magnitude pruning of untrained weights ranks the layers by their initial
#    scale, which shrinks with fan-in, so at 98 % the last convolution loses every weight and the
#    survivors sit in the middle one, a dozen or so per filter instead of several dozen. With fewer
#    weights per filter the counts vary more relative to their mean, the heaviest filter of a block
#    lies further above it, and balancing cuts a larger share of the latency, although the
#    rounded-up target now adds relatively more weights. Do not read the Eq. 2 column alone: it may
#    even rise, because the emptied layer holds most of the parameters and an empty block counts as
#    fully used; the cycle utilization shows the real fall (and a network with an empty layer
#    computes nothing useful).
# 2. Higher. Eq. 2 compares a block's slowest PE with the others, and the heaviest of 4 random
#    counts lies closer to their mean than the heaviest of 16, so every covered layer's utilization
#    rises, most in the layer with fewer weights per filter; the cycle utilization, which counts the
#    slowest PE as busy, rises more. The magnitude masks do not depend on `N_PE`, only their cut
#    into blocks does: the latency in cycles grows (a quarter as many PEs share the work), and
#    u-Ticket's latency cut shrinks, since there is less idle to remove.
# :::
#
# ## Claims checked
#
# This page reproduces nothing from the paper; its checks are implementation checks of the tools it
# shows.

# %%
checks = own.checks(masks, reports, via_cli, layers, N_PE)
chapter_claims = claims.show(claims.own_network(checks), PROFILE, "13_own_network");
