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
# # Spiking neurons and the two networks
#
# This chapter introduces the building blocks that every later chapter prunes and balances: the
# leaky integrate-and-fire (LIF) neuron, the way an image enters a spiking network, the surrogate
# gradient that makes the network trainable, and the two architectures of the paper
# {cite}`yin2024uticket`, a spiking VGG-16 and a spiking ResNet-19 in the style of
# {cite}`kim2022lottery`. Nothing is trained here.

# %% tags=["parameters"]
PROFILE = "cpu"
ARCHS = "vgg16,resnet19"
DATASET = "fmnist"
N_PE = 16
SEED = 0
# WIDTH None: the profile's width
WIDTH = None
STEPS = 16         # length of the toy input current

# %%
import pandas as pd
from IPython.display import display

from uticket_lib import analysis, data, plotting, profiles
from uticket_lib.analysis import claims, paper_compare, toys
from uticket_lib.models import neurons
from uticket_lib.plotting import learning as plots

pd.set_option("display.precision", 3)
cfg = profiles.get(PROFILE, dataset=DATASET, overrides=analysis.overrides(seed=SEED, n_pe=N_PE, width=WIDTH))
arch_list = analysis.archs(ARCHS)
in_channels = data.DATASETS[DATASET].in_channels
analysis.glue("ch1_profile", PROFILE)
analysis.glue("ch1_width", cfg.model.width, "{:g}")
analysis.glue("ch1_T", cfg.model.timesteps)
analysis.glue("ch1_tau", neurons.TAU, "{:.4g}")
analysis.glue("ch1_leak", 1 - 1 / neurons.TAU, "{:.2f}")
analysis.glue("ch1_vth", neurons.V_THRESHOLD, "{:g}")
analysis.glue("ch1_alpha", neurons.SURROGATE_ALPHA, "{:g}");

# %% [markdown]
# ## The leaky integrate-and-fire neuron
#
# A spiking neuron keeps a membrane potential between timesteps. In the paper's notation
# (Eq. 1), the potential of neuron $i$ at step $t$ leaks by a factor $\lambda$ and adds the
# weighted spikes arriving from the previous layer:
#
# $$u_i^t = \lambda\, u_i^{t-1} + \sum_j w_{ij}\, s_j^t. \tag{1}$$
#
# When $u_i^t$ reaches the threshold the neuron emits a spike $s_i^t = 1$ and its potential is set
# back to zero (a hard reset). The released code implements this with SpikingJelly's LIF node
# {cite}`fang2023spikingjelly` and a time constant $\tau$ = {glue:md}`ch1_tau`. Writing the
# synaptic input as $x_i^t = \sum_j w_{ij} s_j^t$, one step is
#
# $$\begin{aligned}
# h^t &= v^{t-1} + \frac{x^t - v^{t-1}}{\tau} = \Big(1 - \frac{1}{\tau}\Big) v^{t-1} + \frac{x^t}{\tau},\\
# s^t &= \Theta\big(h^t - v_{th}\big), \qquad v^t = h^t\,(1 - s^t),
# \end{aligned}$$
#
# which is Eq. 1 with $\lambda = 1 - 1/\tau$ = {glue:md}`ch1_leak` and the input scaled by $1/\tau$
# (a constant factor that the next batch normalisation absorbs). The threshold is
# $v_{th}$ = {glue:md}`ch1_vth`.
#
# Below, a toy current is fed to the library's neuron (`uticket_lib.models.neurons.lif()`, one
# step at a time) and the same recursion is computed by hand in plain Python. The current has four
# phases: a weak input that charges the neuron towards 0.5 without ever reaching the threshold, a
# medium input that makes it fire every second step, a strong input that makes it fire at every
# step, and silence.

# %%
current = toys.toy_current(STEPS)
lif_table = toys.lif_table(current)
display(lif_table.round(4))

# %%
plotting.captioned(plots.lif(lif_table),
    f"The library's LIF neuron under the four-phase current: the weak input charges it towards its "
    f"level without reaching the threshold, the medium one makes it fire every second step, the strong "
    f"one at every step; each spike resets the membrane to zero, discarding the charge above the "
    f"threshold ({int(lif_table['spike (library)'].sum())} spikes in {len(lif_table)} steps).");

# %%
lif_matches = bool(lif_table["match"].all())
analysis.glue("ch1_lif_steps", len(lif_table))
analysis.glue("ch1_lif_spikes", int(lif_table["spike (library)"].sum()));

# %% [markdown]
# The library neuron and the hand computation agree at all {glue:md}`ch1_lif_steps` steps
# ({glue:md}`ch1_lif_spikes` spikes in total). Two things are visible in the plot: the leak makes
# the weak input saturate below the threshold (a constant input $x$ drives $h$ towards $x$, so
# anything below 1 is silent forever), and the hard reset throws away the charge above the
# threshold, so a strong input produces at most one spike per step.
#
# ## Direct encoding and timesteps
#
# The networks see a static image, not a spike train. As in the released code, the first
# convolution and its batch normalisation are computed once on the pixel values and the same
# current is fed to the first layer of neurons at each of the $T$ = {glue:md}`ch1_T` timesteps
# ("direct encoding"). Every later layer receives binary spikes. The last linear layer has no
# neuron: its outputs are logits at each step; training minimises the mean over steps of the
# cross-entropy and the prediction is the class with the largest summed logit. Because the first
# convolution sees analog values and runs only once, the hardware model and u-Ticket's balancing
# leave it out (it is the "encoder" in the tables below).
#
# ## The surrogate gradient
#
# The spike function is a step: its derivative is zero everywhere except at the threshold, where it
# is undefined, so plain backpropagation would not train anything. Surrogate-gradient training keeps
# the step in the forward pass and uses the slope of a smooth stand-in in the backward pass. The
# paper names a tanh-shaped stand-in; the released code (and this one) uses SpikingJelly's ATan
# surrogate with $\alpha$ = {glue:md}`ch1_alpha`:
#
# $$\sigma(u) = \frac{1}{\pi}\arctan\Big(\frac{\pi}{2}\alpha u\Big) + \frac{1}{2}, \qquad
# \sigma'(u) = \frac{\alpha/2}{1 + \big(\frac{\pi}{2}\alpha u\big)^2}, \qquad u = h - v_{th}.$$
#
# The right panel compares the formula with the gradient that autograd actually sends through the
# library's neuron.

# %%
sg = toys.surrogate_frame()
plotting.captioned(plots.surrogate(sg),
    "Forward, a spike is a step of the charge minus the threshold (left); backward, training uses the "
    "slope of the smooth ATan stand-in instead (right), and the gradient autograd sends through the "
    "library's neuron (dots) lies on the formula (line).");

# %%
sg_error = float((sg["autograd"] - sg["formula"]).abs().max())
analysis.glue("ch1_sg_error", sg_error, "{:.1e}");

# %% [markdown]
# The largest difference between the two curves is {glue:md}`ch1_sg_error`: the neuron's backward
# pass is the ATan surrogate. The reset is detached from the graph (its gradient is not propagated),
# as in the released code.
#
# ## The two networks
#
# Both networks are built by `uticket_lib.models.build` and traced layer by layer with
# `uticket_lib.hardware.trace`, which records each convolution's and linear layer's weight shape
# and feature-map sizes. The {glue:md}`ch1_profile` profile of this build uses a width multiplier of
# {glue:md}`ch1_width` on every channel count (the paper's networks are width 1); the input has
# one channel for Fashion-MNIST {cite}`xiao2017fashion`, resized to 32 x 32.
#
# ### VGG-16
#
# Thirteen 3 x 3 convolutions with batch normalisation and LIF neurons, max pooling on the spikes
# after the 2nd, 4th, 7th, 10th and 13th, and one linear classifier.

# %%
vgg_table = toys.layer_table("vgg16", width=cfg.model.width, in_channels=in_channels)
display(vgg_table)

# %% [markdown]
# ### ResNet-19
#
# A stem convolution, then three stages of 3, 3 and 2 residual blocks (two 3 x 3 convolutions
# each), the first block of each stage halving the feature map and using a 1 x 1 convolution on
# the shortcut; average pooling, a hidden linear layer with LIF neurons and the classifier.

# %%
resnet_table = toys.layer_table("resnet19", width=cfg.model.width, in_channels=in_channels)
display(resnet_table)

# %% [markdown]
# ### Parameter counts
#
# Pruning acts on the weights of every convolution and linear layer ("conv+linear" below; biases
# and batch-normalisation parameters are never pruned). The counts at width 1 with three input
# channels (the paper's CIFAR10 setting) can be compared with the figures given for the released
# code (its VGG-16 has about 14.7 M weights and its ResNet-19 about 12.6 M, as this project
# counted them from the released model definitions); the "covered share" is the fraction of prunable weights in
# layers that the workload model and u-Ticket's balancing act on (every convolution but the
# encoder).

# %%
counts = toys.param_counts(sorted(set(arch_list) | set(paper_compare.NOTES_WEIGHTS)), sorted({1.0, cfg.model.width}),
                                in_channels=3)
display(counts)

# %%
width1 = counts[counts["width"] == 1.0].set_index("arch")
for a in width1.index:
    analysis.glue(f"ch1_{a}_weights_w1", width1.loc[a, "weights (conv+linear)"] / 1e6, "{:.2f}M")
    analysis.glue(f"ch1_{a}_covered", width1.loc[a, "covered share"], "{:.1%}")

# %% [markdown]
# At width 1 the networks hold {glue:md}`ch1_vgg16_weights_w1` (VGG-16) and
# {glue:md}`ch1_resnet19_weights_w1` (ResNet-19) prunable weights. Almost all of them sit in
# covered layers ({glue:md}`ch1_vgg16_covered` for VGG-16, {glue:md}`ch1_resnet19_covered` for
# ResNet-19), so a workload model that ignores the encoder and the linear layers still sees nearly
# the whole network. Scaling every channel count by a width factor $w$ scales the weights of a
# convolution by about $w^2$.

# %% [markdown]
# ## Exercises
#
# Each takes minutes with the smoke profile (`-p PROFILE cpu` for the book's numbers, runs cached).
# Write your prediction down before you run it.
#
# 1. Predict the prunable weight count of VGG-16 at width 0.5 relative to the profile's width
#    before you run it. Convolutions scale by about $w^2$; which layer does not, and why? Run
#    `uticket book --profile smoke --only 01_neurons -p WIDTH 0.5`.
# 2. With the paper's $T = 4$ timesteps instead of 16, how many spikes can the toy neuron emit at
#    most, and does the first spike come at the same step as before? Run `uticket book --profile
#    smoke --only 01_neurons -p STEPS 4`.
#
# :::{admonition} Solutions
# :class: dropdown
#
# 1. A 3 x 3 convolution holds $C_{in} \cdot C_{out} \cdot 9$ weights and both channel counts scale
#    with $w$, so it scales by $w^2$: from the smoke profile's width 0.125 to 0.5 almost every layer
#    grows 16-fold (from the cpu profile's 0.25, 4-fold), and in the parameter table width 0.5 holds
#    about a quarter of the width-1 count. Two layers grow only by $w$: the encoder, whose input
#    channels are fixed by the image (1 here, 3 in the counts table), and the classifier, whose 10
#    outputs are fixed by the classes. They hold a tiny share of the weights, so the total lands
#    just below the $w^2$ ratio.
# 2. Each of the four input phases lasts `STEPS // 4` steps, so with 4 steps the neuron gets one
#    step of each. The hard reset allows at most one spike per step (4 at most), but this current
#    gives only one: after a single weak step the membrane holds 0.375 instead of nearly 0.5, and
#    the single medium step charges it to $0.25 \cdot 0.375 + 0.75 \cdot 1.2 \approx 0.99$, just
#    below the threshold. The first spike therefore comes at step 2 (the strong step), not at the
#    first medium step as with 16 steps: compare the charge column of the two tables.
# :::

# %% [markdown]
# ## Claims checked
#
# The neuron and the networks that the rest of the book relies on, checked on this build (profile
# {glue:md}`ch1_profile`): the neuron follows the hand-computed LIF recursion, its backward pass is
# the ATan surrogate, and the weight counts at width 1 match the released networks. All of them hold by
# construction of the code (the unit tests own them), so they appear as implementation checks, not
# as evidence that the paper reproduces.

# %%
chapter_claims = claims.show(claims.neurons(lif_table, sg, counts), PROFILE, "01_neurons");
