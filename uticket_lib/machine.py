"""What machine a measurement ran on: CPU model, vector extensions, the float path PyTorch took.

CPU float results and speeds differ between machines (AVX2-only Intel, AVX-512 AMD with native
bf16, ARM): every benchmark and book record carries ``describe()`` so a number can be read against
the machine that produced it. Reads ``/proc/cpuinfo`` where it exists (Linux); elsewhere the fields
say "unknown" rather than guess.
"""
from __future__ import annotations

import os
import platform
import re
import statistics
import subprocess
import time
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")

# The /proc/cpuinfo flags that decide which float kernels run, in the order they were introduced.
VECTOR_FLAGS = ("sse4_2", "avx", "fma", "avx2", "avx_vnni", "avx512f", "avx512bw", "avx512vl",
                "avx512_vnni", "avx512_bf16", "avx512_fp16", "amx_tile", "amx_bf16", "amx_int8",
                "asimd", "sve", "sve2", "bf16")  # the last four: ARM's names

# Nominal fp32 FLOP per cycle per core by widest vector extension, assuming two FMA pipes of that
# width (2 FMA x lanes x 2 FLOP). An upper bound: several CPUs have one 512-bit pipe or run AVX-512
# as two 256-bit halves (AMD Zen 4), so the benchmarks report the measured matmul rate as the peak
# and this only beside it.
NOMINAL_FP32_FLOP_PER_CYCLE = (("avx512f", 64, "2 AVX-512 FMA x 16 fp32 x 2"),
                               ("avx2", 32, "2 AVX2 FMA x 8 fp32 x 2"),
                               ("avx", 16, "2 AVX x 8 fp32 (no FMA)"),
                               ("asimd", 16, "2 NEON FMA x 4 fp32 x 2"))


def _cpuinfo(text: str | None = None) -> str:
    if text is not None:
        return text
    try:
        return CPUINFO.read_text()
    except OSError:
        return ""


def cpu_model(text: str | None = None) -> str:
    """The CPU's model name (x86 'model name', ARM 'Model' / 'CPU part'), else platform's guess."""
    info = _cpuinfo(text)
    for key in ("model name", "Model", "Hardware"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", info, flags=re.M)
        if m:
            return m.group(1).strip()
    return platform.processor() or platform.machine() or "unknown"


def cpu_flags(text: str | None = None) -> set[str]:
    """The first core's feature flags (x86 'flags', ARM 'Features'); empty where unreadable."""
    m = re.search(r"^(?:flags|Features)\s*:\s*(.*)$", _cpuinfo(text), flags=re.M)
    return set(m.group(1).split()) if m else set()


def vector_extensions(flags: set[str]) -> list[str]:
    """The float-relevant extensions among ``flags``, in ``VECTOR_FLAGS`` order."""
    return [f for f in VECTOR_FLAGS if f in flags]


def native_bf16(flags: set[str]) -> bool:
    """True where the CPU computes bf16 dot products natively (AVX512-BF16, AMX-BF16, ARM BF16)."""
    return bool({"avx512_bf16", "amx_bf16", "bf16"} & flags)


def nominal_fp32_flop_per_cycle(flags: set[str]) -> tuple[int, str]:
    """(FLOP per cycle per core, basis) from the widest extension (see the table's caveat)."""
    for flag, flop, basis in NOMINAL_FP32_FLOP_PER_CYCLE:
        if flag in flags:
            return flop, basis
    return 2, "scalar: 1 FMA x 1 fp32 x 2"


def cpu_mhz(text: str | None = None) -> float | None:
    """The highest 'cpu MHz' /proc/cpuinfo reports (the clock the kernel last saw), else None."""
    values = re.findall(r"^cpu MHz\s*:\s*([0-9.]+)", _cpuinfo(text), flags=re.M)
    return max(float(v) for v in values) if values else None


def measured_matmul_gflop_per_s(n: int = 1024, reps: int = 5) -> float:
    """fp32 GFLOP/s of an n x n matmul on all of torch's threads (median of ``reps`` after one
    warm-up): the dense rate this machine really reaches, the benchmarks' peak."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        torch.mm(a, b)
        times.append(time.perf_counter() - t0)
    return 2 * n ** 3 / statistics.median(times) / 1e9


# Settings that change which float kernels run: torch's, oneDNN's, and the LIF kernel's build.
FLOAT_PATH_ENV = ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA", "UTICKET_MARCH")


def describe(text: str | None = None) -> dict:
    """JSON-ready description: CPU model and extensions, cores, torch's threads and float path
    (with ``UTICKET_MARCH``, the instruction set the LIF kernel was built for, where it is set)."""
    flags = cpu_flags(text)
    out = {"cpu": cpu_model(text), "cpus": os.cpu_count(), "vector_extensions": vector_extensions(flags),
           "native_bf16": native_bf16(flags), "platform": platform.platform(),
           "float_path_env": {k: os.environ[k] for k in FLOAT_PATH_ENV if k in os.environ}}
    try:
        import torch

        out.update(threads=torch.get_num_threads(), torch=torch.__version__,
                   aten_cpu_capability=torch.backends.cpu.get_cpu_capability())
    except ImportError:
        pass
    return out


def git_commit(repo: Path | None = None) -> str:
    """The checkout's commit (12 hex digits), or "" outside a git checkout: recorded beside
    benchmark results so that a figure names the code it measured."""
    repo = repo or Path(__file__).resolve().parents[1]
    try:
        out = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True,
                             text=True, cwd=repo, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""
