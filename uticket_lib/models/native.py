"""The LIF neuron's C kernel (``lif_kernel.c``): compiled at first use, loaded through ctypes.

The torch-op neuron (``neurons._charge_fire`` / ``_LIFFunction``) reads and writes every ``[T, N, ...]``
array several times per timestep; the C kernel makes one pass, keeping the membrane in registers,
reads bf16 input without a cast pass, and saves nothing for the backward but its input (the
backward recomputes the membrane in cache rather than reading a saved surrogate back). Its numbers are the torch path's bit for bit on CPUs whose
torch kernels use FMA (every AVX2 / AVX-512 machine; see the C file), so switching it on or off does
not change a run.

``kernel()`` returns the loaded library or None: no C compiler, a failed build, a non-x86 / non-Linux
machine, or ``UTICKET_NATIVE_LIF=0`` in the environment. None means the torch path, with one warning
naming the cause when a build was tried and failed. The shared object is cached under
``$UTICKET_CACHE`` (default ``~/.cache/uticket``) by a hash of the source, the compiler command and
this CPU's flags, so a machine with other instruction sets rebuilds rather than crashes.

``run(fn, T, n, *args)`` calls a kernel over neurons ``[0, n)`` on torch's intra-op thread count
(OpenMP inside the kernel, on the libgomp torch has loaded).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("lif_kernel.c")
# -ffp-contract=off: only the fmaf calls the source writes are fused (bit-for-bit with torch's ops).
# UTICKET_MARCH (default native) picks the instruction set, e.g. haswell to measure an AVX2 machine.
CFLAGS = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-fopenmp", "-shared", "-fPIC"]
MIN_PER_THREAD = 1 << 14      # neurons x T below which one thread runs it (elements; a guess, not tuned:
                              # at the cpu profile every layer is above it, the smallest 128 x 2 x 2 x 4 x 32)

_i64, _int, _f32 = ctypes.c_int64, ctypes.c_int, ctypes.c_float
_p = ctypes.c_void_p
_SIGNATURES = {
    # x, x's T stride, v0, spikes, v_last, T, n, lo, hi, threads, tau, v_th
    "lif_forward_f32": [_p, _i64, _p, _p, _p, _i64, _i64, _i64, _i64, _int, _f32, _f32],
    "lif_forward_bf16": [_p, _i64, _p, _p, _p, _i64, _i64, _i64, _i64, _int, _f32, _f32],
    # x, x's T stride, v0, grad_s, grad_v, grad_x, grad_v0, T, n, lo, hi, threads, tau, v_th, k, c, leak
    "lif_backward_f32": [_p, _i64, _p, _p, _p, _p, _p, _i64, _i64, _i64, _i64, _int] + [_f32] * 5,
    "lif_backward_bf16": [_p, _i64, _p, _p, _p, _p, _p, _i64, _i64, _i64, _i64, _int] + [_f32] * 5,
}

_lock = threading.Lock()
_state: dict[str, object] = {}     # "lib": the CDLL, or None, once tried


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _cache_dir() -> Path:
    return Path(os.environ.get("UTICKET_CACHE") or Path.home() / ".cache" / "uticket")


def _build() -> ctypes.CDLL | None:
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        warnings.warn("uticket: no C compiler (cc / gcc) found; the LIF neuron runs on torch ops "
                      "(same numbers, slower). Install gcc, or set UTICKET_NATIVE_LIF=0 to silence this.")
        return None
    flags = [f"-march={os.environ.get('UTICKET_MARCH') or 'native'}", *CFLAGS]
    key = hashlib.sha256(SOURCE.read_bytes() + " ".join([cc, *flags]).encode()
                         + _cpu_flags().encode()).hexdigest()[:16]
    target = _cache_dir() / f"lif_kernel-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        try:
            proc = subprocess.run([cc, *flags, str(SOURCE), "-o", tmp, "-lm"],
                                  capture_output=True, text=True, timeout=120)
            if proc.returncode != 0:
                warnings.warn(f"uticket: compiling {SOURCE.name} failed ({cc}); the LIF neuron runs "
                              f"on torch ops (same numbers, slower). Compiler said:\n{proc.stderr[-2000:]}")
                return None
            os.replace(tmp, target)       # atomic: a concurrent process sees all or nothing
        except (OSError, subprocess.SubprocessError) as e:
            warnings.warn(f"uticket: could not run the C compiler {cc} ({e}); the LIF neuron runs on torch ops.")
            return None
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    lib = ctypes.CDLL(str(target))
    for name, argtypes in _SIGNATURES.items():
        fn = getattr(lib, name)
        fn.argtypes, fn.restype = argtypes, None
    return lib


def enabled_by_env() -> bool:
    return os.environ.get("UTICKET_NATIVE_LIF", "1").strip().lower() not in ("0", "false", "no", "off")


def kernel() -> ctypes.CDLL | None:
    """The compiled kernel library, or None where it is off or cannot be built (see module doc)."""
    if "lib" not in _state:
        with _lock:
            if "lib" not in _state:
                ok = (enabled_by_env() and platform.system() == "Linux"
                      and platform.machine() in ("x86_64", "AMD64"))
                _state["lib"] = _build() if ok else None
    return _state["lib"]  # type: ignore[return-value]


def ptr(t: torch.Tensor | None) -> int | None:
    return None if t is None else t.data_ptr()


def run(fn, T: int, n: int, *args) -> None:
    """``fn(*pointers, T, n, 0, n, threads, *scalars)``: ``args`` are the pointer arguments followed
    by a tuple of the trailing scalars; ``threads`` is torch's intra-op count, 1 for small arrays."""
    *ptrs, scalars = args
    threads = torch.get_num_threads() if T * n >= MIN_PER_THREAD else 1
    fn(*ptrs, T, n, 0, n, threads, *scalars)
