"""The datasets of a run: what ``cfg.data`` names, with the validation split carved out.

``load_datasets(cfg)`` reads them (``data.dataset`` / ``data.train_val``); ``with_validation`` does
the same split on datasets a caller passes in; ``validation_record`` is what ``validation.json``
stores. A subset larger than its split is refused naming its key (``data.train_subset``).
"""
from __future__ import annotations

from torch.utils.data import Dataset, Subset

from . import data as datalib
from .config import RunConfig


def load_datasets(cfg: RunConfig) -> tuple[Dataset, ...]:
    """(train, test), or (train, test, validation) when ``data.val_split`` is set.

    Without augmentation (``data.augment`` false) the training images are materialised once
    (``data.materialize``: the same tensors the per-image transforms give, so the same training), and
    an epoch reads tensors instead of decoding and resizing every image again."""
    train, *rest = _load(cfg)
    if not cfg.data.augment:
        train = datalib.materialize(train)
    return (train, *rest)


def _load(cfg: RunConfig) -> tuple[Dataset, ...]:
    d = cfg.data
    test = datalib.dataset(d.dataset, train=False, root=d.root, download=d.download,
                           augment=False, subset=d.test_subset, subset_seed=d.subset_seed,
                           subset_key="data.test_subset")
    if d.val_split is not None:
        train, val = datalib.train_val(d.dataset, d.val_split, root=d.root, download=d.download,
                                       augment=d.augment, subset=d.train_subset,
                                       subset_seed=d.subset_seed)
        return train, test, val
    train = datalib.dataset(d.dataset, train=True, root=d.root, download=d.download,
                            augment=d.augment, subset=d.train_subset, subset_seed=d.subset_seed,
                            subset_key="data.train_subset")
    return train, test


def with_validation(cfg: RunConfig, datasets: tuple[Dataset, ...]) -> tuple[Dataset, ...]:
    """Datasets passed in by a caller as (train, test): with ``data.val_split`` set, carve the
    validation split out of ``train`` (``data.split_indices``, seeded by ``data.subset_seed``)."""
    if cfg.data.val_split is None or len(datasets) == 3:
        return tuple(datasets)
    train, test = datasets
    train_idx, val_idx = datalib.split_indices(len(train), cfg.data.val_split, None,
                                               cfg.data.subset_seed)
    return Subset(train, train_idx), test, Subset(train, val_idx)


def validation_record(cfg: RunConfig, datasets: tuple[Dataset, ...]) -> dict | None:
    """What ``validation.json`` stores: the split's seed, size and indices into the training split."""
    if len(datasets) < 3:
        return None
    val = datasets[2]
    indices = list(val.indices) if isinstance(val, Subset) else None
    return {"val_split": cfg.data.val_split, "seed": cfg.data.subset_seed, "size": len(val),
            "indices": [int(i) for i in indices] if indices is not None else None}
