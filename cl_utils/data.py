"""Datasets as uint8 tensors: the ``<name>.npz`` cache, torchvision, or synthetic.

Every dataset comes back as a :class:`RawDataset` of uint8 images shaped
``(N, H, W, C)`` and int64 labels, exactly the cache format of the book
(``x_train``, ``y_train``, ``x_test``, ``y_test``, ``classes``; see the README's data section).

Sources, chosen by ``data_source``:

* ``"auto"``: the cache file ``<data dir>/<name>.npz`` if present, else a
  torchvision download that is converted and written to the cache.
* ``"cache"``: the cache file only.
* ``"torchvision"``: download (or reuse torchvision's own files) and refresh the cache.
* ``"synthetic"``: a small deterministic, learnable stand-in of the same image
  shape and number of classes. For tests only: it is never chosen silently.

When no real source works, :class:`DataUnavailableError` says where it looked
and how to provide the data.

Why one module (over 300 lines): every source (cache, torchvision, synthetic) produces the one cache
format and its checksum, which is defined once, here.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from .paths import data_dir

__all__ = [
    "DATASETS",
    "DATA_SOURCES",
    "dataset_identity",
    "DataUnavailableError",
    "DatasetInfo",
    "RawDataset",
    "load_dataset",
    "read_cache",
    "write_cache",
    "synthetic_dataset",
    "convert_torchvision",
]


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset: image shape, class count, torchvision class."""

    height: int
    width: int
    channels: int
    num_classes: int
    torchvision_name: str


DATASETS: dict[str, DatasetInfo] = {
    "mnist": DatasetInfo(28, 28, 1, 10, "MNIST"),
    "fashion_mnist": DatasetInfo(28, 28, 1, 10, "FashionMNIST"),
    "kmnist": DatasetInfo(28, 28, 1, 10, "KMNIST"),
    "emnist": DatasetInfo(28, 28, 1, 47, "EMNIST"),  # the "balanced" split
    "svhn": DatasetInfo(32, 32, 3, 10, "SVHN"),
    "cifar10": DatasetInfo(32, 32, 3, 10, "CIFAR10"),
    "cifar100": DatasetInfo(32, 32, 3, 100, "CIFAR100"),
}
DATA_SOURCES = ("auto", "cache", "torchvision", "synthetic")


class DataUnavailableError(FileNotFoundError):
    """Raised when a dataset is neither in the cache nor downloadable."""


@dataclass(frozen=True)
class RawDataset:
    """A dataset in the cache format, as CPU tensors (uint8 NHWC images, int64 labels)."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    classes: tuple[str, ...]
    source: str  # "cache", "torchvision" or "synthetic": shown in captions

    @property
    def num_classes(self) -> int:
        return len(self.classes)


def _check_name(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}")
    return DATASETS[name]


def read_cache(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read and check a ``<name>.npz`` cache file; return its five arrays."""
    with np.load(path, allow_pickle=False) as f:
        missing = {"x_train", "y_train", "x_test", "y_test", "classes"} - set(f.files)
        if missing:
            raise ValueError(f"{path}: cache file lacks keys {sorted(missing)}")
        arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test", "classes")}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 4:
            raise ValueError(f"{path}: x_{split} must be uint8 (N, H, W, C), got {x.dtype} {x.shape}")
        if len(x) != len(y):
            raise ValueError(f"{path}: x_{split} and y_{split} differ in length")
    return arrays


def write_cache(path: str | os.PathLike, arrays: dict[str, Any]) -> None:
    """Write arrays in the cache format, atomically (temp file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz.tmp")
    os.close(fd)
    try:
        with open(tmp, "wb") as f:
            np.savez_compressed(
                f,
                x_train=np.asarray(arrays["x_train"], dtype=np.uint8),
                y_train=np.asarray(arrays["y_train"], dtype=np.int64),
                x_test=np.asarray(arrays["x_test"], dtype=np.uint8),
                y_test=np.asarray(arrays["y_test"], dtype=np.int64),
                classes=np.asarray(list(arrays["classes"]), dtype=str),
            )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _as_nhwc_uint8(images: Any, name: str) -> np.ndarray:
    """torchvision stores images as (N,H,W) tensors, (N,H,W,C) or (N,C,H,W) arrays."""
    x = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if x.ndim == 3:
        x = x[..., None]
    elif x.ndim == 4 and x.shape[1] in (1, 3) and x.shape[-1] not in (1, 3):
        x = x.transpose(0, 2, 3, 1)  # SVHN: (N, C, H, W)
    if name == "emnist":  # torchvision's EMNIST arrays are transposed
        x = x.transpose(0, 2, 1, 3)
    return np.ascontiguousarray(x, dtype=np.uint8)


def convert_torchvision(name: str, train: Any, test: Any) -> dict[str, np.ndarray]:
    """Convert a pair of torchvision datasets into cache-format arrays.

    Works on the attributes torchvision exposes (``data`` plus ``targets`` or
    ``labels``, and ``classes`` where the dataset has them), so it can be tested
    with stand-in objects and no network.
    """
    info = _check_name(name)
    out: dict[str, np.ndarray] = {}
    for split, ds in (("train", train), ("test", test)):
        labels = getattr(ds, "targets", None)
        if labels is None:
            labels = ds.labels
        out[f"x_{split}"] = _as_nhwc_uint8(ds.data, name)
        out[f"y_{split}"] = np.asarray(labels, dtype=np.int64)
    classes = getattr(train, "classes", None) or [str(i) for i in range(info.num_classes)]
    out["classes"] = np.asarray(list(classes), dtype=str)
    return out


#: seconds a download may wait for the server to connect or to send more bytes ($CL_DOWNLOAD_TIMEOUT)
DOWNLOAD_TIMEOUT = 30.0
#: further attempts after a failed download ($CL_DOWNLOAD_RETRIES)
DOWNLOAD_RETRIES = 2


def _download_urls(name: str) -> list[str]:
    """The addresses torchvision downloads ``name`` from (for error messages)."""
    import torchvision.datasets as tvd

    cls = getattr(tvd, DATASETS[name].torchvision_name)
    if hasattr(cls, "mirrors") and hasattr(cls, "resources"):
        return [f"{m}{cls.resources[0][0]}" for m in cls.mirrors]
    urls = [getattr(cls, "url", None)] + [v[0] for v in getattr(cls, "split_list", {}).values()]
    return [u for u in urls if isinstance(u, str)]


def _download_torchvision(name: str, root: Path) -> dict[str, np.ndarray]:
    """Download ``name`` with torchvision, with a connect/read timeout and a bounded number of retries.

    torchvision's downloads have no timeout, so a server that accepts and then sends nothing would hang
    forever; the socket default timeout bounds every wait. Only the converted arrays reach the cache
    file (written atomically by :func:`write_cache`), and torchvision checks each archive's checksum,
    so a partial download is never used.
    """
    import socket

    timeout = float(os.environ.get("CL_DOWNLOAD_TIMEOUT", DOWNLOAD_TIMEOUT))
    retries = int(os.environ.get("CL_DOWNLOAD_RETRIES", DOWNLOAD_RETRIES))
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)
    try:
        for attempt in range(retries + 1):
            try:
                return _torchvision_arrays(name, root)
            except Exception:
                if attempt == retries:
                    raise
    finally:
        socket.setdefaulttimeout(previous)
    raise AssertionError("unreachable")


def _torchvision_arrays(name: str, root: Path) -> dict[str, np.ndarray]:
    import torchvision.datasets as tvd  # imported lazily: only needed for downloads

    cls = getattr(tvd, DATASETS[name].torchvision_name)
    raw = root / "torchvision"
    if name == "svhn":
        make: Callable[[bool], Any] = lambda train: cls(raw, split="train" if train else "test", download=True)
    elif name == "emnist":
        make = lambda train: cls(raw, split="balanced", train=train, download=True)
    else:
        make = lambda train: cls(raw, train=train, download=True)
    return convert_torchvision(name, make(True), make(False))


SYNTHETIC_VERSION = 1  # bump when synthetic_dataset changes what it draws


def synthetic_dataset(name: str, n_train: int = 2000, n_test: int = 500, seed: int = 0) -> dict[str, np.ndarray]:
    """A deterministic, learnable stand-in with the image shape and classes of ``name``.

    Each class has a smooth random prototype image; samples are the prototype
    with random brightness, a small shift and pixel noise. A linear model reaches
    high accuracy on it, so training code can be tested end to end. For tests only.
    """
    info = _check_name(name)
    rng = np.random.default_rng(zlib.crc32(name.encode()) + seed)
    coarse = rng.random((info.num_classes, 7, 7, info.channels))
    reps = (info.height + 6) // 7
    protos = np.kron(coarse, np.ones((1, reps, reps, 1)))[:, : info.height, : info.width]

    def sample(n: int) -> tuple[np.ndarray, np.ndarray]:
        y = np.arange(n) % info.num_classes
        rng.shuffle(y)
        x = protos[y] * rng.uniform(0.6, 1.0, (n, 1, 1, 1))
        x = np.roll(x, rng.integers(-1, 2), axis=1)
        x = x + rng.normal(0, 0.15, x.shape)
        return (np.clip(x, 0, 1) * 255).astype(np.uint8), y.astype(np.int64)

    x_train, y_train = sample(n_train)
    x_test, y_test = sample(n_test)
    classes = np.asarray([f"synthetic-{i}" for i in range(info.num_classes)], dtype=str)
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test, classes=classes)


def _missing_message(name: str, path: Path, reason: str, urls: Sequence[str] = ()) -> str:
    tried = f"  Tried: {', '.join(urls)}.\n" if urls else ""
    return (
        f"dataset {name!r} is not available: {reason}.\n{tried}"
        f"  Looked for the cache file {path} (data dir = $CL_DATA_DIR or <project>/data).\n"
        f"  To fix: connect to the internet so torchvision can download it (data_source='auto' or "
        f"'torchvision'), or place {name}.npz into {path.parent} by hand (numpy arrays x_train uint8 (N, H, W, C), "
        f"y_train int64, x_test, y_test, classes str; the README's section 'Where the data comes from'), "
        f"or set CL_DATA_DIR to a folder that has it. data_source='synthetic' is for tests only."
    )


def dataset_file(name: str, root: str | os.PathLike | None = None) -> Path:
    """The cache file of ``name`` (``<data dir>/<name>.npz``): what :func:`load_dataset` reads and
    :func:`dataset_identity` checksums."""
    return data_dir(root) / f"{name}.npz"


def load_dataset(name: str, data_source: str = "auto", root: str | os.PathLike | None = None) -> RawDataset:
    """Load ``name`` as uint8 tensors from the chosen source (see the module docstring)."""
    _check_name(name)
    if data_source not in DATA_SOURCES:
        raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {data_source!r}")
    folder = data_dir(root)
    path = dataset_file(name, root)
    if data_source == "synthetic":
        arrays, source = synthetic_dataset(name), "synthetic"
    elif data_source in ("auto", "cache") and path.is_file():
        arrays, source = read_cache(path), "cache"
    elif data_source == "cache":
        raise DataUnavailableError(_missing_message(name, path, "no cache file and data_source='cache'"))
    else:
        try:
            arrays = _download_torchvision(name, folder)
        except Exception as err:  # no network, mirror down, a stalled server, disk full ...
            raise DataUnavailableError(_missing_message(name, path, f"torchvision download failed ({err})",
                                                        _download_urls(name))) from err  # fmt: skip
        write_cache(path, arrays)
        source = "torchvision"
    return RawDataset(
        name=name,
        x_train=torch.from_numpy(np.ascontiguousarray(arrays["x_train"])),
        y_train=torch.from_numpy(np.asarray(arrays["y_train"], dtype=np.int64)),
        x_test=torch.from_numpy(np.ascontiguousarray(arrays["x_test"])),
        y_test=torch.from_numpy(np.asarray(arrays["y_test"], dtype=np.int64)),
        classes=tuple(str(c) for c in arrays["classes"]),
        source=source,
    )


_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 (16 hex digits) of a file, memoised by path, size and modification time."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if memo not in _DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _DIGESTS[memo] = h.hexdigest()[:16]
    return _DIGESTS[memo]


def dataset_identity(name: str, data_source: str = "auto", root: str | os.PathLike | None = None) -> dict[str, str]:
    """What a run's key records of a dataset: its name, the kind of source, and a checksum of the data.

    The cache file is hashed, so CIFAR-10 decoded from a JPEG copy and CIFAR-10 from torchvision get
    different keys. A dataset not yet cached is loaded first (a torchvision download writes the cache
    file); a missing one raises :class:`DataUnavailableError` before any training.
    """
    _check_name(name)
    if data_source not in DATA_SOURCES:
        raise ValueError(f"data_source must be one of {DATA_SOURCES}, got {data_source!r}")
    if data_source == "synthetic":
        return {"dataset": name, "source": "synthetic", "sha256": f"synthetic-v{SYNTHETIC_VERSION}"}
    path = dataset_file(name, root)
    if data_source == "torchvision" or not path.is_file():
        load_dataset(name, data_source, root)  # raises if unavailable; writes the cache file
    return {"dataset": name, "source": "file", "sha256": _file_digest(path)}
