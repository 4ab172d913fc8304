"""Reading runs back, and keeping them whole: every file of a run directory goes through here.

A run directory (``paths.run_dir``) holds ``config.json``, ``init.pt``, ``rewind.pt`` and one
``level_<k>/`` per level; ``metrics.json`` marks a level finished and ``manifest.json``, written
just before it, the size and SHA-256 of every other file of the level (``seal``). ``done`` checks
both before anything reuses a level; a damaged file raises ``ArtifactError`` naming it and the
repair (``repair_advice``), which really rebuilds it. ``Run`` / ``Level`` are the reading API for
analysis and notebooks; the training driver (``lottery``) writes.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from . import data as datalib
from . import io, models, paths
from . import quant as quantlib
from .config import QuantConfig, RunConfig, RunConfigError, from_dict, stable_hash
from .pruning import mask as masklib


class ArtifactError(RunConfigError):
    """A file of a run that is missing, damaged or not the one the run wrote."""


def run_dir(cfg: RunConfig, root: Path | None = None) -> Path:
    return paths.run_dir(cfg.name, cfg.hash(), root)


def quant_levels(cfg: RunConfig) -> int:
    """Levels of a run: isolation quantizes the dense network only (level 0)."""
    return 1 if cfg.quant.bits is not None and cfg.quant.mode == "isolation" else cfg.prune.levels


def build_model(cfg: RunConfig) -> nn.Module:
    """The run's network, initialised from ``train.seed``."""
    spec = datalib.DATASETS[cfg.data.dataset]
    torch.manual_seed(cfg.train.seed)
    return models.build(cfg.model.arch, in_channels=spec.in_channels, num_classes=spec.num_classes,
                        width=cfg.model.width, timesteps=cfg.model.timesteps,
                        time_plan=cfg.model.time_plan, time_join=cfg.model.time_join)


def covered_layers(model: nn.Module, masks: masklib.Masks) -> list[str]:
    """Layers u-Ticket balances: every conv except the encoding conv (linear layers excluded)."""
    return [n for n, m in masks.items() if m.dim() == 4 and n != model.encoder_name]


def repair_advice(path: Path) -> str:
    """What to remove so that a rerun rebuilds ``path`` (an artifact of a run or a dense level)."""
    path = Path(path)
    if path.parent.name.startswith(("quant_", "hw_", "timeplan_")):
        return f"remove {path.parent} and rerun"
    level = path.parent if path.parent.name.startswith("level_") else None
    run = level.parent if level is not None else path.parent
    if run.parent.name == "dense":
        return f"remove {run} (the shared dense level; the next run trains it again) and rerun"
    if path.name == "config.json":
        return f"remove {path} and rerun the command that made this run (finished levels are kept)"
    if level is None:   # init.pt / rewind.pt / validation.json: copied or written with level 0
        level = paths.level_dir(run, 0)
    return f"remove {level} and every later level_N of {run}, then rerun (earlier levels are kept)"


def load_state(path: Path) -> dict:
    """A torch file of a run, on CPU; a damaged one raises ``ArtifactError`` naming it and the fix."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path} is missing; {repair_advice(path)}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any unpickling failure: truncated, overwritten, not a torch file
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise ArtifactError(f"cannot read {path} ({type(err).__name__}: {first[:120]}); "
                            f"{repair_advice(path)}") from None


def read_config(run: Path) -> RunConfig:
    """The ``RunConfig`` in ``run/config.json``; a damaged or foreign file raises ``RunConfigError``."""
    path = paths.config_path(run)
    d = io.load_json(path, fix=repair_advice(path))
    try:
        return from_dict(d)
    except (TypeError, ValueError, AttributeError) as err:
        raise RunConfigError(f"{path} is not a uticket run configuration ({err}); "
                             f"{repair_advice(path)}") from None


def seal(level_dir: Path, extra: tuple[Path, ...] = ()) -> Path:
    """Write ``manifest.json``: size and SHA-256 of every file of the finished level (and of
    ``extra`` files beside the level, such as level 0's ``init.pt`` and ``rewind.pt``)."""
    base = level_dir.parent
    skip = {paths.metrics_path(level_dir).name, paths.manifest_path(level_dir).name,
            paths.partial_path(level_dir).name}
    files = [p for p in sorted(level_dir.iterdir())
             if p.is_file() and not p.name.startswith(".") and p.name not in skip]
    files += [p for p in extra if p.is_file()]
    record = {"files": {p.relative_to(base).as_posix(): io.file_record(p) for p in files}}
    return io.save_json(record, paths.manifest_path(level_dir))


def verify(level_dir: Path) -> None:
    """Check a finished level's files against its manifest (a level without one, written before
    manifests existed, is accepted); ``ArtifactError`` names the first bad file and the repair."""
    manifest = paths.manifest_path(level_dir)
    if not manifest.exists():
        return
    files = io.load_json(manifest, fix=repair_advice(manifest)).get("files", {})
    for rel, want in files.items():
        path = level_dir.parent / rel
        if not path.is_file():
            raise ArtifactError(f"{path} is missing (its level's manifest.json lists it); "
                                f"{repair_advice(path)}")
        got = io.file_record(path)
        if got != want:
            what = (f"{got['bytes']} bytes, {want['bytes']} recorded" if got["bytes"] != want["bytes"]
                    else "its SHA-256 differs from the one recorded")
            raise ArtifactError(f"{path} is damaged ({what} in manifest.json); {repair_advice(path)}")
    read_metrics(level_dir)


def read_metrics(level_dir: Path) -> dict:
    """A level's ``metrics.json``; a damaged one raises naming it and the repair."""
    path = paths.metrics_path(level_dir)
    return io.load_json(path, fix=repair_advice(path))


def done(level_dir: Path) -> bool:
    """Whether a level is finished (``metrics.json``) and its artifacts are intact (``verify``)."""
    if not paths.metrics_path(level_dir).exists():
        return False
    verify(level_dir)
    return True


def levels(out: Path) -> list[dict]:
    """Metrics of every completed level, in order."""
    found = []
    for d in sorted(out.glob("level_*"), key=lambda p: int(p.name.split("_")[1])):
        if paths.metrics_path(d).exists():
            found.append(read_metrics(d))
    return found


def list_runs(root: Path | None = None) -> list[dict]:
    """Every run under the runs root with its config, hash and progress."""
    root = Path(root) if root else paths.runs_root()
    if root.exists() and not root.is_dir():
        raise RunConfigError(f"the runs root {root} is a file, not a directory; pass --runs DIR")
    rows = []
    for cfg_file in sorted(root.glob("*/config.json")):
        try:
            cfg = read_config(cfg_file.parent)
            finished = len(levels(cfg_file.parent))
        except (ValueError, OSError) as err:  # one broken run must not hide the others
            rows.append({"name": cfg_file.parent.name, "path": str(cfg_file.parent), "hash": None,
                         "arch": None, "dataset": None, "method": None, "levels_done": None,
                         "levels": None, "config": None, "error": str(err)})
            continue
        rows.append({"name": cfg_file.parent.name, "path": str(cfg_file.parent), "hash": cfg.hash(),
                     "arch": cfg.model.arch, "dataset": cfg.data.dataset,
                     "method": cfg.prune.method, "levels_done": finished,
                     "levels": cfg.prune.levels, "config": cfg.to_dict(), "error": None})
    return rows


def load_masks(out: Path, level: int) -> masklib.Masks:
    return masklib.load(paths.mask_path(paths.level_dir(out, level)))


def float_state(state: dict) -> dict:
    """A state dict without quantizer parameters (``<layer>.wq.a`` / ``.wq.c``)."""
    tag = f".{quantlib.quantizer.QUANT_ATTR}."
    return {k: v for k, v in state.items() if tag not in k}


def load_model(out: Path, level: int) -> nn.Module:
    """The trained network of a level, in eval mode on CPU."""
    cfg = read_config(out)
    model = build_model(cfg)
    here = paths.level_dir(out, level)
    state = load_state(paths.checkpoint_path(here))["model"]
    if len(float_state(state)) != len(state):     # a quantized level: attach, then load a and c
        quantlib.attach(model, cfg.quant.bits, cfg.quant.layers)
    model.load_state_dict(state)
    if paths.metrics_path(here).exists():  # the T this level trained with (early-time ticket)
        model.timesteps = read_metrics(here).get("timesteps", model.timesteps)
    return model.eval()


def quant_level_dir(out: Path, level: int, quant: QuantConfig) -> Path:
    """``level_k/quant_<hash>/``: one level of a float run, quantized and fine-tuned."""
    return paths.level_dir(out, level) / f"quant_{stable_hash(dataclasses.asdict(quant))}"


def load_quantized(out: Path, here: Path) -> nn.Module:
    """The network of a ``quantize_level`` folder (or a quantized run's level), eval mode, CPU."""
    cfg = read_config(out)
    q = read_metrics(here)["quant"]
    model = build_model(cfg)
    quantlib.attach(model, q["bits"], q["layers"])
    model.load_state_dict(load_state(paths.checkpoint_path(here))["model"])
    return model.eval()


def read_search(out: Path) -> dict | None:
    path = paths.search_path(paths.level_dir(out, 0))
    return io.load_json(path, fix=repair_advice(path)) if path.exists() else None


def read_balance(level_dir: Path) -> dict:
    p = paths.balance_path(level_dir)
    return io.load_json(p, fix=repair_advice(p)) if p.exists() else {}


# ----------------------------------------------------------------------------- the reading API
@dataclass(frozen=True)
class Level:
    """One level folder of a run: ``Run(path).level(k)``."""
    dir: Path

    @property
    def done(self) -> bool:
        return done(self.dir)

    @property
    def metrics(self) -> dict:
        return read_metrics(self.dir)

    @property
    def mask(self) -> masklib.Masks:
        return masklib.load(paths.mask_path(self.dir))

    @property
    def pruned_mask(self) -> masklib.Masks:
        """u-Ticket levels: the mask straight after magnitude pruning, before balancing."""
        return masklib.load(paths.pruned_mask_path(self.dir))

    @property
    def checkpoint(self) -> dict:
        """The trained state dict (CPU)."""
        return load_state(paths.checkpoint_path(self.dir))["model"]

    @property
    def predictions(self) -> torch.Tensor | None:
        """uint8 [test images], 1 where the final evaluation was right (None for older runs)."""
        p = paths.predictions_path(self.dir)
        return load_state(p) if p.exists() else None

    @property
    def balance(self) -> dict:
        return read_balance(self.dir)


@dataclass(frozen=True)
class Run:
    """A run directory, read back: ``Run(path).config``, ``.level(k).mask``, ``.levels()``."""
    path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))

    @property
    def config(self) -> RunConfig:
        return read_config(self.path)

    def level(self, k: int) -> Level:
        return Level(paths.level_dir(self.path, k))

    def levels(self) -> list[dict]:
        """Metrics of every finished level, in order."""
        return levels(self.path)

    @property
    def search(self) -> dict | None:
        """Level 0's early-time search record (``prune.search_timesteps``), or None."""
        return read_search(self.path)

    def model(self, level: int) -> nn.Module:
        return load_model(self.path, level)
