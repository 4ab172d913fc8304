"""The `uticket` command line: happy paths in-process, and one clear line for every user error."""
from __future__ import annotations

import json

import pytest
import torch

from uticket_lib import cli, lottery, models
from uticket_lib.pruning import mask as masklib

from conftest import synthetic


def _vgg_masks(width=0.125, density=0.1, seed=0):
    model = models.build("vgg16", in_channels=3, width=width)
    g = torch.Generator().manual_seed(seed)
    return {n: (torch.rand(w.shape, generator=g) < density).float()
            for n, w in masklib.prunable(model).items()}


def _error_line(capsys):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("uticket: error: ")
    return err[0]


def test_run_then_runs(runs_root, monkeypatch, capsys):
    monkeypatch.setattr(lottery, "load_datasets", lambda cfg: (synthetic(32), synthetic(16)))
    argv = ["run", "--profile", "smoke", "--method", "uticket", "--quiet",
            "--set", "model.width=0.0625", "--set", "train.epochs_dense=1", "--set",
            "prune.rewind_epoch=0", "--set", "prune.levels=2"]
    assert cli.main(argv) == 0
    assert "run: " in capsys.readouterr().out
    assert cli.main(["runs", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["levels_done"] == 2 and rows[0]["method"] == "uticket"


def test_balance_round_trip(tmp_path, capsys):
    src, dst = tmp_path / "in.pt", tmp_path / "out.pt"
    masklib.save(_vgg_masks(), src)
    assert cli.main(["balance", "--masks", str(src), "--out", str(dst), "--n-pe", "4", "--seed", "1"]) == 0
    out = masklib.load(dst, reference=masklib.load(src))
    loads = out["features.3.weight" if "features.3.weight" in out else list(out)[1]].flatten(1).sum(1)
    assert loads.view(-1, 4).min(1).values.equal(loads.view(-1, 4).max(1).values)


def test_hw_json_has_the_promised_keys(tmp_path, capsys):
    src = tmp_path / "m.pt"
    masklib.save(_vgg_masks(width=0.125), src)
    argv = ["hw", "--masks", str(src), "--arch", "vgg16", "--dataset", "cifar10", "--width", "0.125",
            "--n-pe", "4", "--json"]
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("name", "work", "idle", "latency", "utilization"):
        assert key in result["layers"][0]
    for key in ("work", "idle", "latency", "utilization", "energy"):
        assert key in result["network"]


@pytest.mark.parametrize("argv,match", [
    (["run", "--profile", "smoke", "--arch", "alexnet"], "unknown arch 'alexnet'"),
    (["run", "--profile", "smoke", "--dataset", "mnist"], "unknown dataset 'mnist'"),
    (["run", "--profile", "smoke", "--set", "train.epochs"], "--set expects key=value"),
    (["run", "--profile", "smoke", "--set", "train.nope=1"], "unknown config key"),
    (["run", "--profile", "smoke", "--set", "train.compile=true"], "train.compile was removed"),
    (["run", "--profile", "smoke", "--set", "train.epochs=-1"], "train.epochs must be an integer >= 1"),
    (["run", "--profile", "smoke", "--set", "prune.search_timesteps=9"], "prune.search_timesteps"),
    (["run", "--profile", "smoke", "--set", "data.val_split=1.5"], "data.val_split"),
])
def test_run_errors(argv, match, runs_root, capsys):
    assert cli.main(argv) == 2
    assert match in _error_line(capsys)


def test_balance_errors(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a torch file")
    assert cli.main(["balance", "--masks", str(bad), "--out", str(tmp_path / "o.pt")]) == 2
    assert str(bad) in _error_line(capsys)
    assert cli.main(["balance", "--masks", str(tmp_path / "missing.pt"), "--out", str(tmp_path / "o.pt")]) == 2
    _error_line(capsys)
    good = tmp_path / "good.pt"
    masklib.save(_vgg_masks(), good)
    assert cli.main(["balance", "--masks", str(good), "--out", str(tmp_path / "o.pt"), "--n-pe", "0"]) == 2
    assert "--n-pe must be >= 1" in _error_line(capsys)
    assert not (tmp_path / "o.pt").exists()


def test_hw_rejects_masks_of_another_network(tmp_path, capsys):
    src = tmp_path / "m.pt"
    masklib.save(_vgg_masks(width=0.125), src)
    argv = ["hw", "--masks", str(src), "--arch", "vgg16", "--dataset", "cifar10", "--width", "0.25"]
    assert cli.main(argv) == 2
    assert "shape" in _error_line(capsys)


# ----------------------------------------------------------------------------- uticket book

def test_book_argv_translates_to_run_notebooks(tmp_path):
    args = cli.parser().parse_args(["book", "--profile", "smoke", "--only", "04_uticket",
                                    "-p", "WIDTH", "0.5", "-p", "ARCHS", "vgg16"])
    assert cli.book_argv(args, tmp_path) == ["--root", str(tmp_path), "--profile", "smoke",
                                             "--only", "04_uticket", "-p", "WIDTH", "0.5",
                                             "-p", "ARCHS", "vgg16"]
    assert "--all" not in cli.jupyter_book_command(tmp_path)  # incremental: only changed pages


def test_repo_root_found_from_a_subfolder(tmp_path):
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "run_notebooks.py").write_text("")
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    assert cli.repo_root(tmp_path / "notebooks" / "deep") == tmp_path.resolve()


def test_book_outside_a_clone_is_one_line(tmp_path, capsys):
    assert cli.main(["book", "--root", str(tmp_path), "--no-html"]) == 2
    assert "no uticket repository" in _error_line(capsys)


def test_book_unknown_chapter_is_one_line(capsys, monkeypatch, tmp_path):
    from pathlib import Path
    for key in ("UTICKET_RUNS", "TQDM_DISABLE", "PYDEVD_DISABLE_FILE_VALIDATION", "PYTHONPATH"):
        monkeypatch.setenv(key, str(tmp_path))  # run_notebooks sets defaults for its kernels
    root = Path(__file__).resolve().parents[1]
    assert cli.main(["book", "--root", str(root), "--only", "99_nothing", "--no-html"]) == 2
    line = _error_line(capsys)
    assert "99_nothing" in line and "04_uticket" in line
