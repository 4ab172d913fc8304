"""The paper's published numbers (u-Ticket, Yin et al., IEEE TETCI 2024), one table per constant.

Keys are ``(arch, dataset, method)`` with arch in {"vgg16", "resnet19"}, dataset in
{"cifar10", "fmnist", "svhn"}, method in {"lth", "uticket"}. Percentages stay percentages, cycle
counts are in units of 1e8 PE cycles as printed. Where the paper's text is garbled the value is
``None``; the values we assume in its place live in ``ASSUMED`` and are labelled as assumptions.
"""
from __future__ import annotations

ARCHS = ("vgg16", "resnet19")
DATASETS = ("cifar10", "fmnist", "svhn")
METHODS = ("lth", "uticket")

# Table I: accuracy %, filter (weight) sparsity %, spike sparsity % (T = 4, 16 PEs).
TABLE_I_REF = "Table I"
TABLE_I = {
    ("vgg16", "cifar10", "lth"): {"acc": 91.0, "weight_sparsity": 98.2, "spike_sparsity": 84.8},
    ("vgg16", "cifar10", "uticket"): {"acc": 90.7, "weight_sparsity": 98.4, "spike_sparsity": 85.9},
    ("vgg16", "fmnist", "lth"): {"acc": 94.6, "weight_sparsity": 98.2, "spike_sparsity": 83.9},
    ("vgg16", "fmnist", "uticket"): {"acc": 94.0, "weight_sparsity": 98.5, "spike_sparsity": 81.4},
    ("vgg16", "svhn", "lth"): {"acc": 95.5, "weight_sparsity": 98.2, "spike_sparsity": 84.9},
    ("vgg16", "svhn", "uticket"): {"acc": 94.8, "weight_sparsity": 98.5, "spike_sparsity": 80.1},
    ("resnet19", "cifar10", "lth"): {"acc": 91.0, "weight_sparsity": 97.6, "spike_sparsity": None},
    ("resnet19", "cifar10", "uticket"): {"acc": 90.3, "weight_sparsity": 98.4, "spike_sparsity": None},
    ("resnet19", "fmnist", "lth"): {"acc": 94.4, "weight_sparsity": 98.2, "spike_sparsity": 60.1},
    ("resnet19", "fmnist", "uticket"): {"acc": 93.3, "weight_sparsity": 99.0, "spike_sparsity": 62.9},
    ("resnet19", "svhn", "lth"): {"acc": 95.1, "weight_sparsity": 97.6, "spike_sparsity": 63.6},
    ("resnet19", "svhn", "uticket"): {"acc": 94.6, "weight_sparsity": 98.6, "spike_sparsity": 68.2},
}

# Assumptions standing in for garbled digits (Table I prints only "64." and "68." here).
ASSUMED = {
    ("resnet19", "cifar10", "lth"): {"spike_sparsity": 64.5},
    ("resnet19", "cifar10", "uticket"): {"spike_sparsity": 68.5},
}
ASSUMED_NOTE = ("assumption: Table I's ResNet-19 CIFAR10 spike sparsities are garbled ('64.', '68.'); "
                "64.5 % (LTH) and 68.5 % (u-Ticket) are assumed")

# Table II: work, idle, latency in 1e8 PE cycles; utilization (Eq. 2, parameter-weighted), 16 PEs.
TABLE_II_REF = "Table II"
TABLE_II = {
    ("vgg16", "cifar10", "lth"): {"work": 1.34, "idle": 0.41, "latency": 0.11, "utilization": 0.59},
    ("vgg16", "cifar10", "uticket"): {"work": 0.94, "idle": 0.00, "latency": 0.06, "utilization": 1.00},
    ("vgg16", "fmnist", "lth"): {"work": 1.10, "idle": 0.42, "latency": 0.10, "utilization": 0.57},
    ("vgg16", "fmnist", "uticket"): {"work": 0.81, "idle": 0.00, "latency": 0.05, "utilization": 1.00},
    ("vgg16", "svhn", "lth"): {"work": 1.15, "idle": 0.69, "latency": 0.12, "utilization": 0.47},
    ("vgg16", "svhn", "uticket"): {"work": 0.86, "idle": 0.00, "latency": 0.05, "utilization": 1.00},
    ("resnet19", "cifar10", "lth"): {"work": 1.66, "idle": 1.73, "latency": 0.21, "utilization": 0.31},
    ("resnet19", "cifar10", "uticket"): {"work": 1.10, "idle": 0.00, "latency": 0.07, "utilization": 1.00},
    ("resnet19", "fmnist", "lth"): {"work": 1.26, "idle": 1.89, "latency": 0.20, "utilization": 0.27},
    ("resnet19", "fmnist", "uticket"): {"work": 0.73, "idle": 0.00, "latency": 0.05, "utilization": 1.00},
    ("resnet19", "svhn", "lth"): {"work": 1.27, "idle": 1.34, "latency": 0.16, "utilization": 0.30},
    ("resnet19", "svhn", "uticket"): {"work": 0.84, "idle": 0.00, "latency": 0.05, "utilization": 1.00},
}
TABLE_II_SCALE = 1e8  # the table's unit, PE cycles

# Table III: u-Ticket VGG-16 CIFAR10, normalised to 2 PEs (separate pruning runs per column).
TABLE_III_REF = "Table III"
TABLE_III = {
    "n_pe": (2, 4, 8, 16, 32, 64),
    "energy": (1.0, 1.01, 1.02, 0.95, 1.02, 1.04),
    "latency": (1.0, 0.49, 0.25, 0.12, 0.06, 0.03),
}

# Fig. 7(a) / Sec. IV-B3: energy reduction of u-Ticket vs LTH, percent.
FIG7A_REF = "Fig. 7(a), Sec. IV-B3"
FIG7A_ENERGY_REDUCTION = {
    ("vgg16", "cifar10"): 41.8, ("vgg16", "fmnist"): 35.4, ("vgg16", "svhn"): 37.2,
    ("resnet19", "cifar10"): 55.5, ("resnet19", "fmnist"): 63.8, ("resnet19", "svhn"): 56.1,
}

# Numbers quoted in the text.
TEXT = {
    "max_latency_reduction_pct": (76.9, "Abstract"),
    "max_energy_reduction_pct": (63.8, "Abstract"),
    "lth_final_utilization_vgg16_cifar10": (0.59, "Fig. 4, Sec. II-C"),
    "pe_share_of_system_energy_pct_at_95pct_sparsity": (45.0, "Fig. 9(b), Sec. IV-B7 ('~45 %')"),
    "system_energy_saving_pct": (19.0, "Fig. 9(b), Sec. IV-B7 ('approximately 19 %')"),
    "balancing_cost_pct_of_lth_round": (0.11, "Sec. III-A (RTX 2080Ti)"),
    "fifo_area_overhead_pct": (18.0, "Fig. 1"),
    "permuting_network_area_overhead_pct": (13.0, "Fig. 1"),
    "clock_mhz": (400.0, "Sec. IV-A2 (synthesis at 400 MHz, 32 nm)"),
    "n_pe": (16, "Sec. IV-A2"),
    "timesteps": (4, "Sec. IV-A1"),
    "scratchpad_words_16bit": (1024, "Sec. III-B1"),
}


NOT_IN_PAPER = "not in the paper"


def lookup(table: dict, key, field: str | None = None):
    """``table[key][field]`` (or ``table[key]``), None where the paper has no such entry or prints
    none (garbled). Never raises for a missing key: callers show ``NOT_IN_PAPER`` for None."""
    row = table.get(key)
    if row is None:
        return None
    return row if field is None else row.get(field)


def text(value, fmt: str = "{}") -> str:
    """A paper value for display: ``fmt.format(value)``, or ``NOT_IN_PAPER`` for None."""
    return NOT_IN_PAPER if value is None else fmt.format(value)


def spike_sparsity(arch: str, dataset: str, method: str, assumed: bool = True) -> float | None:
    """Table I spike sparsity as a fraction (0..1); garbled entries from ``ASSUMED`` if ``assumed``."""
    v = lookup(TABLE_I, (arch, dataset, method), "spike_sparsity")
    if v is None and assumed:
        v = ASSUMED.get((arch, dataset, method), {}).get("spike_sparsity")
    return None if v is None else v / 100.0


def cycles(arch: str, dataset: str, method: str) -> dict:
    """Table II work / idle / latency in PE cycles (not 1e8), utilization unchanged; {} if not in the paper."""
    row = TABLE_II.get((arch, dataset, method), {})
    return {k: (v * TABLE_II_SCALE if k != "utilization" else v) for k, v in row.items()}
