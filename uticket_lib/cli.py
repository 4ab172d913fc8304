"""``uticket``: run lottery experiments, balance masks, evaluate hardware, list runs.

    uticket run --profile smoke --arch vgg16 --dataset fmnist --method uticket [--set key=value ...]
    uticket balance --masks IN.pt --out OUT.pt --n-pe 16 [--reference block|layer] --seed S
    uticket hw --masks MASKS.pt --arch vgg16 --dataset cifar10 [--width W] --n-pe 16 --json
    uticket hw --masks MASKS.pt --model mypkg.nets:tiny_snn [--model-arg width=16 ...] [--input-shape 1,28,28]
    uticket runs
    uticket book [--profile smoke|cpu|paper] [--only 04_uticket ...] [-p WIDTH 0.5 ...] [--no-html]

Errors a user can fix exit with status 2 and one line on stderr.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import data as datalib
from . import lottery, models, profiles, runstore, validation
from .hardware import cycles as hardware_modes


def _parse_sets(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"--set expects key=value (e.g. train.epochs=3), got {item!r}")
        out[key.strip()] = value.strip()
    return out


# ----------------------------------------------------------------------------- commands
def cmd_run(args: argparse.Namespace) -> int:
    cfg = profiles.get(args.profile, args.arch, args.dataset, args.method, _parse_sets(args.set))
    out = lottery.run(cfg, root=_runs_arg(args), progress=not args.quiet)
    rows = runstore.levels(out)
    print(f"run: {out}")
    print(f"{'level':>5} {'sparsity':>9} {'test acc':>9} {'spike sp.':>9}")
    for m in rows:
        print(f"{m['level']:>5} {m['sparsity']:>9.4f} {m['test_accuracy']:>9.4f} {m['spike_sparsity']:>9.4f}")
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    from .pruning import mask as masklib
    from .pruning.balance import balance as balance_masks
    from .pruning.balance import default_covered

    if args.n_pe < 1:
        raise ValueError(f"--n-pe must be >= 1, got {args.n_pe}")
    if args.seed < 0:
        raise ValueError(f"--seed must be an integer >= 0, got {args.seed}")
    _writable_file(args.out, "--out")
    masks = masklib.load(args.masks)
    if not masks:
        raise ValueError(f"{args.masks} holds no masks (an empty dict); nothing to balance")
    convs = [n for n, m in masks.items() if m.dim() == 4]
    if args.layers is None:
        covered = default_covered(masks)
    else:
        covered = [n.strip() for n in args.layers.split(",") if n.strip()]
        unknown = [n for n in covered if n not in convs]
        if unknown:
            raise ValueError(f"--layers names {', '.join(unknown)}, not a conv mask of {args.masks}; "
                             f"its conv masks: {', '.join(convs) or 'none'}")
    if not covered:
        raise ValueError(f"{args.masks} has no conv mask to balance (u-Ticket balances every 4-D mask "
                         f"but the first, the encoding conv; it holds {len(convs)}); pass --layers")
    out = balance_masks(masks, n_pe=args.n_pe, reference=args.reference, covered=covered,
                        seed=args.seed)
    masklib.save(out, args.out)
    print(f"balanced {len(covered)} layers with n_PE={args.n_pe} "
          f"({args.reference}): sparsity {masklib.sparsity(masks):.4f} -> {masklib.sparsity(out):.4f}; "
          f"wrote {args.out}")
    return 0


def _model_arg_value(text: str):
    """``--model-arg`` value: int, float, true/false, none, else the string itself."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def user_model(spec: str, items: list[str] | None = None):
    """The ``nn.Module`` that ``package.module:factory`` returns, called with ``key=value`` items as
    keyword arguments. The current directory is importable, as with ``python -m``."""
    import importlib

    from torch import nn

    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"--model expects package.module:factory (e.g. mynets:tiny_snn), got {spec!r}")
    kwargs = {}
    for item in items or []:
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise ValueError(f"--model-arg expects key=value (e.g. width=16), got {item!r}")
        kwargs[key.strip()] = _model_arg_value(value)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"--model: cannot import {module_name!r} ({e}); run from the folder that holds "
                         f"it or install its package") from None
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise ValueError(f"--model: {module_name!r} has no callable {attr!r}")
    try:
        model = factory(**kwargs)
    except TypeError as e:
        raise ValueError(f"--model: {spec}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())}) failed: {e}") from None
    if not isinstance(model, nn.Module):
        raise ValueError(f"--model: {spec} returned {type(model).__name__}, not a torch.nn.Module")
    return model


def _input_shape(text: str | None, channels: int) -> tuple[int, ...]:
    if text is None:
        return (1, channels, 32, 32)
    try:
        dims = tuple(int(v) for v in text.split(","))
    except ValueError:
        dims = ()
    if len(dims) != 3 or min(dims) < 1:
        raise ValueError(f"--input-shape expects C,H,W of one image (e.g. 1,28,28), got {text!r}")
    return (1, *dims)


def cmd_hw(args: argparse.Namespace) -> int:
    from . import hardware
    from .hardware.geometry import HardwareInputError, weight_names
    from .pruning import mask as masklib

    if args.n_pe < 1:
        raise ValueError(f"--n-pe must be >= 1, got {args.n_pe}")
    if args.timesteps < 1:
        raise ValueError(f"--timesteps must be an integer >= 1, got {args.timesteps}")
    if not (math.isfinite(args.width) and 0 < args.width <= validation.MAX_WIDTH):
        raise ValueError(f"--width must be a number in (0, {validation.MAX_WIDTH:g}], got {args.width}")
    if args.arch not in models.REGISTRY:
        raise ValueError(f"unknown arch {args.arch!r}; choose one of: {', '.join(sorted(models.REGISTRY))}")
    if args.spike_sparsity is not None and not 0 <= args.spike_sparsity <= 1:
        raise ValueError(f"--spike-sparsity must be in [0, 1], got {args.spike_sparsity}")
    spec = datalib.DATASETS.get(args.dataset)
    if spec is None:
        raise ValueError(f"unknown dataset {args.dataset!r}; choose one of: {', '.join(sorted(datalib.DATASETS))}")
    if args.model:   # a reader's own network: any nn.Module with Conv2d / Linear layers
        model = user_model(args.model, args.model_arg)
    else:
        model = models.build(args.arch, in_channels=spec.in_channels, num_classes=spec.num_classes,
                             width=args.width, timesteps=args.timesteps)
    shape = _input_shape(args.input_shape, spec.in_channels)
    try:
        layers = hardware.trace(model, shape)
    except (RuntimeError, TypeError) as e:   # a reader's network that does not take this input
        if not args.model:
            raise
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ValueError(f"--model: {args.model} failed on a blank input of shape {shape} ({first}); give "
                         f"one image's shape with --input-shape C,H,W") from None
    masks = masklib.load(args.masks)
    timesteps, planes = args.timesteps, None
    if args.time_plan is not None:   # one value = uniform T; else one T per stage
        plan = models.timeplan.parse(args.time_plan)
        if len(plan) == 1:
            timesteps = plan[0]
        elif args.model:
            raise ValueError("--time-plan with one T per stage needs the book's VGG-16 / ResNet-19 "
                             "(--arch); with --model give one value (a uniform T)")
        else:
            model.set_time_plan(plan, args.time_join)
            timesteps, planes = model.layer_timesteps(), model.layer_planes()
    try:
        result = hardware.report(masks, layers, n_pe=args.n_pe, mode=args.mode, timesteps=timesteps,
                                 input_planes=planes,
                                 energy=args.energy, spike_sparsity=args.spike_sparsity, avg=args.avg,
                                 weighting=args.weighting, include_linear=args.include_linear,
                                 reorder=args.reorder, weight_bits=_bits_arg(args.bits))
    except HardwareInputError as e:
        if not args.model:
            raise
        names = list(weight_names(model).values())
        raise HardwareInputError(f"{e}. The masks must be keyed by {args.model}'s weight names "
                                 f"({', '.join(names[:3])}{', ...' if len(names) > 3 else ''}; "
                                 f"uticket_lib.pruning.prunable(model) lists them)") from None
    if args.json:
        print(json.dumps(result, indent=2, sort_keys=True))
        return 0
    print(f"{'layer':<28} {'work':>12} {'idle':>12} {'latency':>12} {'util':>6}")
    for row in result["layers"]:
        print(f"{row['name']:<28} {row['work']:>12.4g} {row['idle']:>12.4g} {row['latency']:>12.4g} "
              f"{row['utilization']:>6.3f}")
    n = result["network"]
    print(f"{'network':<28} {n['work']:>12.4g} {n['idle']:>12.4g} {n['latency']:>12.4g} "
          f"{n['utilization']:>6.3f}  energy {n['energy']:.4g}")
    print(f"neuron evaluations {n['neuron_evaluations']:.4g}  synaptic updates {n['synaptic_updates']:.4g}")
    return 0


def _writable_file(path: Path, flag: str) -> None:
    if path.is_dir():
        raise ValueError(f"{flag} {path} is a directory; give the path of the file to write "
                         f"(e.g. {path / 'mask.pt'})")


def _runs_arg(args: argparse.Namespace) -> Path | None:
    if not args.runs:
        return None
    root = Path(args.runs)
    if root.exists() and not root.is_dir():
        raise ValueError(f"--runs {root} is a file; give the runs directory (created when missing)")
    return root


def _bits_arg(bits: int) -> int:
    from .hardware.memory import WORD_BITS as high
    from .hardware.report import MIN_WEIGHT_BITS as low

    if not low <= bits <= high:
        raise ValueError(f"--bits must be an integer in [{low}, {high}] (2 = ternary, {high} = today's "
                         f"model), got {bits}")
    return bits


def cmd_runs(args: argparse.Namespace) -> int:
    rows = runstore.list_runs(_runs_arg(args))
    if args.json:
        print(json.dumps(rows, indent=2, sort_keys=True))
        return 0
    if not rows:
        print("no runs yet (uticket run --profile smoke creates one)")
        return 0
    print(f"{'run':<44} {'arch':<9} {'data':<8} {'method':<8} {'levels':>7}")
    for r in rows:
        if r["error"]:
            print(f"{r['name']:<44} BROKEN: {r['error']}")
            continue
        print(f"{r['name']:<44} {r['arch']:<9} {r['dataset']:<8} {r['method']:<8} "
              f"{r['levels_done']:>3}/{r['levels']:<3}")
    return 0


def repo_root(start: Path | None = None) -> Path:
    """The book's repository: ``start`` (default: the working directory) or a parent of it that holds
    ``ci/run_notebooks.py`` and ``notebooks/``."""
    here = (start or Path.cwd()).resolve()
    for d in (here, *here.parents):
        if (d / "ci" / "run_notebooks.py").is_file() and (d / "notebooks").is_dir():
            return d
    raise FileNotFoundError(f"no uticket repository (ci/run_notebooks.py and notebooks/) at or above {here}; "
                            f"run from a clone or pass --root")


def book_argv(args: argparse.Namespace, root: Path) -> list[str]:
    """The ``ci/run_notebooks.py`` command line for ``uticket book`` arguments."""
    argv = ["--root", str(root), "--profile", args.profile]
    if args.only:
        argv += ["--only", *args.only]
    for key, value in args.parameter:
        argv += ["-p", key, value]
    return argv


def jupyter_book_command(root: Path) -> list[str]:
    """Incremental strict build (no ``--all``): Sphinx re-renders only the pages whose notebook changed."""
    jb = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    return [jb, "build", ".", "--config", "_config.yml", "--toc", "book/_toc.yml", "--path-output", "book",
            "-W", "-n", "--keep-going"]


def cmd_book(args: argparse.Namespace) -> int:
    root = repo_root(Path(args.root) if args.root else None)
    spec = importlib.util.spec_from_file_location("run_notebooks", root / "ci" / "run_notebooks.py")
    rn = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = rn  # its dataclasses need the module registered
    spec.loader.exec_module(rn)
    os.environ.setdefault("PYTHONPATH", str(root))  # the kernels import this checkout's uticket_lib
    try:
        rc = rn.main(book_argv(args, root))
    except SystemExit as e:  # run_notebooks names an unknown chapter this way
        if isinstance(e.code, str):
            raise ValueError(e.code.removeprefix("run_notebooks: ")) from None
        raise
    if args.no_html:
        return rc
    print("book: jupyter-book build (only changed pages)", flush=True)
    built = subprocess.run(jupyter_book_command(root), cwd=root).returncode
    print(f"book: {root / 'book' / '_build' / 'html' / 'index.html'}")
    return rc or (1 if built else 0)


# ----------------------------------------------------------------------------- parser
def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="uticket", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="find a lottery ticket (LTH or u-Ticket); resumes, skips finished work")
    r.add_argument("--profile", choices=sorted(profiles.PROFILES), default="cpu")
    r.add_argument("--arch", default="vgg16", help=f"one of {sorted(models.REGISTRY)}")
    r.add_argument("--dataset", default="fmnist", help=f"one of {sorted(datalib.DATASETS)}")
    r.add_argument("--method", choices=list(validation.METHODS), default="lth")
    r.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config field, e.g. --set train.epochs=3 --set model.width=0.5")
    r.add_argument("--runs", help="runs root (default $UTICKET_RUNS or ./runs)")
    r.add_argument("--quiet", action="store_true", help="no progress bars")
    r.set_defaults(fn=cmd_run)

    b = sub.add_parser("balance", help="u-Ticket workload balancing of a masks file")
    b.add_argument("--masks", required=True, type=Path, help="torch.save'd {parameter name: 0/1 tensor}")
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--n-pe", type=int, default=16)
    b.add_argument("--reference", choices=["block", "layer"], default="block")
    b.add_argument("--seed", type=int, default=0, help="seed of the random choices (>= 0)")
    b.add_argument("--layers", metavar="NAME,...",
                   help="conv masks to balance (default: every 4-D mask but the first, the encoding conv)")
    b.set_defaults(fn=cmd_balance)

    h = sub.add_parser("hw", help="PE-array workload, cycles, utilization and energy of a masks file")
    h.add_argument("--masks", required=True, type=Path)
    h.add_argument("--arch", default="vgg16")
    h.add_argument("--model", metavar="PACKAGE.MODULE:FACTORY",
                   help="your own network instead of --arch: FACTORY(**model args) returns an nn.Module "
                        "(the current directory is importable); --width does not apply")
    h.add_argument("--model-arg", action="append", default=[], metavar="KEY=VALUE",
                   help="keyword argument of the --model factory (repeatable; int, float, true/false, none or text)")
    h.add_argument("--input-shape", metavar="C,H,W",
                   help="one input image's shape for tracing the layers (default: the dataset's channels x 32 x 32)")
    h.add_argument("--dataset", default="cifar10")
    h.add_argument("--width", type=float, default=1.0)
    h.add_argument("--timesteps", type=int, default=4)
    h.add_argument("--time-plan", metavar="T1,T2,...",
                   help="layerwise timesteps: one value (uniform T) or one T per stage "
                        "(VGG-16: 13 convs; ResNet-19: stem, 8 blocks, classifier)")
    h.add_argument("--time-join", choices=["sum", "or"], default="sum",
                   help="time adapter where T shrinks: sum (counted as bit-planes) or or (binary)")
    h.add_argument("--n-pe", type=int, default=16)
    h.add_argument("--mode", choices=list(hardware_modes.STATIC_MODES), default="output",
                   help="cycle count (hardware.CYCLE_MODES without recorded spikes): " + "; ".join(
                       f"{n} = {hardware_modes.CYCLE_MODES[n].doc}" for n in hardware_modes.STATIC_MODES))
    h.add_argument("--energy", default="paper_calibrated", help="energy preset")
    h.add_argument("--spike-sparsity", type=float, default=None,
                   help="network input spike sparsity S of Eq. 3 (default: the preset's assumption)")
    h.add_argument("--avg", choices=["mean", "ceil"], default="mean",
                   help="Eq. 2 average: mean (paper) or ceil (released code)")
    h.add_argument("--weighting", choices=["params", "mean"], default="params",
                   help="network utilization: parameter-weighted (paper) or plain mean (code)")
    h.add_argument("--include-linear", action="store_true")
    h.add_argument("--reorder", choices=["identity", "sorted"], default=None,
                   help="compile-time filter reordering before mapping")
    h.add_argument("--bits", type=int, default=16,
                   help="weight bit width b (2 = ternary .. 16): scales scratchpad reads, AND energy and "
                        "stored weights; give the effective masks of a quantized network")
    h.add_argument("--json", action="store_true")
    h.set_defaults(fn=cmd_hw)

    ls = sub.add_parser("runs", help="list runs with their config and progress")
    ls.add_argument("--runs", help="runs root (default $UTICKET_RUNS or ./runs)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(fn=cmd_runs)

    bk = sub.add_parser("book", help="rerun chapters with parameters, then rebuild the changed pages",
                        description="Rerun book chapters (papermill, via ci/run_notebooks.py) with "
                                    "parameters, e.g. uticket book --only 04_uticket -p WIDTH 0.5 -p ARCHS vgg16; "
                                    "training runs already in the runs cache are reused.")
    bk.add_argument("--profile", choices=sorted(profiles.PROFILES), default="cpu")
    bk.add_argument("--only", nargs="+", metavar="CHAPTER", help="e.g. 04_uticket or 04 (default: all)")
    bk.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                    help="chapter parameter, as papermill -p (repeatable)")
    bk.add_argument("--root", help="repository root (default: the clone around the working directory)")
    bk.add_argument("--no-html", action="store_true", help="execute the notebooks only")
    bk.set_defaults(fn=cmd_book)
    return p


USER_ERRORS = (ValueError, KeyError, FileNotFoundError)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except USER_ERRORS as e:
        msg = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"uticket: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("uticket: interrupted; run the same command again to resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
