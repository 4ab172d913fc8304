"""The paper's three datasets with the released code's transforms.

``dataset(name, train, ...)`` returns a ``torch.utils.data.Dataset`` of
``(image [C, 32, 32] float32, label int)``. Files are looked for under the data root
(``paths.data_root``: the ``root`` argument, else ``$UTICKET_DATA``, else
``~/.cache/uticket/data``):

- cifar10: ``<root>/cifar-10-batches-py/`` (torchvision's layout: the python pickles);
- svhn:    ``<root>/svhn/{train,test}_32x32.mat`` (label 10 = digit 0; torchvision maps it to 0);
- fmnist:  ``<root>/FashionMNIST/raw/*-ubyte.gz`` (torchvision's layout), else the Debian package
  ``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist/``.
"""
from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset, Subset, TensorDataset
from torchvision import datasets, transforms as tf

from . import paths


class DataMissingError(FileNotFoundError):
    """A dataset is not on disk and could not be downloaded."""


class Cutout:
    """Zero one ``length`` x ``length`` square of a ``[C, H, W]`` tensor (all channels).

    The centre is uniform over the image and the square is clipped at the borders, as in the
    released code, which applies it to the [0, 1] tensor before ``Normalize``. Draws from torch's
    RNG, which DataLoader seeds differently in every worker.
    """

    def __init__(self, length: int = 16):
        self.length = length

    def __call__(self, img: torch.Tensor) -> torch.Tensor:
        h, w = img.shape[-2:]
        y, x = int(torch.randint(h, ())), int(torch.randint(w, ()))  # centre (row, column), px
        half = self.length // 2
        out = img.clone()
        out[..., max(0, y - half):y + half, max(0, x - half):x + half] = 0.0
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(length={self.length})"


@dataclass(frozen=True)
class DatasetSpec:
    """What a model and a training loop need to know about a dataset."""

    in_channels: int
    num_classes: int
    train_transform: Callable   # PIL image -> [C, 32, 32] float tensor, with augmentation
    test_transform: Callable    # PIL image -> [C, 32, 32] float tensor, deterministic


# Normalisation constants of the released code. CIFAR-10's std is the widely copied
# (0.2023, 0.1994, 0.2010), not the per-channel std of the training set (0.247, 0.243, 0.261).
_CIFAR10_NORM = tf.Normalize((0.4913, 0.4821, 0.4465), (0.2023, 0.1994, 0.2010))
_HALF_NORM_RGB = tf.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
_HALF_NORM_GREY = tf.Normalize((0.5,), (0.5,))

# (training, test) images of each full split, as torchvision's loaders return them (the datasets'
# own documentation: CIFAR-10 50,000/10,000; Fashion-MNIST 60,000/10,000; SVHN train 73,257 / test 26,032).
SPLIT_SIZES = {"cifar10": (50_000, 10_000), "fmnist": (60_000, 10_000), "svhn": (73_257, 26_032)}

DATASETS = {
    "fmnist": DatasetSpec(
        in_channels=1, num_classes=10,
        train_transform=tf.Compose([tf.RandomHorizontalFlip(), tf.Resize(32),
                                    tf.RandomCrop(32, padding=4), tf.ToTensor(), _HALF_NORM_GREY]),
        test_transform=tf.Compose([tf.Resize(32), tf.ToTensor(), _HALF_NORM_GREY]),
    ),
    "cifar10": DatasetSpec(
        in_channels=3, num_classes=10,
        train_transform=tf.Compose([tf.RandomCrop(32, padding=4), tf.RandomHorizontalFlip(),
                                    tf.ToTensor(), Cutout(16), _CIFAR10_NORM]),
        test_transform=tf.Compose([tf.ToTensor(), _CIFAR10_NORM]),
    ),
    "svhn": DatasetSpec(
        in_channels=3, num_classes=10,
        train_transform=tf.Compose([tf.RandomCrop(32, padding=4), tf.RandomHorizontalFlip(),
                                    tf.ToTensor(), _HALF_NORM_RGB]),
        test_transform=tf.Compose([tf.ToTensor(), _HALF_NORM_RGB]),
    ),
}


def spec(name: str) -> DatasetSpec:
    """The ``DATASETS`` entry for ``name``; ValueError listing the choices if unknown."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def dataset(name: str, train: bool, root: str | None = None, download: bool = False,
            augment: bool = True, subset: int | None = None, subset_seed: int = 0,
            subset_key: str = "subset") -> Dataset:
    """Training or test split of ``name`` as ``(image [C, 32, 32] float32, label int)`` pairs.

    ``augment=False`` uses the test transforms for the training split too. ``subset=n`` keeps a
    fixed random choice of ``n`` samples (seeded by ``subset_seed``). Raises ``DataMissingError``
    when the files are absent and ``download`` is off or fails. ``subset_key`` names the setting
    in the error for a subset larger than the split (e.g. ``data.train_subset``).
    """
    entry = spec(name)
    transform = entry.train_transform if train and augment else entry.test_transform
    full = _OPENERS[name](paths.data_root(root), train, download, transform)
    return full if subset is None else _subset(full, subset, subset_seed, subset_key)


def materialize(ds: Dataset, batch: int = 1000) -> TensorDataset:
    """``ds`` as one ``TensorDataset`` (images ``[N, C, 32, 32]`` float32, labels ``[N]`` int64).

    Runs the transform once per image, so it is only for datasets with deterministic transforms
    (the test split, or ``augment=False``): evaluating a materialised test set at every level
    then costs the model alone.
    """
    images, labels = [], []
    for i in range(0, len(ds), batch):
        items = [ds[j] for j in range(i, min(i + batch, len(ds)))]
        images.append(torch.stack([x for x, _ in items]))
        labels.append(torch.tensor([int(y) for _, y in items], dtype=torch.int64))
    return TensorDataset(torch.cat(images), torch.cat(labels))


def validation_size(val_split: int | float, n_total: int) -> int:
    """Images held out for validation: ``val_split`` itself (int) or ``round(fraction * n_total)``."""
    n = round(val_split * n_total) if isinstance(val_split, float) else int(val_split)
    if not 1 <= n < n_total:
        raise ValueError(f"validation split of {n} images is outside 1..{n_total - 1} "
                         f"(the training split has {n_total}); set data.val_split smaller")
    return n


def split_indices(n_total: int, val_split: int | float, subset: int | None, seed: int
                  ) -> tuple[list[int], list[int]]:
    """(train indices, validation indices) into a training split of ``n_total`` samples.

    One permutation seeded by ``seed`` (the one ``_subset`` draws): validation = its last
    ``validation_size`` entries, training = its first ``subset`` entries (all the others when
    ``subset`` is None). So the training subset is the same images as without a validation split
    and the two are disjoint. Both lists are sorted.
    """
    n_val = validation_size(val_split, n_total)
    n_train = n_total - n_val if subset is None else subset
    if not 1 <= n_train <= n_total - n_val:
        raise ValueError(f"data.train_subset={subset} and data.val_split={val_split} do not fit in "
                         f"the {n_total} training images; lower one of them")
    order = torch.randperm(n_total, generator=torch.Generator().manual_seed(seed))
    return (order[:n_train].sort().values.tolist(), order[n_total - n_val:].sort().values.tolist())


def train_val(name: str, val_split: int | float, root: str | None = None, download: bool = False,
              augment: bool = True, subset: int | None = None, subset_seed: int = 0
              ) -> tuple[Subset, Subset]:
    """Training subset (training transforms) and a disjoint, seeded validation split of the
    training set (test transforms, no augmentation); see ``split_indices``."""
    train_full = dataset(name, train=True, root=root, download=download, augment=augment)
    val_full = dataset(name, train=True, root=root, download=download, augment=False)
    train_idx, val_idx = split_indices(len(train_full), val_split, subset, subset_seed)
    return Subset(train_full, train_idx), Subset(val_full, val_idx)


def _subset(full: Dataset, n: int, seed: int, key: str = "subset") -> Subset:
    """``n`` distinct samples of ``full`` drawn by a ``torch.Generator`` seeded with ``seed``."""
    if not 1 <= n <= len(full):
        raise ValueError(f"{key}={n} is outside 1..{len(full)} (the size of the split); "
                         f"set {key} smaller or to none (all)")
    order = torch.randperm(len(full), generator=torch.Generator().manual_seed(seed))
    return Subset(full, order[:n].sort().values.tolist())


def _missing(name: str, train: bool, looked: list[str], download_error: Exception | None = None
             ) -> DataMissingError:
    """The one error for absent data: what, where it was looked for, how to get it."""
    split = "train" if train else "test"
    fixes = ["put the files there",
             "point $UTICKET_DATA, the root argument or `--set data.root=DIR` at a directory "
             "that holds them",
             "run with `--set data.download=true` on a machine with internet access"]
    if name == "fmnist":
        fixes.append("`apt-get install dataset-fashion-mnist` (Debian/Ubuntu)")
    message = (f"dataset {name!r} ({split} split) not found; looked in: {', '.join(looked)}. "
               f"To fix: {'; or '.join(fixes)}.")
    if download_error is not None:
        message += f" The download failed: {type(download_error).__name__}: {download_error}"
    return DataMissingError(message)


def _cifar10(root: Path, train: bool, download: bool, transform: Callable) -> Dataset:
    try:
        return datasets.CIFAR10(root, train=train, transform=transform, download=download)
    except (RuntimeError, OSError) as err:  # not found / md5 mismatch / download failed
        looked = f"{root / datasets.CIFAR10.base_folder} (files checked against torchvision's md5)"
        raise _missing("cifar10", train, [looked], err if download else None) from err


def _svhn(root: Path, train: bool, download: bool, transform: Callable) -> Dataset:
    folder = root / "svhn"
    split = "train" if train else "test"
    try:
        return datasets.SVHN(folder, split=split, transform=transform, download=download)
    except (RuntimeError, OSError) as err:
        looked = f"{folder / f'{split}_32x32.mat'} (checked against torchvision's md5)"
        raise _missing("svhn", train, [looked], err if download else None) from err


# Data roots already warned about in this process (one line each).
_WARNED: set[str] = set()


def _fallback_warning(root: Path, used: Path) -> None:
    """One line on stderr when a root the user chose does not hold the files and another is used."""
    if str(root) not in _WARNED:
        _WARNED.add(str(root))
        print(f"uticket: warning: {root} holds no Fashion-MNIST files; reading them from {used}",
              file=sys.stderr, flush=True)


def _fmnist(root: Path, train: bool, download: bool, transform: Callable) -> Dataset:
    local = root / "FashionMNIST" / "raw"
    for folder in (local, paths.FMNIST_DEBIAN):
        if all(p.is_file() for p in _idx_files(folder, train)):
            if folder != local and root != paths.default_data_root():  # a root the user chose
                _fallback_warning(root, folder)
            return IdxDataset(*_idx_files(folder, train), transform=transform)
    download_error = None
    if download:
        try:
            datasets.FashionMNIST(root, train=train, download=True)  # keeps the .gz files in raw/
            return IdxDataset(*_idx_files(local, train), transform=transform)
        except (RuntimeError, OSError) as err:
            download_error = err
    looked = [str(local), str(paths.FMNIST_DEBIAN)]
    raise _missing("fmnist", train, looked, download_error) from download_error


_OPENERS = {"fmnist": _fmnist, "cifar10": _cifar10, "svhn": _svhn}


def _idx_files(folder: Path, train: bool) -> tuple[Path, Path]:
    """(images, labels) gzipped IDX files of the MNIST family for one split."""
    prefix = "train" if train else "t10k"
    return folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz"


def read_idx(path: Path) -> np.ndarray:
    """A gzipped IDX file of unsigned bytes as a uint8 array of the shape in its header.

    Header: two zero bytes, type code 0x08 (uint8), number of dims, then each dim as a big-endian
    uint32 (labels: magic 2049, ``[N]``; images: magic 2051, ``[N, rows, cols]``).
    """
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (header {raw[:4].hex()})")
    ndim = raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape}, found {data.size} bytes of data")
    return data.reshape(shape)


class IdxDataset(Dataset):
    """Greyscale images + labels from two gzipped IDX files: ``(transform(PIL 'L'), int)``."""

    def __init__(self, images: Path, labels: Path, transform: Callable):
        self.images = read_idx(images)             # [N, 28, 28] uint8
        self.labels = read_idx(labels)             # [N] uint8
        if self.images.ndim != 3 or len(self.images) != len(self.labels):
            raise ValueError(f"{images} / {labels}: shapes {self.images.shape} and "
                             f"{self.labels.shape} do not form an image dataset")
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.transform(Image.fromarray(self.images[index])), int(self.labels[index])
