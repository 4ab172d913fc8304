"""Throughput of the gpu profile on one GPU: end-to-end training images/s and minutes per level.

    python ci/bench_gpu.py OUT.json            # on the GPU machine, full width, <= ~8 minutes
    python ci/bench_gpu.py OUT.json --quick    # tiny (width 1/16, a few batches): runs on CPU

For VGG-16 and ResNet-19 on Fashion-MNIST with the ``gpu`` profile (bf16 autocast, channels-last,
its batch size and loader workers) it times ``training.fit`` -- the loop the runs use: loader,
augmentation, masks (90 % sparse), optimizer -- for one short epoch after a warm-up epoch, at
T = 4 and at the search T (2), then a full evaluation pass; it writes images/s and the minutes per
level and per run they imply. Real Fashion-MNIST is used when found (``data`` says which),
otherwise random synthetic images of the same shape (1 x 32 x 32, 10 classes, 60,000 / 10,000),
which skip the PIL transforms and so overstate end-to-end speed where the loader is the limit.
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
from torch.utils.data import Subset, TensorDataset  # noqa: E402

from uticket_lib import data as datalib, io, machine, profiles, rundata, runstore, training  # noqa: E402
from uticket_lib.models import flops  # noqa: E402
from uticket_lib.pruning import mask as masklib  # noqa: E402

FULL = {"train": 60_000, "test": 10_000}   # Fashion-MNIST split sizes


def datasets(cfg, quick: bool):
    try:
        train, test = rundata.load_datasets(cfg)[:2]
        return train, test, "real Fashion-MNIST"
    except (datalib.DataMissingError, OSError, RuntimeError) as err:
        n_train, n_test = (512, 256) if quick else (FULL["train"], FULL["test"])
        g = torch.Generator().manual_seed(0)
        mk = lambda n: TensorDataset(torch.randn(n, 1, 32, 32, generator=g),  # noqa: E731
                                     torch.randint(0, 10, (n,), generator=g))
        return mk(n_train), mk(n_test), f"synthetic (real data missing: {type(err).__name__})"


def sparse_masks(model, sparsity: float = 0.9):
    """Random masks at ``sparsity`` on every conv / linear weight (the late levels' cost)."""
    g = torch.Generator().manual_seed(0)
    return {n: (torch.rand(p.shape, generator=g) >= sparsity).float()
            for n, p in model.named_parameters() if p.dim() in (2, 4)}


def measure(cfg, train, test, device, images: int) -> dict:
    model = runstore.build_model(cfg)
    masks = {n: m.to(device) for n, m in sparse_masks(model).items()}
    masklib.apply(model.to(device), masks)
    sub = Subset(train, range(min(images, len(train))))
    training.fit(model, sub, cfg.train, 1, 0, masks, device, cfg.data.num_workers, progress=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    stats = training.fit(model, sub, cfg.train, 1, 1, masks, device, cfg.data.num_workers,
                         progress=False)[0]
    t0 = time.perf_counter()
    ev = training.evaluate(model, training.eval_loader(test, device=device), device, amp=cfg.train.amp)
    eval_s = time.perf_counter() - t0
    ips = stats.images_per_s
    gflop = flops.train_flops_per_image(runstore.build_model(cfg), 1) / 1e9
    return {"timesteps": cfg.model.timesteps, "train_images_per_s": ips, "timed_images": stats.images,
            "eval_images_per_s": ev["images"] / eval_s, "eval_images": ev["images"],
            "train_gflop_per_image": gflop, "achieved_tflop_per_s": ips * gflop / 1e3,
            "minutes_per_epoch_full_data": FULL["train"] / ips / 60,
            "eval_minutes_full_test_set": FULL["test"] / (ev["images"] / eval_s) / 60}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", help="path of the JSON to write")
    ap.add_argument("--quick", action="store_true", help="tiny width and data (a CPU smoke test)")
    ap.add_argument("--images", type=int, default=None,
                    help="training images timed per measurement (default 12,800; quick: 64)")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    images = args.images or (64 if args.quick else 12_800)
    record = {"what": __doc__.split("\n\n")[0], "profile": "gpu", "quick": args.quick,
              "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
              "machine": {**machine.describe(), "python": platform.python_version()},
              "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
              "results": {}}
    for arch in ("vgg16", "resnet19"):
        over = ({"model.width": 0.0625, "train.batch_size": 16, "data.num_workers": 0,
                 "data.train_subset": 512, "data.test_subset": 256} if args.quick else {})
        cfg = profiles.get("gpu", arch, "fmnist", "lth", over)
        train, test, record["data"] = datasets(cfg, args.quick)
        if not isinstance(test, TensorDataset):
            test = datalib.materialize(test)  # once per arch, as the runs do once per process
        search_t = 2  # early-time search T of the released scripts
        rows = {}
        for T in (cfg.model.timesteps, search_t):
            c = cfg.replace(**{"model.timesteps": T})
            try:
                rows[f"T{T}"] = measure(c, train, test, device, images)
            except Exception as err:  # one failure must not lose the rest of the record
                rows[f"T{T}"] = {"error": f"{type(err).__name__}: {err}",
                                 "traceback": traceback.format_exc()[-2000:]}
            print(arch, f"T={T}", {k: v for k, v in rows[f"T{T}"].items() if k != "traceback"},
                  flush=True)
        per_level = {}
        for key, r in rows.items():
            if "train_images_per_s" in r:
                ep = r["minutes_per_epoch_full_data"]
                per_level[key] = {"dense": ep * cfg.train.epochs_dense + r["eval_minutes_full_test_set"],
                                  "later": ep * cfg.train.epochs + r["eval_minutes_full_test_set"]}
        run_min = None
        if "T4" in per_level and f"T{search_t}" in per_level:
            s = per_level[f"T{search_t}"]  # dense + search rounds at T=2, final round at T=4
            run_min = s["dense"] + (cfg.prune.levels - 2) * s["later"] + per_level["T4"]["later"]
        record["results"][arch] = {"measurements": rows, "minutes_per_level": per_level,
                                   "minutes_per_run_early_time": run_min,
                                   "schedule": {"levels": cfg.prune.levels,
                                                "epochs_dense": cfg.train.epochs_dense,
                                                "epochs": cfg.train.epochs,
                                                "batch_size": cfg.train.batch_size,
                                                "amp": cfg.train.amp,
                                                "num_workers": cfg.data.num_workers}}
        io.save_json(record, args.out)  # after each arch: a timeout keeps what was measured
    print("wrote", args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
