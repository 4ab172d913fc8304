"""Training and evaluation throughput of the spiking VGG-16 / ResNet-19 at the cpu profile, here.

    .venv/bin/python ci/bench_train.py [--steps 6] [--images 640] [--with-plain] [--rounds 3]
        [--bf16 | --no-bf16] [--out PATH]

Per arch, in one process (about 1-2 minutes on 2 quiet cores):

- ``model_images_per_s``: forward + backward + SGD step on a fixed random batch (the cpu profile's
  batch size and channels-last), median of ``--steps`` steps after 2 warm-ups;
- ``end_to_end_images_per_s``: ``training.fit`` -- the loop the runs use, with the real
  Fashion-MNIST loader and augmentation, 90 %-sparse masks (gradient hooks + re-masking) and the
  scheduler -- over ``--images`` training images after a warm-up epoch; it is ``EpochStats``'
  images/s, the very number the runs record as ``train_images_per_s``. With ``--rounds R`` (default
  3) it is the median of R readings taken fp32 and bf16 alternately (``end_to_end_readings``; the
  bf16 row's ``end_to_end_speedup_readings`` are each round's own ratio);
- ``eval_images_per_s``: ``training.evaluate`` over 1,000 materialised test images in batches of
  ``eval_batch`` (the runs' evaluation path);
- ``model_gflop_per_s``: model images/s x training FLOPs per image (conv + linear, counted by
  ``uticket_lib.models.flops``: 3 x forward MACs x 2), against ``peak_gflop_per_s``, the measured
  rate of a dense fp32 matmul here (the nominal FMA peak from the CPU's extensions beside it).

Each is measured in fp32 and, where the CPU has native bf16 (``machine.native_bf16``, recorded in
``machine``; ``--bf16`` / ``--no-bf16`` force it), again under bf16 autocast (``bf16``: the same keys
and the ratios over fp32): the cpu profile trains in bf16 exactly there. Elsewhere bf16 is emulated,
far slower than fp32 (a tenth of its model-only speed on an AVX2 EPYC, width 0.125, measured once).

``torch_op_lif``: with ``--with-plain``, per precision, the same model-only figure with the LIF
neuron on torch ops instead of the C kernel (``neurons.USE_NATIVE = False``), measured alternately
with the kernel's (3 rounds each, medians), and their ratio ``lif_kernel_speedup``; ``machine``
records whether the kernel was built here (``lif_kernel``).

``--with-plain`` adds two references for the same networks, each measured model-only as above
(fp32, the released code's precision; its scripts train on CUDA, this times the same networks on
the CPU), and our network with SpikingJelly's stock LIF:
the released code's networks as it runs them (``ci/released_nets.py``: ``clock_driven``
single-step neurons, the first conv + BN once, the rest once per timestep on the N images; the
same function as ours, tested) and a plain SpikingJelly multi-step implementation (``layer.*``
wrappers, time folded into the batch, image repeated over T, encoder run every step; the
reference before 2026-12-07). Per precision it records ``speedup_vs_released`` (our model-only
images/s over the released networks') and ``speedup_vs_plain_spikingjelly``: ratios of the medians
of ``max(3, --rounds)`` rounds that time the references and ours alternately (each round's own
ratio in ``*_readings``). Those rounds' readings of ours then replace the single model-only
figure above (``model_readings``; ``model_images_per_s`` their median, bf16 / fp32 from the medians,
each round's own in ``model_speedup_readings``), so every ratio in the file comes from them. Writes
ci/bench_results/train.json with the machine's description and load average: the CPU may be
shared, so a figure means little without the load it was measured under.
"""
from __future__ import annotations

import argparse
import datetime
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import torch  # noqa: E402
from torch.utils.data import Subset  # noqa: E402

from uticket_lib import data as datalib, io, machine, models, profiles, rundata, runstore, training  # noqa: E402
from uticket_lib.models import flops, native, neurons  # noqa: E402
from uticket_lib.pruning import mask as masklib  # noqa: E402
from uticket_lib.training import spike_loss  # noqa: E402

from released_nets import PLAIN, RELEASED  # noqa: E402


def sgd_step(model, opt, x, y, amp=False) -> float:
    """Seconds of one training step (forward, loss, backward, optimizer) on the batch (x, y)."""
    t0 = time.perf_counter()
    with training.autocast(torch.device("cpu"), amp):
        loss = spike_loss(model(x).float(), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def images_per_s(model, batch, steps, cin=1, channels_last=False, amp=False) -> float:
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.rand(batch, cin, 32, 32), torch.randint(0, 10, (batch,))
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    times = [sgd_step(model, opt, x, y, amp) for _ in range(steps + 2)][2:]   # two warm-up steps
    return batch / statistics.median(times)


def peak_gflop_per_s() -> tuple[float, str, dict]:
    """(peak GFLOP/s, how it was derived, the nominal figure from the CPU's extensions).

    The peak is measured: a 1024 x 1024 fp32 matmul on all of torch's threads, the dense rate this
    machine reaches. The nominal FMA peak (cores x clock x FLOP/cycle of the widest extension, two
    FMA pipes assumed) is recorded beside it; it overstates CPUs with one 512-bit pipe or AVX-512
    run as two 256-bit halves (AMD Zen 4), and the clock /proc/cpuinfo reports is not the boost.
    """
    flags = machine.cpu_flags()
    per_cycle, basis = machine.nominal_fp32_flop_per_cycle(flags)
    mhz, cores = machine.cpu_mhz(), torch.get_num_threads()
    nominal = {"gflop_per_s": cores * mhz / 1e3 * per_cycle if mhz else None,
               "basis": f"{cores} threads x {(mhz or 0) / 1e3:.3f} GHz x {per_cycle} FLOP/cycle ({basis})"}
    peak = machine.measured_matmul_gflop_per_s()
    return peak, f"measured: fp32 1024 x 1024 matmul on {cores} threads (median of 5)", nominal


def sparse_masks(model, sparsity=0.9):
    g = torch.Generator().manual_seed(0)
    return {n: (torch.rand(p.shape, generator=g) >= sparsity).float()
            for n, p in model.named_parameters() if p.dim() in (2, 4) and n != model.encoder_name}


def end_to_end(arch: str, images: int, amp: bool = False) -> tuple[float, float]:
    """(training images/s of ``training.fit`` on real data, eval images/s) at the cpu profile, in
    bf16 autocast when ``amp``."""
    cfg = profiles.get("cpu", arch, "fmnist", overrides={"train.amp": amp})
    train, test = rundata.load_datasets(cfg)[:2]
    model = runstore.build_model(cfg)
    masks = sparse_masks(model)
    masklib.apply(model, masks)
    cpu = torch.device("cpu")
    warm = Subset(train, range(cfg.train.batch_size * 2))
    training.fit(model, warm, cfg.train, 1, 0, masks, cpu, progress=False)
    stats = training.fit(model, Subset(train, range(images)), cfg.train, 1, 1, masks, cpu,
                         progress=False)[0]
    mat = datalib.materialize(Subset(test, range(min(1000, len(test)))))
    t0 = time.perf_counter()
    ev = training.evaluate(model, training.eval_loader(mat), cpu, amp=amp)
    return stats.images_per_s, ev["images"] / (time.perf_counter() - t0)


def main() -> None:
    cpu = profiles.PROFILES["cpu"]
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=float, default=cpu["model.width"])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--images", type=int, default=640, help="training images timed end to end")
    ap.add_argument("--with-plain", action="store_true", help="also the SpikingJelly references")
    ap.add_argument("--rounds", type=int, default=3,
                    help="end-to-end readings per precision, fp32 and bf16 alternately (medians recorded)")
    ap.add_argument("--bf16", dest="bf16", action="store_true", default=None,
                    help="also bf16 autocast, side by side with fp32 (default where the CPU has native bf16)")
    ap.add_argument("--no-bf16", dest="bf16", action="store_false",
                    help="fp32 only (default where the CPU has no native bf16: emulated bf16 runs "
                         "far slower than fp32 and is not what the cpu profile trains in)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "bench_results", "train.json"))
    args = ap.parse_args()
    if args.bf16 is None:
        args.bf16 = machine.native_bf16(machine.cpu_flags())
    torch.manual_seed(0)
    peak, peak_basis, nominal = peak_gflop_per_s()
    host = machine.describe()
    print(f"{host['cpu']}: {' '.join(host['vector_extensions'])}; torch float path "
          f"{host.get('aten_cpu_capability')}; matmul peak {peak:.0f} GFLOP/s", flush=True)
    load_before = os.getloadavg()
    results = {}
    for arch in ("vgg16", "resnet19"):
        cfg = profiles.get("cpu", arch, "fmnist")
        batch = cfg.train.batch_size
        r = results[arch] = {"batch": batch, "eval_batch": training.eval_batch("cpu")}
        ours_by_amp = {}
        for amp in (False, True) if args.bf16 else (False,):
            torch.manual_seed(0)
            ours = ours_by_amp[amp] = models.build(arch, in_channels=1, width=args.width).train()
            gflop = flops.train_flops_per_image(ours, 1) / 1e9
            model_ips = images_per_s(ours, batch, args.steps, channels_last=cfg.train.channels_last, amp=amp)
            torch_op = None
            if args.with_plain and native.kernel() is not None:
                kern, ops = [model_ips], []
                for _ in range(3):      # alternately, so that machine drift hits both alike
                    for use, out in ((False, ops), (True, kern)):
                        neurons.USE_NATIVE = use
                        out.append(images_per_s(ours, batch, args.steps,
                                                channels_last=cfg.train.channels_last, amp=amp))
                neurons.USE_NATIVE = True
                model_ips, torch_op = statistics.median(kern), statistics.median(ops)
            e2e, ev = end_to_end(arch, args.images, amp)
            row = {"model_images_per_s": model_ips, "end_to_end_images_per_s": e2e,
                   "end_to_end_over_model": e2e / model_ips, "eval_images_per_s": ev,
                   "train_gflop_per_image": gflop, "model_gflop_per_s": model_ips * gflop,
                   "end_to_end_gflop_per_s": e2e * gflop, "model_share_of_peak": model_ips * gflop / peak,
                   "params": sum(p.numel() for p in ours.parameters())}
            if torch_op is not None:
                row["torch_op_lif"] = {"model_images_per_s": torch_op,
                                       "lif_kernel_speedup": model_ips / torch_op}
            if amp:   # the bf16 row beside the fp32 one (same keys), and the ratios
                r["bf16"] = {**row, "model_speedup_over_fp32": model_ips / r["model_images_per_s"],
                             "end_to_end_speedup_over_fp32": e2e / r["end_to_end_images_per_s"]}
            else:
                r.update(row)
            print(f"{arch:9s} {'bf16' if amp else 'fp32'} model {model_ips:7.1f} img/s  end-to-end "
                  f"{e2e:7.1f} img/s ({100 * e2e / model_ips:.0f} %)  eval {ev:7.1f} img/s  "
                  f"{row['model_gflop_per_s']:.0f} GFLOP/s = {100 * row['model_share_of_peak']:.0f} % of peak"
                  + (f"; LIF on torch ops {torch_op:.1f} img/s (kernel {model_ips / torch_op:.2f}x)"
                     if torch_op else ""), flush=True)
        if args.rounds > 1:   # more end-to-end readings, the precisions alternately: drift hits both alike
            first = {False: r["end_to_end_images_per_s"], True: r.get("bf16", {}).get("end_to_end_images_per_s")}
            reads = {amp: [v] for amp, v in first.items() if v is not None}
            for _ in range(args.rounds - 1):
                for amp in reads:
                    reads[amp].append(end_to_end(arch, args.images, amp)[0])
            for amp, row in ((False, r), (True, r.get("bf16"))):
                if row is None:
                    continue
                e2e = statistics.median(reads[amp])
                row.update({"end_to_end_images_per_s": e2e, "end_to_end_readings": reads[amp],
                            "end_to_end_over_model": e2e / row["model_images_per_s"],
                            "end_to_end_gflop_per_s": e2e * row["train_gflop_per_image"]})
            if True in reads:   # the median ratio, and each round's own (a bf16 reading over the fp32 before it)
                ratios = [b / f for f, b in zip(reads[False], reads[True])]
                r["bf16"]["end_to_end_speedup_over_fp32"] = (r["bf16"]["end_to_end_images_per_s"]
                                                             / r["end_to_end_images_per_s"])
                r["bf16"]["end_to_end_speedup_readings"] = ratios
                print(f"{arch:9s} end to end over {args.rounds} alternate rounds: fp32 "
                      f"{r['end_to_end_images_per_s']:.1f}, bf16 {r['bf16']['end_to_end_images_per_s']:.1f} img/s "
                      f"(medians), bf16 / fp32 {r['bf16']['end_to_end_speedup_over_fp32']:.2f}x "
                      f"(rounds {', '.join(f'{x:.2f}' for x in ratios)})", flush=True)
        if args.with_plain:
            with neurons.fast_lif(False):  # ours with SpikingJelly's stock LIFNode
                stock = models.build(arch, in_channels=1, width=args.width).train()
            r["uticket_stock_lif_images_per_s"] = images_per_s(stock, batch, args.steps)
            plain_net = PLAIN[arch](1, args.width).train()
            released_net = RELEASED[arch](1, args.width).train()
            # ours (model-only, each precision measured here) over each reference in fp32, the
            # released code's precision: max(3, rounds) rounds, the references and ours
            # alternately so that machine drift hits all alike; the medians' ratio, and each
            # round's own ratio beside it
            precisions = (False, True) if "bf16" in r else (False,)
            refs = {"released": ([], released_net), "plain_spikingjelly": ([], plain_net)}
            ours_reads = {amp: [] for amp in precisions}
            for _ in range(max(3, args.rounds)):
                for reads, net in refs.values():
                    reads.append(images_per_s(net, batch, args.steps))
                for amp in precisions:
                    ours_reads[amp].append(images_per_s(ours_by_amp[amp], batch, args.steps,
                                                        channels_last=cfg.train.channels_last, amp=amp))
            for name, (reads, _) in refs.items():
                ref = statistics.median(reads)
                r[f"{name}_images_per_s"] = ref
                r[f"{name}_readings"] = reads
                key = "speedup_vs_released" if name == "released" else f"speedup_vs_{name}"
                r[key] = {("bf16" if amp else "fp32"): statistics.median(o) / ref
                          for amp, o in ours_reads.items()}
                r[f"{key}_readings"] = {("bf16" if amp else "fp32"): [a / b for a, b in zip(o, reads)]
                                        for amp, o in ours_reads.items()}
                print(f"{arch:9s} {name} (fp32) {ref:7.1f} img/s; ours / it (medians of {len(reads)} "
                      "alternate rounds): "
                      + ", ".join(f"{k} {v:.2f}x (rounds {', '.join(f'{x:.2f}' for x in r[key + '_readings'][k])})"
                                  for k, v in r[key].items()), flush=True)
            # ours' model-only figures from these rounds (more readings than the single one
            # above, and the very ones the ratios use): rows and bf16 / fp32 from their medians
            for amp in precisions:
                row = r["bf16"] if amp else r
                ips = statistics.median(ours_reads[amp])
                row.update({"model_images_per_s": ips, "model_readings": ours_reads[amp],
                            "model_gflop_per_s": ips * row["train_gflop_per_image"],
                            "model_share_of_peak": ips * row["train_gflop_per_image"] / peak,
                            "end_to_end_over_model": row["end_to_end_images_per_s"] / ips})
            if "bf16" in r:
                r["bf16"]["model_speedup_over_fp32"] = r["bf16"]["model_images_per_s"] / r["model_images_per_s"]
                r["bf16"]["model_speedup_readings"] = [b / f for f, b in zip(ours_reads[False], ours_reads[True])]
                print(f"{arch:9s} model-only over the same rounds: fp32 {r['model_images_per_s']:.1f}, bf16 "
                      f"{r['bf16']['model_images_per_s']:.1f} img/s (medians), bf16 / fp32 "
                      f"{r['bf16']['model_speedup_over_fp32']:.2f}x", flush=True)
    io.save_json({"what": "training images/s: model-only (forward + backward + SGD step) and end to "
                          "end (training.fit on real Fashion-MNIST), evaluation images/s; T=4, 32x32, "
                          "1 channel, cpu profile",
                  "width": args.width, "steps": args.steps, "end_to_end_images": args.images,
                  "end_to_end_rounds": args.rounds,
                  "results": results, "peak_gflop_per_s": peak, "peak_basis": peak_basis,
                  "nominal_peak": nominal,
                  "released_basis": "speedup_vs_released: ci/released_nets.py ReleasedVGG16 / ReleasedResNet19, "
                                    "the released code's forward (clock_driven single-step LIF, first conv + BN "
                                    "once, the rest per timestep on N images); speedup_vs_plain_spikingjelly: "
                                    "PlainVGG / PlainResNet19 (multi-step; the speedup_vs_released of every train*.json "
                                    "written before commit 85517b1 is against it)",
                  "flops_basis": "uticket_lib.models.flops: conv + linear MACs x 2 x 3 (fwd, bwd input, "
                                 "bwd weight); BN / LIF / pooling / optimizer not counted",
                  "machine": {**host, "lif_kernel": native.kernel() is not None,
                              "loadavg_before": load_before,
                              "loadavg_after": os.getloadavg()},
                  "commit": machine.git_commit(),
                  "date": datetime.date.today().isoformat()},
                 args.out)


if __name__ == "__main__":
    main()
