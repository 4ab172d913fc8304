"""The list of every reproduction claim the book issues and what turns it FAIL or DIRECTION.

Each entry names the test that applies a plausible bug to the library module the chapter calls and
shows the verdict flip, or says why no mutation can flip the claim (INCONCLUSIVE by design at this
scale, with the reason the claim prints), or says what is still open. The test below builds every
chapter's reproduction claims from synthetic inputs and checks that each one has an entry, and that
every named test exists: a new claim without a mutation fails here.
"""
from __future__ import annotations

import importlib
import re

import pandas as pd
import pytest

import test_claims_mutations as mut
import test_quant_claims as qc
import test_timeplan_claims as tc
from uticket_lib.analysis import claims
from uticket_lib.analysis import quant as aq
from uticket_lib.analysis import timesteps as ts

COVERAGE = {  # statement pattern (regex) -> "module::test" | "INCONCLUSIVE: why" | "OPEN: why"
    # chapter 2
    r"LTH ticket keeps the dense network's accuracy":
        "test_claims_mutations::test_ch2_random_instead_of_magnitude_pruning_fails_the_accuracy_claim",
    r"LTH ticket's firing rate":
        "test_claims_book_path::test_spike_counter_without_the_timestep_divide_fails_the_firing_rate_claim",
    # chapter 3
    r"LTH: utilization falls as sparsity rises":
        "test_claims_mutations::test_ch3_loads_that_ignore_the_mask_fail_every_imbalance_claim",
    r"LTH: final imbalance 1 - utilization":
        "test_claims_mutations::test_ch3_loads_that_ignore_the_mask_fail_every_imbalance_claim",
    r"more imbalanced than VGG-16's":
        "test_claims_mutations::test_ch3_loads_that_ignore_the_mask_fail_every_imbalance_claim",
    r"random masks of the same per-layer sparsity are already imbalanced":
        "test_claims_mutations::test_ch3_loads_that_ignore_the_mask_fail_every_imbalance_claim",
    # chapter 4
    r"accuracy of u-Ticket vs LTH":
        "test_claims_mutations::test_ch4_padding_filters_counted_in_the_target_fail_the_accuracy_claim",
    r"u-Ticket's final sparsity above LTH's":
        "test_claims_mutations::test_ch4_sparsity_claim_fails_on_the_papers_algorithm_and_a_worse_balance_widens_the_gap",
    r"balancing costs < 1 %": "test_claims_book_path::test_slow_balance_fails_the_balancing_cost_claim",
    # chapter 5
    r"u-Ticket reduces latency vs LTH": "test_claims_book_path::test_identity_balance_through_lottery_run_fails_the_book_claims",
    # chapter 6
    r"u-Ticket reduces PE energy vs LTH": "test_claims_book_path::test_identity_balance_through_lottery_run_fails_the_book_claims",
    r"the energy reduction grows with sparsity":
        "test_claims_book_path::test_identity_balance_through_lottery_run_fails_the_book_claims",
    # chapter 7
    r"over the whole sweep": "INCONCLUSIVE: issued only where layers pad their blocks (a width artefact)",
    # chapter 8
    r"PE share of LTH system energy": "test_claims_mutations::test_ch8_dense_weight_storage_fails_the_pe_share",
    # (ResNet-19's PE share and system saving: INCONCLUSIVE, Fig. 9 gives VGG-16 only; same entries)
    r"u-Ticket saves system energy": "test_claims_book_path::test_identity_balance_through_lottery_run_fails_the_book_claims",
    # chapter 9
    r"u-Ticket accuracy \(code - paper behaviour\)":
        "test_claims_book_path::test_a_switch_that_stops_learning_fails_the_switch_accuracy_claim",
    r"\(c\) balanced mask not carried: sparsity within":
        "test_claims_mutations::test_ch9_percent_read_as_a_fraction_fails_the_carry_sparsity_claim",
    r"\(d\) unweighted network utilization": "test_claims_mutations::test_ch9_busy_share_for_eq2_fails_the_weighting_claim",
    r"\(e\) ceil average in Eq. 2": "test_claims_mutations::test_ch9_ceil_to_the_wrong_unit_fails_the_avg_claim",
    # chapter 11
    r"-bit QAT of the dense network stays within": "test_quant_claims::test_each_claim_can_fail",
    r"the pruned ticket \(16 bit\) costs more PE energy":
        "INCONCLUSIVE: the seed compares at its iso-accuracy 80 % sparsity with its own simulator",
    r"ternary quantization breaks": "test_quant_claims::test_each_claim_can_fail",
    r"u-Ticket keeps its 16-bit PE energy saving": "test_quant_claims::test_each_claim_can_fail",
    # chapter 12
    r"Layerwise T within": "test_timeplan_claims::test_reduction_below_the_seed_low_end_fails",
    r"latency reduction over LTH persists": "test_timeplan_claims::test_uticket_saving_persists_and_can_fail",
}


def _reproduction_claims() -> list:
    """Every chapter builder's reproduction claims on synthetic inputs (both networks where a claim
    compares them; chapter 7 with a padded n_PE)."""
    t = mut.tickets(levels=5)
    out = list(mut._imbalance_claims(t))
    w, x, y = mut.linear_task()
    out.append(mut._lottery_claim(w, x, y))
    summary = pd.DataFrame({"sparsity": [0.98], "expected_sparsity": [0.98], "spike_sparsity": [0.85]},
                           index=["vgg16"])
    out += [c for c in claims.lottery(summary, {}) if "firing rate" in c.statement]
    out.append(mut._accuracy_drop_claim(w, x, y))
    out += mut._uticket_claims(mut.tickets())
    out += mut._cycles_claims(mut.tickets())
    out += mut._energy_claims(mut.tickets())
    out += mut._pe_claims(mut.tickets(), n_pes=(2, 4, 8, 64))
    out += mut._system_claims(mut.tickets())
    out += mut._switch_claims()
    out += aq.claims(qc._summary())
    out += ts.reduction_claims(tc.results(), 0.01) + [ts.uticket_claim(tc.results())]
    return [c for c in out if c.kind == "reproduction"]


def test_every_reproduction_claim_has_a_mutation_or_a_reason():
    claims = _reproduction_claims()
    assert len(claims) >= 25
    missing = [c.statement for c in claims if not any(re.search(p, c.statement) for p in COVERAGE)]
    assert not missing, f"reproduction claims with no entry in COVERAGE: {missing}"
    used = {p for p in COVERAGE if any(re.search(p, c.statement) for c in claims)}
    assert used == set(COVERAGE), f"entries that match no claim (stale): {set(COVERAGE) - used}"


@pytest.mark.parametrize("pattern,entry", sorted(COVERAGE.items()))
def test_every_named_mutation_test_exists(pattern, entry):
    if entry.startswith(("INCONCLUSIVE: ", "OPEN: ")):
        assert len(entry.split(": ", 1)[1]) > 20          # a reason a reader can check
        return
    module, name = entry.split("::")
    assert callable(getattr(importlib.import_module(module), name, None)), entry


def test_open_entries_are_few():
    """What no test flips yet is listed, not hidden: none is left (see COVERAGE)."""
    assert sum(e.startswith("OPEN: ") for e in COVERAGE.values()) == 0
