"""Machine description: CPU model, extensions and the nominal peak read from /proc/cpuinfo text."""
from __future__ import annotations

from uticket_lib import machine

# Abridged /proc/cpuinfo of the two kinds of x86 machine this project meets, and an ARM one.
EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9R14 96-Core Processor
cpu MHz\t\t: 2600.000
flags\t\t: fpu sse sse2 sse4_2 avx fma avx2 avx512f avx512dq avx512bw avx512vl avx512_bf16 avx512_vnni
processor\t: 1
cpu MHz\t\t: 3700.000
"""
XEON_AVX2 = """processor\t: 0
model name\t: Intel(R) Xeon(R) CPU E5-2686 v4 @ 2.30GHz
cpu MHz\t\t: 2300.042
flags\t\t: fpu sse sse2 sse4_2 avx fma avx2 f16c
"""
ARM = """processor\t: 0
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp bf16 sve
CPU part\t: 0xd40
"""


def test_model_and_extensions_of_an_avx512_bf16_machine():
    flags = machine.cpu_flags(EPYC)
    assert machine.cpu_model(EPYC) == "AMD EPYC 9R14 96-Core Processor"
    assert machine.vector_extensions(flags) == ["sse4_2", "avx", "fma", "avx2", "avx512f", "avx512bw",
                                                "avx512vl", "avx512_vnni", "avx512_bf16"]
    assert machine.native_bf16(flags)
    assert machine.nominal_fp32_flop_per_cycle(flags)[0] == 64
    assert machine.cpu_mhz(EPYC) == 3700.0          # the highest core's


def test_an_avx2_machine_has_no_native_bf16_and_half_the_nominal_width():
    flags = machine.cpu_flags(XEON_AVX2)
    assert "avx512f" not in machine.vector_extensions(flags)
    assert not machine.native_bf16(flags)
    assert machine.nominal_fp32_flop_per_cycle(flags) == (32, "2 AVX2 FMA x 8 fp32 x 2")


def test_arm_features_are_read():
    flags = machine.cpu_flags(ARM)
    assert {"asimd", "sve", "bf16"} <= set(machine.vector_extensions(flags))
    assert machine.native_bf16(flags) and machine.nominal_fp32_flop_per_cycle(flags)[0] == 16


def test_unreadable_cpuinfo_says_nothing_rather_than_guessing():
    assert machine.cpu_flags("") == set() and machine.cpu_mhz("") is None
    assert machine.nominal_fp32_flop_per_cycle(set())[0] == 2
    d = machine.describe("")
    assert d["vector_extensions"] == [] and d["native_bf16"] is False and d["cpu"]


def test_describe_names_torchs_float_path(monkeypatch):
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    monkeypatch.setenv("UTICKET_MARCH", "haswell")
    d = machine.describe(XEON_AVX2)
    assert d["cpu"].startswith("Intel(R) Xeon(R)") and d["threads"] >= 1
    assert d["aten_cpu_capability"] in {"DEFAULT", "NO AVX", "AVX2", "AVX512", "Z VECTOR", "VSX", "SVE256"}
    assert d["float_path_env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    assert d["float_path_env"]["UTICKET_MARCH"] == "haswell"   # the LIF kernel's instruction set


def test_measured_matmul_rate_is_positive_and_finite():
    rate = machine.measured_matmul_gflop_per_s(n=64, reps=2)
    assert 0 < rate < 1e6


def test_git_commit_names_this_checkout_or_nothing(tmp_path):
    from uticket_lib import machine as m
    c = m.git_commit()
    assert c == "" or (len(c) == 12 and all(ch in "0123456789abcdef" for ch in c))
    assert m.git_commit(tmp_path) == ""          # not a checkout
