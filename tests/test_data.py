"""Datasets read through their real on-disk formats, from tiny fixtures the tests write."""
import gzip
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from torchvision import datasets

from uticket_lib import data, paths

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.fixture(autouse=True)
def no_debian_fmnist(tmp_path, monkeypatch):
    """Isolate every test from a Fashion-MNIST Debian package installed on the machine."""
    monkeypatch.setattr(paths, "FMNIST_DEBIAN", tmp_path / "no-debian-package")
    monkeypatch.delenv("UTICKET_DATA", raising=False)


# ---------------------------------------------------------------- CIFAR-10 (python pickles)

def write_cifar_batch(path: Path, labels: list[int]) -> None:
    """Image i is constant per channel: red = 10 * label, green = 100, blue = 200."""
    rows = [np.repeat(np.array([10 * y, 100, 200], np.uint8), 32 * 32) for y in labels]
    batch = {"batch_label": path.name, "labels": labels, "data": np.stack(rows)}  # [n, 3072]
    path.write_bytes(pickle.dumps(batch))


@pytest.fixture
def cifar_root(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", [(i + k) % 10 for k in range(4)])
    write_cifar_batch(folder / "test_batch", list(range(10)))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CLASSES}))
    # torchvision checks every file against the md5 of the real release: register the fixture's
    train = [[f"data_batch_{i}", md5(folder / f"data_batch_{i}")] for i in range(1, 6)]
    monkeypatch.setattr(datasets.CIFAR10, "train_list", train)
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", md5(folder / "test_batch")]])
    monkeypatch.setattr(datasets.CIFAR10, "meta",
                        {**datasets.CIFAR10.meta, "md5": md5(folder / "batches.meta")})
    return folder.parent


def test_cifar10_through_torchvision(cifar_root):
    test = data.dataset("cifar10", train=False, root=str(cifar_root))
    assert isinstance(test, datasets.CIFAR10) and len(test) == 10
    image, label = test[3]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32 and label == 3
    mean, std = torch.tensor([0.4913, 0.4821, 0.4465]), torch.tensor([0.2023, 0.1994, 0.2010])
    expected = (torch.tensor([30.0, 100.0, 200.0]) / 255 - mean) / std
    assert torch.allclose(image, expected[:, None, None].expand(3, 32, 32), atol=1e-6)
    train = data.dataset("cifar10", train=True, root=str(cifar_root), augment=False)
    assert len(train) == 20 and [train[i][1] for i in range(4)] == [1, 2, 3, 4]


def test_cifar10_augmentation_keeps_shape_and_cuts_a_hole(cifar_root):
    torch.manual_seed(0)
    train = data.dataset("cifar10", train=True, root=str(cifar_root))
    images = torch.stack([train[i][0] for i in range(len(train))])
    assert images.shape == (20, 3, 32, 32)
    black = (torch.zeros(3) - torch.tensor([0.4913, 0.4821, 0.4465])) / torch.tensor(
        [0.2023, 0.1994, 0.2010])                  # zero padding or Cutout, after Normalize
    is_black = torch.isclose(images, black[None, :, None, None], atol=1e-5).all(dim=1)
    assert is_black.flatten(1).sum(1).min() >= 8 * 8  # Cutout blacks out at least a corner patch


def test_cifar10_with_a_corrupted_file_is_missing(cifar_root):
    (cifar_root / "cifar-10-batches-py" / "test_batch").write_bytes(b"truncated")
    with pytest.raises(data.DataMissingError, match="md5"):
        data.dataset("cifar10", train=False, root=str(cifar_root))


# ---------------------------------------------------------------- SVHN (MATLAB files)

@pytest.fixture
def svhn_root(tmp_path, monkeypatch):
    folder = tmp_path / "data" / "svhn"
    folder.mkdir(parents=True)
    for split, n in (("train", 6), ("test", 4)):
        x = np.broadcast_to(np.arange(n, dtype=np.uint8) * 40, (32, 32, 3, n)).copy()  # [H,W,C,N]
        y = np.array([[10]] + [[k] for k in range(1, n)], np.uint8)     # 10 is the digit 0
        path = folder / f"{split}_32x32.mat"
        scipy.io.savemat(path, {"X": x, "y": y})
        url, name, _ = datasets.SVHN.split_list[split]
        monkeypatch.setitem(datasets.SVHN.split_list, split, [url, name, md5(path)])
    return folder.parent


def test_svhn_through_torchvision(svhn_root):
    train = data.dataset("svhn", train=True, root=str(svhn_root), augment=False)
    assert isinstance(train, datasets.SVHN) and len(train) == 6
    assert [train[i][1] for i in range(6)] == [0, 1, 2, 3, 4, 5]
    image, _ = train[2]
    assert image.shape == (3, 32, 32) and image.dtype == torch.float32
    assert torch.allclose(image, torch.full((3, 32, 32), (80 / 255 - 0.5) / 0.5))
    assert len(data.dataset("svhn", train=False, root=str(svhn_root))) == 4


# ---------------------------------------------------------------- Fashion-MNIST (gzipped IDX)

def write_idx(path: Path, array: np.ndarray) -> None:
    """IDX: 0x0000, type 0x08 (uint8), ndim, big-endian uint32 dims, then the bytes (gzipped)."""
    header = bytes([0, 0, 8, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def write_fmnist(folder: Path, n_train: int = 12, n_test: int = 5) -> Path:
    """Image i is constant with value 20 * label; labels cycle 0..9."""
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = np.arange(n) % 10
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz",
                  np.broadcast_to(20 * labels[:, None, None], (n, 28, 28)))
    return folder


def test_idx_header_magic_numbers(tmp_path):
    folder = write_fmnist(tmp_path / "raw")
    assert (gzip.open(folder / "t10k-labels-idx1-ubyte.gz").read(4) == (2049).to_bytes(4, "big"))
    assert (gzip.open(folder / "t10k-images-idx3-ubyte.gz").read(4) == (2051).to_bytes(4, "big"))
    assert data.read_idx(folder / "t10k-images-idx3-ubyte.gz").shape == (5, 28, 28)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(b"\x00\x00\x0d\x01" + bytes(8)))  # float32
    with pytest.raises(ValueError, match="not an IDX file of unsigned bytes"):
        data.read_idx(tmp_path / "bad.gz")


def test_fmnist_from_root(tmp_path):
    write_fmnist(tmp_path / "data" / "FashionMNIST" / "raw")
    test = data.dataset("fmnist", train=False, root=str(tmp_path / "data"))
    assert len(test) == 5
    image, label = test[3]
    assert image.shape == (1, 32, 32) and image.dtype == torch.float32 and label == 3
    assert torch.allclose(image, torch.full((1, 32, 32), (60 / 255 - 0.5) / 0.5))  # resized 28->32
    train = data.dataset("fmnist", train=True, root=str(tmp_path / "data"))
    assert len(train) == 12 and train[0][0].shape == (1, 32, 32)


def test_fmnist_from_uticket_data(tmp_path, monkeypatch):
    write_fmnist(tmp_path / "env-root" / "FashionMNIST" / "raw", n_test=7)
    monkeypatch.setenv("UTICKET_DATA", str(tmp_path / "env-root"))
    assert len(data.dataset("fmnist", train=False)) == 7


def test_fmnist_falls_back_to_the_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "FMNIST_DEBIAN", write_fmnist(tmp_path / "debian", n_test=6))
    test = data.dataset("fmnist", train=False, root=str(tmp_path / "empty"))
    assert len(test) == 6 and test[5][1] == 5


@pytest.mark.skipif(not (paths.FMNIST_DEBIAN / "t10k-labels-idx1-ubyte.gz").is_file(),
                    reason="Debian package dataset-fashion-mnist not installed")
def test_real_fmnist_debian_test_split(tmp_path, monkeypatch):
    monkeypatch.undo()  # the real /usr/share/datasets/fashion-mnist
    test = data.dataset("fmnist", train=False, root=str(tmp_path))
    assert len(test) == 10_000
    assert [test[i][1] for i in range(5)] == [9, 2, 1, 1, 6]  # ankle boot, pullover, trouser, ...


def test_subsets_are_seeded(tmp_path):
    write_fmnist(tmp_path / "FashionMNIST" / "raw")
    def indices(seed):
        return data.dataset("fmnist", True, root=str(tmp_path), subset=5, subset_seed=seed).indices
    assert indices(0) == indices(0) and len(set(indices(0))) == 5
    assert indices(0) != indices(1)
    subset = data.dataset("fmnist", True, root=str(tmp_path), augment=False, subset=5)
    assert [subset[i][1] for i in range(5)] == [i % 10 for i in indices(0)]
    with pytest.raises(ValueError, match="subset=13"):
        data.dataset("fmnist", True, root=str(tmp_path), subset=13)


# ---------------------------------------------------------------- errors and metadata

def test_missing_fmnist_says_what_where_and_how(tmp_path):
    with pytest.raises(data.DataMissingError) as err:
        data.dataset("fmnist", train=True, root=str(tmp_path / "empty"))
    message = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    for part in ("'fmnist'", "train split", str(tmp_path / "empty" / "FashionMNIST" / "raw"),
                 str(paths.FMNIST_DEBIAN), "UTICKET_DATA", "--set data.download=true",
                 "apt-get install dataset-fashion-mnist"):
        assert part in message


def test_failed_fmnist_download_is_reported(tmp_path, monkeypatch):
    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz")
    monkeypatch.setattr(data.datasets, "FashionMNIST", offline)
    with pytest.raises(data.DataMissingError, match="download failed: RuntimeError: Error downl"):
        data.dataset("fmnist", train=True, root=str(tmp_path), download=True)


@pytest.mark.parametrize("name, where", [("cifar10", "cifar-10-batches-py"),
                                         ("svhn", "svhn/test_32x32.mat")])
def test_missing_torchvision_data(tmp_path, name, where):
    with pytest.raises(data.DataMissingError) as err:
        data.dataset(name, train=False, root=str(tmp_path))
    assert str(tmp_path / where) in str(err.value) and "apt-get" not in str(err.value)


def test_unknown_dataset():
    choices = "unknown dataset 'mnist'; choose one of: cifar10, fmnist, svhn"
    with pytest.raises(ValueError, match=choices):
        data.dataset("mnist", train=True)


def test_dataset_specs():
    assert {k: (v.in_channels, v.num_classes) for k, v in data.DATASETS.items()} == {
        "fmnist": (1, 10), "cifar10": (3, 10), "svhn": (3, 10)}


def test_cutout_zeroes_one_clipped_square():
    torch.manual_seed(0)
    for _ in range(50):
        out = data.Cutout(16)(torch.ones(3, 32, 32))
        holes = out == 0
        assert torch.equal(holes[0], holes[1]) and torch.equal(holes[0], holes[2])
        rows, cols = holes[0].any(1).nonzero().flatten(), holes[0].any(0).nonzero().flatten()
        assert holes[0].sum() == len(rows) * len(cols)            # one axis-aligned rectangle
        assert 8 <= len(rows) <= 16 and 8 <= len(cols) <= 16     # clipped at the borders


def test_materialize_keeps_every_item_in_order():
    ds = torch.utils.data.TensorDataset(torch.rand(7, 1, 32, 32), torch.arange(7) % 3)
    m = data.materialize(ds, batch=3)
    assert torch.equal(m.tensors[0], ds.tensors[0]) and torch.equal(m.tensors[1], ds.tensors[1])
    assert m.tensors[1].dtype == torch.int64


def test_validation_split_is_disjoint_and_keeps_the_training_subset():
    train, val = data.split_indices(100, 20, 30, seed=3)
    assert len(train) == 30 and len(val) == 20 and not set(train) & set(val)
    order = torch.randperm(100, generator=torch.Generator().manual_seed(3))
    assert train == sorted(order[:30].tolist())          # the same images as _subset(…, 30, 3)
    train_all, val_frac = data.split_indices(100, 0.1, None, seed=3)
    assert len(val_frac) == 10 and len(train_all) == 90 and not set(train_all) & set(val_frac)
    with pytest.raises(ValueError, match="do not fit"):
        data.split_indices(100, 20, 90, seed=3)
