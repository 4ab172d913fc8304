"""Every number in a chapter's prose that this build measured comes from a glue.

The prose of each chapter (markdown cells, without math, code, glue roles and the exercise
solutions) may hold only the numbers listed here, each with why it is not a measurement of this
build: a setting, a tolerance, a number from a paper, or a recorded study that the text cites by
file. A number typed into prose that is not listed fails the test: glue it (``analysis.glue``) or,
when it is not a measurement, list it with its reason. A listed number that no longer occurs fails
too, so the list stays the prose's.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
SETTING, TOL, PAPER = "a setting of the profile or the exercise", "a claim's tolerance or interval", "a paper's number"
ALLOWED = {
    "01_neurons": {"0.5": SETTING + " (input level, width)", "14.7": "the released code's weight count (notes)",
                   "12.6": "the released code's weight count (notes)"},
    "02_lottery": {"0.1": PAPER + " (SGD learning rate)", "5 %": SETTING + " (warm-up)", "98 %": SETTING,
                   "0.25": SETTING, "85.9 %": SETTING + " (two rounds to 98 %)", "95 %": TOL,
                   "0.7": "recorded study, cited by file (amp_equivalence.json)",
                   "1.8": "recorded study, cited by file (amp_equivalence.json)"},
    "03_imbalance": {"98 %": SETTING, "25 %": TOL},
    "04_uticket": {"1 %": PAPER, "95 %": TOL},
    "05_cycles": {"25 %": TOL},
    "06_energy": {"25 %": TOL},
    "07_pe_scaling": {"0.25": SETTING},
    "08_system": {"95 %": PAPER + " (Fig. 9's sparsity)", "25 %": TOL},
    "09_paper_vs_code": {"1.5": "the released code's rule", "0.01": "an order of magnitude in an argument",
                         "0.05": "an order of magnitude in an argument", "95 %": TOL, "-1.1": TOL},
    "11_quantization": {"80 %": PAPER + " (Schaefer et al.)", "98 %": SETTING, "95 %": TOL},
    "12_timesteps": {"1.67": PAPER + " (LD-SNN)", "3.84x": PAPER + " (LD-SNN)", "1.2": PAPER + " (LD-SNN)",
                     "2.56x": PAPER + " (LD-SNN)", "1.25": PAPER + " (LD-SNN)", "3.45x": PAPER + " (LD-SNN)",
                     "98 %": SETTING},
    "13_own_network": {"98 %": SETTING},
}
NUMBER = re.compile(r"(?<![\w.])[-+]?\d+\.\d+(?:\s?%|x)?|(?<![\w.])\d+\s?%")


def prose(markdown: str) -> str:
    """A markdown cell without what cannot hold a typed measurement: solutions, math, code, roles."""
    t = re.sub(r":::\{admonition\} Solutions.*?\n:::", "", markdown, flags=re.S)
    t = re.sub(r"\$\$.*?\$\$", "", t, flags=re.S)
    t = re.sub(r"\$[^$]*\$", "", t)
    t = re.sub(r"`[^`]*`", "", t)
    return re.sub(r"\{[a-z:]+\}", "", t)


def numbers(path: Path) -> set[str]:
    nb = jupytext.read(path)
    return {m.group() for c in nb.cells if c.cell_type == "markdown" for m in NUMBER.finditer(prose(c.source))}


CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_prose_types_no_measured_number(path):
    found, allowed = numbers(path), ALLOWED.get(path.stem, {})
    typed = sorted(found - set(allowed))
    assert not typed, (f"{path.name}: numbers typed into the prose: {typed}. Glue a measured number "
                       f"(analysis.glue) or list a setting / tolerance / paper number in ALLOWED with its reason")
    stale = sorted(set(allowed) - found)
    assert not stale, f"{path.name}: ALLOWED lists numbers the prose no longer has: {stale}"


def test_the_pattern_catches_typed_measurements():
    text = "LTH reaches 80.0 % here, 17.7 % less latency, a 1.36x cut; Table II, T = 4, $0.25 v$, `0.5`."
    assert {m.group() for m in NUMBER.finditer(prose(text))} == {"80.0 %", "17.7 %", "1.36x"}
