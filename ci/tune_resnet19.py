"""Choose the cpu profile's ResNet-19 learning rate and batch size on a validation split.

    .venv/bin/python ci/tune_resnet19.py [--epochs 4] [--val 2000]

Dense ResNet-19 at the cpu profile's width and training subset, trained for the profile's dense
epochs at each candidate (lr, batch); accuracy measured on a seeded validation split of the
Fashion-MNIST *training* set, disjoint from the training subset (``data.split_indices``). The test
set is never read. Writes ci/bench_results/tune_resnet19_val.json; ``profiles.ARCH_OVERRIDES`` quotes it.
"""
from __future__ import annotations

import argparse
import datetime
import time

import torch

from uticket_lib import data, io, lottery, profiles
from uticket_lib.training import device_for, eval_loader, evaluate, fit

CANDIDATES = ((0.1, 64), (0.1, 32), (0.3, 32))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--val", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default="ci/bench_results/tune_resnet19_val.json")
    args = ap.parse_args()
    base = profiles.get("cpu", arch="resnet19").replace(**{"train.lr": 0.1, "train.batch_size": 64})
    epochs = args.epochs or base.train.epochs_dense
    train_ds, val_ds = data.train_val(base.data.dataset, args.val, subset=base.data.train_subset,
                                      subset_seed=base.data.subset_seed)
    rows = []
    for lr, batch in CANDIDATES:
        cfg = base.replace(**{"train.lr": lr, "train.batch_size": batch})
        model = lottery.build_model(cfg)
        t0 = time.perf_counter()
        fit(model, train_ds, cfg.train, epochs, 0, None, device_for(cfg.train), progress=False)
        val = evaluate(model, eval_loader(val_ds, 256), device_for(cfg.train))
        rows.append({"lr": lr, "batch_size": batch, "val_accuracy": val["accuracy"],
                     "seconds": time.perf_counter() - t0})
        print(rows[-1], flush=True)
    io.save_json({"date": datetime.datetime.now().isoformat(timespec="seconds"),
                  "arch": "resnet19", "width": base.model.width, "epochs": epochs,
                  "train_images": len(train_ds), "val_images": len(val_ds),
                  "split": "validation (held out of the training set)", "results": rows}, args.out)


if __name__ == "__main__":
    main()
