"""A reader's own network on the PE model: `uticket hw --model`, and chapter 13's helpers."""
from __future__ import annotations

import json
import sys

import pytest
import torch

from uticket_lib import cli, hardware
from uticket_lib.analysis import claims, own
from uticket_lib.pruning import mask as masklib

NETS = '''
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, width=8):
        super().__init__()
        self.stem = nn.Conv2d(1, width, 3, padding=1)
        self.body = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.head = nn.Linear(2 * width * 4 * 4, 10)

    def forward(self, x):
        x = torch.relu(self.body(torch.relu(self.stem(x))))
        return self.head(nn.functional.adaptive_avg_pool2d(x, 4).flatten(1))

def net(width=8):
    return Net(width)

def not_a_model():
    return 3
'''


@pytest.fixture
def nets(tmp_path, monkeypatch):
    (tmp_path / "my_nets_for_test.py").write_text(NETS)
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("my_nets_for_test", None)


def _masks(model, density=0.3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: (torch.rand(w.shape, generator=g) < density).float() for n, w in masklib.prunable(model).items()}


def test_hw_model_reports_a_network_defined_here(nets, capsys):
    model = cli.user_model("my_nets_for_test:net", ["width=8"])
    masks = _masks(model)
    masklib.save(masks, nets / "m.pt")
    argv = ["hw", "--masks", "m.pt", "--model", "my_nets_for_test:net", "--model-arg", "width=8",
            "--input-shape", "1,12,12", "--n-pe", "4", "--json"]
    assert cli.main(argv) == 0
    got = json.loads(capsys.readouterr().out)
    want = hardware.report(masks, hardware.trace(model, (1, 1, 12, 12)), n_pe=4)
    assert [r["name"] for r in got["layers"]] == ["stem.weight", "body.weight", "head.weight"]
    assert got["layers"][1]["in_hw"] == [12, 12]                 # traced at the given input shape
    for k in ("work", "idle", "latency", "utilization", "energy"):
        assert got["network"][k] == pytest.approx(want["network"][k], rel=1e-12)
    # the factory's keyword argument reached it: width 8 -> 16 filters in the covered conv
    assert got["layers"][1]["n_filters"] == 16


@pytest.mark.parametrize("extra, match", [
    (["--model", "my_nets_for_test"], "package.module:factory"),
    (["--model", "no_such_module_xyz:net"], "cannot import 'no_such_module_xyz'"),
    (["--model", "my_nets_for_test:missing"], "no callable 'missing'"),
    (["--model", "my_nets_for_test:not_a_model"], "not a torch.nn.Module"),
    (["--model", "my_nets_for_test:net", "--model-arg", "depth=3"], "unexpected keyword argument 'depth'"),
    (["--model", "my_nets_for_test:net", "--model-arg", "width"], "--model-arg expects key=value"),
    (["--model", "my_nets_for_test:net", "--input-shape", "12,12"], "--input-shape expects C,H,W"),
    (["--model", "my_nets_for_test:net", "--input-shape", "1,12,12", "--time-plan", "4,2,1"],
     "one T per stage needs"),
    (["--model", "my_nets_for_test:net"], "give one image's shape with --input-shape"),   # cifar10: 3 channels
])
def test_hw_model_errors_name_the_fix(nets, capsys, extra, match):
    masklib.save(_masks(cli.user_model("my_nets_for_test:net")), nets / "m.pt")
    assert cli.main(["hw", "--masks", "m.pt", *extra]) == 2
    assert match in capsys.readouterr().err


def test_masks_of_another_network_list_the_expected_names(nets, capsys):
    masklib.save({"conv1.weight": torch.ones(8, 1, 3, 3)}, nets / "m.pt")
    assert cli.main(["hw", "--masks", "m.pt", "--model", "my_nets_for_test:net", "--dataset", "fmnist"]) == 2
    err = capsys.readouterr().err
    assert "weight names (stem.weight, body.weight, head.weight" in err and "prunable(model)" in err


def test_own_checks_fail_when_balancing_does_nothing(monkeypatch):
    from uticket_lib import examples
    model = examples.tiny_snn(width=8)
    layers = hardware.trace(model, (1, 1, 28, 28))
    masks = own.tickets(model, 0.9, n_pe=4)
    reps = own.reports(masks, layers, n_pe=4)
    good = own.checks(masks, reps, reps["u-Ticket"], layers, 4)
    assert [c.verdict for c in claims.own_network(good)] == ["PASS"] * 4
    broken = {"magnitude": masks["magnitude"], "u-Ticket": masks["magnitude"]}   # an identity "balance"
    reps_b = own.reports(broken, layers, n_pe=4)
    bad = own.checks(broken, reps_b, reps["u-Ticket"], layers, 4)
    verdicts = [c.verdict for c in claims.own_network(bad)]
    assert verdicts[1] == "FAIL" and verdicts[3] == "FAIL"   # unequal blocks; CLI totals differ
