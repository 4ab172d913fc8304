"""Where does a ticket's imbalance come from? (issue 18, part 4) Chapter 3's table.

Prunes dense states one-shot to ``--sparsity`` (global magnitude) and compares the mask's Eq. 2
network utilization with random masks of the same per-layer non-zero counts
(``analysis.masks.one_shot_origin``). The states are those ``ci/learning_curves.py`` keeps at every
scored point (``runs/curves/<arch>_<recipe>_<budget>/images_N.pt``), so the factors are: training length
(one recipe's states after 8,000 ... images), the optimizer (AdamW against SGD, at the end of each
curve) and weight decay (SGD with and without it), at the width the states were trained at.
Writes ``ci/bench_results/imbalance_origin.json`` with the machine; nothing here trains.

    python ci/imbalance_origin.py --arch vgg16
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="vgg16", choices=("vgg16", "resnet19"))
    ap.add_argument("--states", default=str(ROOT / "runs" / "curves"))
    ap.add_argument("--curves", default=str(ROOT / "ci" / "bench_results" / "learning_curves.json"))
    ap.add_argument("--sparsity", type=float, default=0.98)
    ap.add_argument("--n-pe", type=int, default=16)
    ap.add_argument("--draws", type=int, default=5)
    ap.add_argument("--out", default=str(ROOT / "ci" / "bench_results" / "imbalance_origin.json"))
    a = ap.parse_args(argv)
    import json
    from uticket_lib import io, machine, profiles
    from uticket_lib.analysis import masks as masktools
    from uticket_lib.runstore import load_state
    curves = json.loads(Path(a.curves).read_text())
    out = Path(a.out)
    record = json.loads(out.read_text()) if out.exists() else {
        "what": "Eq. 2 utilization of dense states pruned one-shot (global magnitude) against random "
                "masks with the same per-layer counts; excess = random mean - trained "
                "(ci/imbalance_origin.py)", "rows": []}
    rows = [r for r in record["rows"] if r["arch"] != a.arch]
    for e in curves["entries"]:
        if e["arch"] != a.arch or e["kind"] != "dense" or e.get("quick"):
            continue
        folder = Path(a.states) / f"{a.arch}_{e['recipe']}_{e['budget']}"
        if not folder.is_dir():
            print(f"[origin] {folder} missing (run ci/learning_curves.py with --states): skipped")
            continue
        cfg = profiles.get("cpu", a.arch)
        width = cfg.model.width
        files = sorted(folder.glob("images_*.pt"), key=lambda p: int(re.findall(r"\d+", p.stem)[0]))
        states = [(int(re.findall(r"\d+", f.stem)[0]), lambda f=f: load_state(f)) for f in files]
        for images, load in states:
            o = masktools.one_shot_origin(load(), a.arch, width, sparsity=a.sparsity, n_pe=a.n_pe,
                                          draws=a.draws)
            val = next((p["val_accuracy"] for p in e["points"] if p["images"] == images), None)
            rows.append({"arch": a.arch, "recipe": e["recipe"], "optimizer": e["optimizer"], "lr": e["lr"],
                         "weight_decay": e["overrides"].get("train.weight_decay", 5e-4), "width": width,
                         "images": images, "val_accuracy": val, "n_pe": a.n_pe, **o})
            print(f"[origin] {a.arch} {e['recipe']} {images:>6}: trained {o['trained']:.3f} random "
                  f"{o['random_mean']:.3f} [{o['random_min']:.3f}, {o['random_max']:.3f}] excess {o['excess']:+.3f} "
                  f"uniform random {o['uniform_random']:.3f}")
    record["rows"] = rows
    record["machine"] = machine.describe()
    io.save_json(record, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
