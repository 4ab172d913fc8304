"""Your own network on the PE model (chapter 13): prune, balance, report, and the same through the CLI.

Works on any ``nn.Module`` whose weights sit in ``nn.Conv2d`` / ``nn.Linear`` layers; nothing here
knows the book's VGG-16 or ResNet-19.
"""
from __future__ import annotations

import contextlib
import io as _io
import json
import tempfile
from pathlib import Path

import pandas as pd
import torch
from torch import nn

from .. import cli, hardware, pruning
from ..pruning import balance as balancing

METHODS = ("magnitude", "u-Ticket")


def tickets(model: nn.Module, sparsity: float, n_pe: int = 16, seed: int = 0) -> dict[str, dict]:
    """{"magnitude": masks, "u-Ticket": masks}: the covered convolutions (every conv but the first) pruned
    one-shot to ``sparsity`` by global magnitude, the encoder and the linear layers kept whole, then
    those masks balanced for ``n_pe`` PEs. (Pruned globally with the rest, an untrained read-out's
    small fan-in-scaled weights would all go.)"""
    weights = {n: w.detach() for n, w in pruning.prunable(model).items()}
    masks = pruning.ones(weights)
    covered = pruning.default_covered(masks)
    pruned = pruning.prune({n: weights[n] for n in covered}, {n: masks[n] for n in covered}, sparsity)
    magnitude = {**masks, **pruned}
    return {"magnitude": magnitude, "u-Ticket": balancing.balance(magnitude, n_pe=n_pe, covered=covered, seed=seed)}


def reports(masks: dict[str, dict], layers, n_pe: int = 16, timesteps: int = 4) -> dict[str, dict]:
    """``hardware.report`` of each method's masks (output-mode cycles, the calibrated energy preset)."""
    return {m: hardware.report(mk, layers, n_pe=n_pe, timesteps=timesteps) for m, mk in masks.items()}


def summary(reps: dict[str, dict]) -> pd.DataFrame:
    """One row per method: the covered layers' weight sparsity (%), utilization (Eq. 2), cycle
    utilization (work / (work + idle)), latency and energy, and their change against the first
    method (%)."""
    rows = {}
    for method, r in reps.items():
        n = r["network"]
        rows[method] = {"covered-layer sparsity (%)": 100 * n["weight_sparsity_covered"],
                        "utilization (Eq. 2)": n["utilization"],
                        "cycle utilization": n["work"] / (n["work"] + n["idle"]),
                        "latency (cycles)": n["latency"], "energy": n["energy"]}
    f = pd.DataFrame(rows).T
    base = f.iloc[0]
    for col in ("latency (cycles)", "energy"):
        f[f"{col.split(' (')[0]} vs {f.index[0]} (%)"] = 100 * (f[col] / base[col] - 1)
    return f


def trace_frame(layers, n_pe: int = 16) -> pd.DataFrame:
    """What ``hardware.trace`` recorded: per layer its role, outputs (filters), input and output map
    size and the blocks of ``n_pe`` filters it runs as."""
    return pd.DataFrame([{"layer": l.name, "role": l.role, "filters / outputs": l.out_channels,
                          "input map": "x".join(map(str, l.in_hw)) if l.kind == "conv" else "-",
                          "output map": "x".join(map(str, l.out_hw)) if l.kind == "conv" else "-",
                          "blocks": -(-l.out_channels // n_pe)} for l in layers]).set_index("layer")


def layer_frame(rep: dict) -> pd.DataFrame:
    """Per layer of one report: role, filters, non-zero weights, blocks, utilization, latency."""
    return pd.DataFrame([{"layer": r["name"], "role": r["role"], "filters": r["n_filters"], "non-zeros": r["nnz"],
                          "blocks": r["n_blocks"], "utilization": r["utilization"], "latency": r["latency"]}
                         for r in rep["layers"]]).set_index("layer")


def command(masks_file: str, model: str, model_args: dict, input_shape: tuple[int, ...], n_pe: int) -> list[str]:
    """The ``uticket hw`` arguments that report ``masks_file`` on the ``--model`` factory."""
    argv = ["hw", "--masks", masks_file, "--model", model]
    for k, v in model_args.items():
        argv += ["--model-arg", f"{k}={v}"]
    return argv + ["--input-shape", ",".join(map(str, input_shape)), "--n-pe", str(n_pe), "--json"]


def cli_report(masks: dict, model: str, model_args: dict, input_shape: tuple[int, ...], n_pe: int = 16) -> dict:
    """Run ``uticket hw --model`` in this process on ``masks`` (saved to a temporary file) and return its
    JSON; raises ``RuntimeError`` with the CLI's error line where it exits non-zero."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "masks.pt"
        pruning.save(masks, path)
        out, err = _io.StringIO(), _io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(command(str(path), model, model_args, input_shape, n_pe))
    if code != 0:
        raise RuntimeError(err.getvalue().strip())
    return json.loads(out.getvalue())


def checks(masks: dict[str, dict], reps: dict[str, dict], via_cli: dict, layers, n_pe: int) -> dict:
    """What chapter 13's implementation checks read: traced layers against the model's weights,
    u-Ticket's covered blocks, and the CLI's report against the in-process one."""
    covered = hardware.covered_layers(layers)
    ut = reps["u-Ticket"]
    equal = True
    for name in covered:
        load, valid = pruning.loads(masks["u-Ticket"][name], n_pe)       # [blocks, n_pe] each
        equal &= all(len(set(row[v].tolist())) <= 1 for row, v in zip(load, valid))
    mag, bal = (sum(int(m.sum()) for m in mk.values()) for mk in (masks["magnitude"], masks["u-Ticket"]))
    filters = sum(masks["magnitude"][name].shape[0] for name in covered)
    keys = ("work", "idle", "latency", "utilization", "energy")
    return {"layers": len(layers), "weights": len(masks["magnitude"]), "covered": len(covered),
            "equal_blocks": equal, "utilization": ut["network"]["utilization"],
            "nonzero_change_pct": 100 * (bal / mag - 1), "added": bal - mag, "covered_filters": filters,
            "cli_matches": all(torch.isclose(torch.tensor(float(via_cli["network"][k])),
                                             torch.tensor(float(ut["network"][k])), rtol=1e-9) for k in keys)}
