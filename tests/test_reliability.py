"""Runs that cannot go stale or rot: the hostile-user cases of the reliability issue, one test each.

Numbers refer to the issue's list: 1 stale cache, 2 corrupt artifacts, 3 repair advice, 4 tracebacks
for user errors, 5 work or files before an error, 6 quiet acceptance, 7 concurrency. Every user error
must exit 2 with one line on stderr and leave no file where none should be.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from uticket_lib import cli, data, io, lottery, paths, profiles, runstore, validation
from uticket_lib.pruning import mask as masklib

from conftest import synthetic, tiny_config
from test_data import write_fmnist

REPO = Path(__file__).resolve().parents[1]
TINY = ["--profile", "smoke", "--quiet", "--set", "model.width=0.0625", "--set", "train.batch_size=16",
        "--set", "train.epochs_dense=2", "--set", "train.epochs=1", "--set", "prune.levels=3",
        "--set", "prune.fraction=0.5", "--set", "prune.rewind_epoch=1"]


def tiny_datasets(cfg=None):
    return synthetic(48, seed=1), synthetic(24, seed=2)


@pytest.fixture
def synthetic_data(monkeypatch):
    """``uticket run`` in-process on synthetic data (no dataset on disk needed)."""
    monkeypatch.setattr(lottery, "load_datasets", tiny_datasets)


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def user_error(capsys, argv: list[str]) -> str:
    """Run the CLI; assert exit 2 and exactly one line on stderr; return that line."""
    assert cli.main(argv) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(err) == 1, err
    assert err[0].startswith("uticket: error: ")
    return err[0]


def finished_run(root: Path, method: str = "lth") -> Path:
    return lottery.run(tiny_config(method), datasets=tiny_datasets(), root=root, progress=False)


def checkpoints(run: Path, levels: int = 3) -> list[dict]:
    return [torch.load(paths.checkpoint_path(paths.level_dir(run, k)), weights_only=True)["model"]
            for k in range(levels)]


def same_states(a: list[dict], b: list[dict]) -> bool:
    return all(x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x) for x, y in zip(a, b))


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# ----------------------------------------------------------------------------- 1. stale cache
def test_num_workers_lands_in_another_run_and_dense_directory():
    base = profiles.get("smoke", "vgg16", "fmnist", "lth")
    other = profiles.get("smoke", "vgg16", "fmnist", "lth", {"data.num_workers": "2"})
    assert runstore.run_dir(other) != runstore.run_dir(base)
    assert other.dense_hash() != base.dense_hash()   # the shared dense level is not shared with it


def test_eval_every_epoch_leaves_every_weight_alone(tmp_path):
    """Its reason for being left out of the hash (config.local_reasons), checked: same tensors."""
    plain = finished_run(tmp_path / "a")
    cfg = tiny_config("lth", **{"train.eval_every_epoch": True})
    evaluated = lottery.run(cfg, datasets=tiny_datasets(), root=tmp_path / "b", progress=False)
    assert plain.name == evaluated.name
    assert same_states(checkpoints(plain), checkpoints(evaluated))
    assert "test_accuracy" in runstore.levels(evaluated)[0]["history"][0]  # it did evaluate


# ----------------------------------------------------------------------------- 2. corrupt artifacts
def test_every_finished_level_has_a_manifest_of_its_files(tmp_path):
    run = finished_run(tmp_path)
    level0 = json.loads(paths.manifest_path(paths.level_dir(run, 0)).read_text())["files"]
    assert {"init.pt", "rewind.pt", "level_0/checkpoint.pt", "level_0/mask.pt"} <= set(level0)
    for rel, rec in level0.items():
        assert io.file_record(run / rel) == rec
    level2 = json.loads(paths.manifest_path(paths.level_dir(run, 2)).read_text())["files"]
    assert "level_2/metrics.json" not in level2 and "level_2/checkpoint.pt" in level2


def test_a_truncated_checkpoint_of_a_finished_level_is_named_on_rerun(tmp_path, synthetic_data, capsys):
    run = finished_run(tmp_path)
    truncate(paths.checkpoint_path(paths.level_dir(run, 1)))
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path)])
    assert f"{run}/level_1/checkpoint.pt is damaged" in line
    assert f"remove {run}/level_1 and every later level_N" in line


def test_a_byte_flipped_checkpoint_of_the_same_size_is_caught(tmp_path):
    run = finished_run(tmp_path)
    path = paths.checkpoint_path(paths.level_dir(run, 2))
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(lottery.ArtifactError, match="SHA-256 differs"):
        finished_run(tmp_path)


def test_a_corrupt_shared_dense_level_is_not_copied_into_a_new_run(tmp_path, synthetic_data, capsys):
    ut = finished_run(tmp_path, "uticket")
    dense = paths.dense_dir(tiny_config("lth").dense_hash(), tmp_path)
    truncate(paths.checkpoint_path(paths.level_dir(dense, 0)))
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path)])       # the LTH run
    assert f"{dense}/level_0/checkpoint.pt is damaged" in line and f"remove {dense} (the shared" in line
    lth = runstore.run_dir(tiny_config("lth"), tmp_path)
    assert not paths.checkpoint_path(paths.level_dir(lth, 0)).exists()      # nothing corrupt copied
    assert runstore.levels(ut)                                                 # the u-Ticket run untouched


def test_a_truncated_rewind_point_is_named(tmp_path):
    run = finished_run(tmp_path)
    shutil.rmtree(paths.level_dir(run, 2))
    truncate(paths.rewind_path(run))
    with pytest.raises(lottery.ArtifactError, match=f"{run}/rewind.pt is damaged"):
        finished_run(tmp_path)


def test_a_truncated_metrics_json_names_its_path(tmp_path, synthetic_data, capsys):
    run = finished_run(tmp_path)
    truncate(paths.metrics_path(paths.level_dir(run, 2)))
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path)])
    assert f"{run}/level_2/metrics.json is not valid JSON" in line and "remove" in line


def test_runs_lists_a_broken_run_as_broken_and_goes_on(tmp_path, capsys):
    good = finished_run(tmp_path)
    bad = tmp_path / "vgg16_fmnist_uticket_000000000000"
    bad.mkdir()
    (bad / "config.json").write_text('{"model": ')
    assert cli.main(["runs", "--runs", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"{bad.name}" in out and "BROKEN" in out and "config.json is not valid JSON" in out
    assert any(good.name in ln and " 3/3" in ln for ln in out.splitlines())
    assert cli.main(["runs", "--runs", str(tmp_path), "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[good.name]["error"] is None and rows[bad.name]["error"]


@pytest.mark.parametrize("content", ['{"model": {"arch": "vgg16", "colour": 1}}', "[1, 2]"])
def test_a_foreign_config_json_is_one_line(tmp_path, synthetic_data, capsys, content):
    run = finished_run(tmp_path)
    paths.config_path(run).write_text(content)
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path)])
    assert f"{run}/config.json is not a uticket run configuration" in line


# ----------------------------------------------------------------------------- 3. repair advice
def test_following_the_advice_for_a_deleted_mask_really_rebuilds_it(tmp_path, synthetic_data, capsys):
    run = finished_run(tmp_path)
    before = checkpoints(run)
    mask = masklib.load(paths.mask_path(paths.level_dir(run, 2)))
    paths.mask_path(paths.level_dir(run, 2)).unlink()
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path)])
    assert f"{run}/level_2/mask.pt is missing" in line and f"remove {run}/level_2" in line
    shutil.rmtree(paths.level_dir(run, 2))                      # what the line says to do
    assert cli.main(["run", *TINY, "--runs", str(tmp_path)]) == 0
    rebuilt = masklib.load(paths.mask_path(paths.level_dir(run, 2)))
    assert all(torch.equal(mask[n], rebuilt[n]) for n in mask)
    assert same_states(before, checkpoints(run))


def test_following_the_advice_for_a_damaged_rewind_point_rebuilds_it(tmp_path):
    run = finished_run(tmp_path)
    before = checkpoints(run)
    truncate(paths.rewind_path(run))
    with pytest.raises(lottery.ArtifactError) as err:
        finished_run(tmp_path)
    assert f"remove {run}/level_0 and every later level_N" in str(err.value)
    for k in range(3):
        shutil.rmtree(paths.level_dir(run, k))
    finished_run(tmp_path)                                      # copied again from runs/dense
    assert same_states(before, checkpoints(run))


def test_following_the_advice_for_a_changed_config_keeps_the_finished_levels(tmp_path, monkeypatch):
    run = finished_run(tmp_path)
    io.save_json(tiny_config("lth", **{"train.epochs": 3}).to_dict(), paths.config_path(run))
    with pytest.raises(lottery.RunConfigError, match="finished levels are kept"):
        finished_run(tmp_path)
    paths.config_path(run).unlink()
    calls = []
    monkeypatch.setattr(lottery, "fit", lambda *a, **k: calls.append(a[4]))
    finished_run(tmp_path)
    assert calls == [] and paths.config_path(run).exists()


# ----------------------------------------------------------------------------- 4 and 5: user errors
@pytest.mark.parametrize("setting,says", [
    ("model.width=inf", "model.width must be a number in (0, 16]"),
    ("model.width=nan", "model.width must be a number in (0, 16]"),
    ("train.lr=inf", "train.lr must be a finite number in (0, 10]"),
    ("train.lr=1e6", "train.lr must be a finite number in (0, 10]"),
    ("train.momentum=nan", "train.momentum must be a number in [0, 1)"),
])
def test_non_finite_or_unbounded_settings_stop_before_any_file(tmp_path, synthetic_data, capsys,
                                                               setting, says):
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path / "runs"), "--set", setting])
    assert says in line
    assert files_under(tmp_path / "runs") == []


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_cuda_device_without_a_gpu_stops_before_any_file(tmp_path, synthetic_data, capsys):
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path / "runs"), "--set", "train.device=cuda"])
    assert "no CUDA GPU" in line and "train.device=cpu" in line
    assert files_under(tmp_path / "runs") == []


def test_a_model_too_large_for_memory_is_refused_before_allocating(tmp_path, synthetic_data, capsys,
                                                                   monkeypatch):
    monkeypatch.setattr(validation, "_available_bytes", lambda device: 2**30)   # a 1 GiB machine
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path / "runs"), "--set", "model.width=4"])
    assert "GiB to train" in line and "1.0 GiB here" in line and "model.width smaller" in line
    assert files_under(tmp_path / "runs") == []
    assert validation.memory_estimate(tiny_config("lth"))["parameters"] == sum(
        p.numel() for p in runstore.build_model(tiny_config("lth")).parameters())


def test_a_missing_dataset_stops_before_any_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, "FMNIST_DEBIAN", tmp_path / "no-debian")
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path / "runs"),
                               "--set", f"data.root={tmp_path / 'empty'}"])
    assert "dataset 'fmnist'" in line and "not found" in line
    assert files_under(tmp_path / "runs") == []


def test_an_oversized_subset_names_its_key_before_any_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, "FMNIST_DEBIAN", tmp_path / "no-debian")
    write_fmnist(tmp_path / "data" / "FashionMNIST" / "raw", n_train=12, n_test=200)
    line = user_error(capsys, ["run", *TINY, "--runs", str(tmp_path / "runs"), "--set",
                               f"data.root={tmp_path / 'data'}", "--set", "data.train_subset=100000"])
    assert "data.train_subset=100000 is outside 1..12" in line
    assert files_under(tmp_path / "runs") == []


def test_a_runs_root_that_is_a_file_is_one_line(tmp_path, synthetic_data, capsys):
    (tmp_path / "runs").write_text("not a folder")
    assert "is a file" in user_error(capsys, ["run", *TINY, "--runs", str(tmp_path / "runs")])
    assert "is a file" in user_error(capsys, ["runs", "--runs", str(tmp_path / "runs")])


def _masks_file(tmp_path: Path, masks: dict) -> Path:
    path = tmp_path / "in.pt"
    torch.save(masks, path)
    return path


def _conv_masks() -> dict:
    g = torch.Generator().manual_seed(0)
    return {f"c{i}.weight": (torch.rand(8, 4, 3, 3, generator=g) < 0.3).float() for i in range(3)}


@pytest.mark.parametrize("extra,says", [
    (["--seed", "-1"], "--seed must be an integer >= 0"),
    (["--layers", "c1.weight,nope.weight"], "--layers names nope.weight"),
    (["--n-pe", "0"], "--n-pe must be >= 1"),
])
def test_balance_options_are_validated_before_writing(tmp_path, capsys, extra, says):
    src, out = _masks_file(tmp_path, _conv_masks()), tmp_path / "out.pt"
    assert says in user_error(capsys, ["balance", "--masks", str(src), "--out", str(out), *extra])
    assert not out.exists()


def test_balance_of_an_empty_mask_dict_writes_nothing(tmp_path, capsys):
    src, out = _masks_file(tmp_path, {}), tmp_path / "out.pt"
    assert "holds no masks" in user_error(capsys, ["balance", "--masks", str(src), "--out", str(out)])
    assert not out.exists()


def test_balance_out_an_existing_directory_is_one_line(tmp_path, capsys):
    src = _masks_file(tmp_path, _conv_masks())
    (tmp_path / "dir").mkdir()
    line = user_error(capsys, ["balance", "--masks", str(src), "--out", str(tmp_path / "dir")])
    assert "is a directory" in line and files_under(tmp_path / "dir") == []


def test_balance_layers_chooses_what_is_balanced(tmp_path, capsys):
    src, out = _masks_file(tmp_path, _conv_masks()), tmp_path / "out.pt"
    assert cli.main(["balance", "--masks", str(src), "--out", str(out), "--n-pe", "4",
                     "--layers", "c0.weight"]) == 0
    before, after = masklib.load(src), masklib.load(out)
    loads = after["c0.weight"].flatten(1).sum(1).view(-1, 4)
    assert torch.equal(loads.min(1).values, loads.max(1).values)            # c0 balanced
    assert torch.equal(before["c1.weight"], after["c1.weight"])             # c1 left alone


@pytest.mark.parametrize("extra,says", [
    (["--timesteps", "0"], "--timesteps must be an integer >= 1"),
    (["--timesteps", "-2"], "--timesteps must be an integer >= 1"),
    (["--width", "0"], "--width must be a number in (0, 16]"),
    (["--width", "inf"], "--width must be a number in (0, 16]"),
    (["--spike-sparsity", "1.5"], "--spike-sparsity must be in [0, 1]"),
])
def test_hw_options_are_validated_like_run(tmp_path, capsys, extra, says):
    src = _masks_file(tmp_path, _conv_masks())
    assert says in user_error(capsys, ["hw", "--masks", str(src), *extra])


# ----------------------------------------------------------------------------- 6. quiet acceptance
def test_an_unknown_book_parameter_is_refused_with_the_chapter_parameters(tmp_path, monkeypatch, capsys):
    for key in ("UTICKET_RUNS", "TQDM_DISABLE", "PYDEVD_DISABLE_FILE_VALIDATION", "PYTHONPATH"):
        monkeypatch.setenv(key, os.environ.get(key, str(tmp_path)))
    line = user_error(capsys, ["book", "--root", str(REPO), "--profile", "smoke", "--only", "04",
                               "-p", "WIDHT", "0.5", "--no-html"])
    assert "WIDHT" in line and "did you mean WIDTH?" in line and "PROFILE" in line


def test_a_chosen_data_root_that_falls_back_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(paths, "FMNIST_DEBIAN", write_fmnist(tmp_path / "debian", n_test=6))
    monkeypatch.setattr(data, "_WARNED", set())
    for _ in range(2):
        assert len(data.dataset("fmnist", train=False, root=str(tmp_path / "nonexistent"))) == 6
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"uticket: warning: {tmp_path / 'nonexistent'} holds no Fashion-MNIST files; "
                   f"reading them from {tmp_path / 'debian'}"]
    monkeypatch.delenv("UTICKET_DATA", raising=False)
    data.dataset("fmnist", train=False)               # no root chosen: the fallback is the plan
    assert capsys.readouterr().err == ""


# ----------------------------------------------------------------------------- 7. concurrency
RUN_SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from conftest import synthetic
from uticket_lib import cli, lottery
real = lottery.fit
def counting(*a, **k):
    with open({log!r}, "a") as f:
        f.write(f"{{a[4]}}\\n")
    return real(*a, **k)
lottery.fit = counting
lottery.load_datasets = lambda cfg: (synthetic(48, seed=1), synthetic(24, seed=2))
sys.exit(cli.main(["run", *{argv!r}]))
"""


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "TQDM_DISABLE": "1"}


def test_two_concurrent_identical_runs_do_the_work_once(tmp_path):
    root, log = tmp_path / "runs", tmp_path / "fit.log"
    script = RUN_SCRIPT.format(tests=str(REPO / "tests"), log=str(log),
                               argv=[*TINY, "--runs", str(root)])
    procs = [subprocess.Popen([sys.executable, "-c", script], env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    assert sorted(log.read_text().split()) == ["0", "1", "2"]        # each level trained once
    run = runstore.run_dir(tiny_config("lth"), root)
    single = finished_run(tmp_path / "single")
    assert same_states(checkpoints(run), checkpoints(single))
    assert not list(root.rglob("*.tmp"))


def test_a_second_process_says_who_holds_the_lock_then_waits(tmp_path):
    folder = tmp_path / "run"
    code = ("import sys; from uticket_lib import io\n"
            f"with io.folder_lock({str(folder)!r}):\n    print('got it', flush=True)\n")
    with io.folder_lock(folder):
        proc = subprocess.Popen([sys.executable, "-c", code], env=_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        waiting = proc.stderr.readline()               # blocks until it reports the holder
        assert f"waiting for run {folder} (locked by pid {os.getpid()} on" in waiting
        time.sleep(0.2)
        assert proc.poll() is None                     # still waiting while we hold it
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and out.strip() == "got it"


def test_concurrent_copies_of_one_file_never_collide(tmp_path):
    src, dst = tmp_path / "big.bin", tmp_path / "out" / "big.bin"
    src.write_bytes(os.urandom(4 << 20))
    errors: list[BaseException] = []

    def copy_many():
        try:
            for _ in range(10):
                io.copy(src, dst)
        except BaseException as err:  # noqa: BLE001 - any failure is the finding
            errors.append(err)

    threads = [threading.Thread(target=copy_many) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and dst.read_bytes() == src.read_bytes()
    assert sorted(p.name for p in dst.parent.iterdir()) == ["big.bin"]
