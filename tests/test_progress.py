"""Build progress lines: their text, where they go, and how run_notebooks prints them."""
from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

from uticket_lib import progress

REPO = Path(__file__).resolve().parents[1]


def test_format_level_hand_computed():
    line = progress.format_level("vgg16_fmnist_lth", 2, 7, 0.7296, 0.8512, 90.0, 1234.4)
    # level 2 of levels 0..6; four levels left at 90 s each = 6 min
    assert line == ("vgg16_fmnist_lth: level 2/6, sparsity 73.0 %, accuracy 85.1 %, 1 min 30 s, "
                    "1,234 img/s, run ~6 min 00 s left")
    assert progress.format_level("r", 6, 7, 0.98, 0.5, 3.0, None).endswith("3.0 s, - img/s, run done")
    assert progress.format_level("r", 0, 1, 0.0, 0.5, 3.0, None).startswith("r: level 0, sparsity")


def test_emit_only_with_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv(progress.ENV, raising=False)
    assert progress.emit("nothing") is False
    target = tmp_path / "p.log"
    monkeypatch.setenv(progress.ENV, str(target))
    assert progress.level_done("r", 1, 3, {"sparsity": 0.5, "test_accuracy": 0.25, "seconds": 2.0,
                                            "train_images_per_s": 10.0})
    assert progress.emit("second\n")
    assert target.read_text().splitlines() == [
        "r: level 1/2, sparsity 50.0 %, accuracy 25.0 %, 2.0 s, 10 img/s, run ~2.0 s left", "second"]
    monkeypatch.setenv(progress.ENV, str(tmp_path / "no" / "such" / "dir" / "p.log"))
    assert progress.emit("lost") is False  # never breaks a run


def test_run_notebooks_tail_prints_whole_lines_with_time_left(tmp_path):
    spec = importlib.util.spec_from_file_location("run_notebooks", REPO / "ci" / "run_notebooks.py")
    rn = importlib.util.module_from_spec(spec)
    sys.modules["run_notebooks"] = rn
    spec.loader.exec_module(rn)
    f = tmp_path / "p.log"
    f.write_text("one\ntw")
    out = io.StringIO()
    tail = rn.ProgressTail(f, expected=600.0, out=out)
    assert tail.poll() == ["one"]            # the half-written line waits
    with open(f, "a") as fh:
        fh.write("o\n")
    assert tail.poll() == ["two"] and tail.poll() == []
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("    [") and "chapter ~" in lines[0] and lines[0].endswith("] one")
    status = {"notebooks": {"a": {"status": "ok", "profile": "smoke", "parameters": {"PROFILE": "smoke"},
                                  "seconds": 12.0},
                            "b": {"status": "failed", "profile": "smoke", "parameters": {"PROFILE": "smoke"},
                                  "seconds": 5.0},
                            "c": {"status": "ok", "profile": "cpu", "parameters": {"PROFILE": "cpu"},
                                  "seconds": 7.0}}}
    assert rn.expected_seconds(status, "smoke", {"PROFILE": "smoke"}) == {"a": 12.0}
    assert rn.KERNEL_ARGUMENTS == ["--IPKernelApp.log_level=CRITICAL"]


def test_lottery_reports_each_trained_level_once(tmp_path, monkeypatch, runs_root):
    from uticket_lib import lottery

    from conftest import synthetic, tiny_config
    target = tmp_path / "p.log"
    monkeypatch.setenv(progress.ENV, str(target))
    cfg = tiny_config(**{"prune.levels": 2, "train.epochs_dense": 1, "prune.rewind_epoch": 0})
    lottery.run(cfg, datasets=(synthetic(32), synthetic(16)), progress=False)
    lines = target.read_text().splitlines()
    assert [ln.split(":")[0] for ln in lines] == [f"{cfg.name} (dense)", cfg.name]
    assert "level 0/1" in lines[0] and "level 1/1" in lines[1] and lines[1].endswith("run done")
    lottery.run(cfg, datasets=(synthetic(32), synthetic(16)), progress=False)  # cached: no new line
    assert len(target.read_text().splitlines()) == 2
