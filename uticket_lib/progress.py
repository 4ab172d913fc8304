"""Build progress a person can read: one line per finished run level, outside the notebooks.

When ``$UTICKET_PROGRESS`` names a file, :func:`level_done` appends one line to it per finished
level (run name, level k/L, sparsity, accuracy, seconds, images/s and an estimate of the run's
remaining time). ``ci/run_notebooks.py`` sets the variable for the kernels it starts and prints the
file's new lines to the build console while a chapter executes, so the lines never reach the
rendered pages (a kernel's stdout/stderr goes into the notebook). Without the variable nothing is
written; ``uticket run`` keeps its tqdm bars instead.

Lines are appended with a single ``write`` of a whole line in append mode (``O_APPEND``), so a
reader never sees half a line from one writer, and a missing or unwritable file never breaks a run.
"""
from __future__ import annotations

import os

ENV = "UTICKET_PROGRESS"


def format_level(run: str, level: int, levels: int, sparsity: float, accuracy: float,
                 seconds: float, images_per_s: float | None) -> str:
    """One human-readable progress line (no newline).

    ``level`` counts from 0 (the dense network); the line shows it as ``k/L`` with L = levels - 1
    (just ``level 0`` for a one-level run), and the remaining time of the run as (levels still to
    train) x (this level's seconds).
    """
    left = max(levels - 1 - level, 0)
    ips = f"{images_per_s:,.0f} img/s" if images_per_s else "- img/s"
    eta = f", run ~{fmt_seconds(left * seconds)} left" if left else ", run done"
    where = f"level {level}/{levels - 1}" if levels > 1 else f"level {level}"
    return (f"{run}: {where}, sparsity {100 * sparsity:.1f} %, "
            f"accuracy {100 * accuracy:.1f} %, {fmt_seconds(seconds)}, {ips}{eta}")


def emit(line: str) -> bool:
    """Append ``line`` to ``$UTICKET_PROGRESS``; False (and nothing written) when unset or unwritable."""
    path = os.environ.get(ENV)
    if not path:
        return False
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line.rstrip("\n") + "\n").encode())
        finally:
            os.close(fd)
    except OSError:
        return False
    return True


def level_done(run: str, level: int, levels: int, metrics: dict) -> bool:
    """Report a finished level from its metrics dict (see ``levelmetrics.level_metrics``)."""
    return emit(format_level(run, level, levels, metrics.get("sparsity", 0.0),
                             metrics.get("test_accuracy", 0.0), metrics.get("seconds", 0.0),
                             metrics.get("train_images_per_s")))


def fmt_seconds(seconds: float) -> str:
    """3.2 -> '3.2 s'; 75 -> '1 min 15 s'; 3725 -> '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, sec = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {sec:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
