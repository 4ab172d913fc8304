"""Record a cpu-book build: its time, the machine's speed just before it, and the final-level runs.

    python ci/record_book_cpu.py --seconds 2400 --bench ci/bench_results/train.json \
        [--status book/executed/_status.json] [--out ci/bench_results/book_cpu.json]

Writes ``total_seconds`` (the build, notebooks and book), ``bench_vgg16_images_per_s`` (model-only
VGG-16 training speed measured just before the build by ``ci/bench_train.py``; with
``--bench-after`` the normalisation uses the mean of that and a reading just after), the time normalised
to a machine on which that benchmark gives ``REFERENCE_IMAGES_PER_S`` (the 2026-11-22 record), and
``runs``: for every run of the cpu profile under ``$UTICKET_RUNS``, its final level's ``arch``,
``method``, ``level``, ``sparsity``, ``test_accuracy``, ``test_images`` and ``dense_test_accuracy``
(its level 0, the dense network it was pruned from; plus validation accuracy and the
configuration's switches where set).
"""
from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from uticket_lib import io, machine, runstore  # noqa: E402

from uticket_lib.analysis.recipes import REFERENCE_IMAGES_PER_S  # noqa: E402  (284 images/s, its source there)


def final_rows(root: Path | None = None) -> list[dict]:
    rows = []
    for r in runstore.list_runs(root):
        if r["error"]:
            raise SystemExit(f"record_book_cpu: broken run: {r['error']}")
        done = runstore.levels(Path(r["path"]))
        if not done:
            continue
        m = done[-1]
        rows.append({"run": r["name"], "arch": r["arch"], "method": r["method"],
                     "level": m["level"], "levels_done": len(done), "sparsity": m["sparsity"],
                     "test_accuracy": m["test_accuracy"], "test_images": m["test_images"],
                     "dense_test_accuracy": done[0]["test_accuracy"] if done[0]["level"] == 0 else None,
                     "val_accuracy": m.get("val_accuracy"), "timesteps": m.get("timesteps"),
                     "seconds_all_levels": sum(x["seconds"] for x in done)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, required=True, help="wall time of the whole build")
    ap.add_argument("--bench", default="ci/bench_results/train.json")
    ap.add_argument("--bench-after", help="a bench_train.py result measured just after the build")
    ap.add_argument("--note", default="", help="anything a reader of the record should know")
    ap.add_argument("--status", default="book/executed/_status.json")
    ap.add_argument("--out", default="ci/bench_results/book_cpu.json")
    a = ap.parse_args()
    bench = json.loads(Path(a.bench).read_text())
    vgg = bench["results"]["vgg16"]["model_images_per_s"]
    after = json.loads(Path(a.bench_after).read_text())["results"]["vgg16"]["model_images_per_s"] if a.bench_after else None
    # the benchmark drifts between two readings on a shared machine (up to ~20 % here): with a reading
    # on each side of the build the machine's speed is their mean
    speed = vgg if after is None else (vgg + after) / 2
    status = json.loads(Path(a.status).read_text()) if Path(a.status).exists() else {}
    chapters = {k: {"status": v["status"], "seconds": v["seconds"]}
                for k, v in status.get("notebooks", {}).items()}
    io.save_json({
        "what": "cpu-profile book built from an empty runs/ (ci/build_book.sh cpu)",
        "date": datetime.date.today().isoformat(),
        "machine": machine.describe(),
        "total_seconds": a.seconds,
        "bench_vgg16_images_per_s": vgg,
        "bench_source": f"{a.bench} ({bench.get('date')})",
        "reference_images_per_s": REFERENCE_IMAGES_PER_S,
        "normalised_seconds": a.seconds * speed / REFERENCE_IMAGES_PER_S,
        "normalised_basis": ("the benchmark just before" if after is None else
                             "the mean of the benchmarks just before and just after"),
        **({"bench_vgg16_images_per_s_after": after} if after is not None else {}),
        **({"note": a.note} if a.note else {}),
        "chapters": chapters,
        **({"claims": status["claims"]} if "claims" in status else {}),
        **({"commit": status["commit"]} if "commit" in status else {}),
        "runs": final_rows(),
    }, Path(a.out))
    print(f"record_book_cpu: {a.out}: {a.seconds / 60:.1f} min at {speed:.0f} images/s "
          f"= {a.seconds * speed / REFERENCE_IMAGES_PER_S / 60:.1f} normalised min")


if __name__ == "__main__":
    main()
