"""Accelerator model: PE workload (Eq. 2), cycles (Table II), energy (Eq. 3), memory (Fig. 9).

Works on masks ({weight name: 0/1 tensor}) and traced layer geometry, never on a model class.
Imports nothing from uticket_lib.models / data / pruning / training.
"""
from .cycles import (CYCLE_MODES, EVENT_MODES, MODES, STATIC_MODES, CycleMode, block_cycles,
                     filter_cycles, record_inputs, valid_taps)
from .energy import CLOCK_HZ, PRESETS, Constant, EnergyModel, breakdown, eq3, fit_leak_ratio, preset
from .geometry import HardwareInputError, Layer, check_masks, trace
from .reorder import lpt, permutation, reorder_layers
from .report import covered_layers, report
from .workload import filter_loads, layer_stats, network_stats, pe_blocks, utilization, layer_workload

__all__ = [
    "CYCLE_MODES", "EVENT_MODES", "MODES", "STATIC_MODES", "CycleMode", "block_cycles", "filter_cycles", "record_inputs", "valid_taps",
    "CLOCK_HZ", "PRESETS", "Constant", "EnergyModel", "breakdown", "eq3", "fit_leak_ratio", "preset",
    "HardwareInputError", "Layer", "check_masks", "trace",
    "lpt", "permutation", "reorder_layers",
    "covered_layers", "report",
    "filter_loads", "layer_stats", "network_stats", "pe_blocks", "utilization", "layer_workload",
]
