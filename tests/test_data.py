"""cl_utils.data: cache format, torchvision conversion, missing data, synthetic data."""
from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import cl_utils.data as data
from cl_utils import DataUnavailableError, load_dataset

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def _arrays(n=12, h=28, w=28, c=1, classes=10):
    rng = np.random.default_rng(0)
    return dict(
        x_train=rng.integers(0, 256, (n, h, w, c), dtype=np.uint8),
        y_train=np.arange(n, dtype=np.int64) % classes,
        x_test=rng.integers(0, 256, (n // 2, h, w, c), dtype=np.uint8),
        y_test=np.arange(n // 2, dtype=np.int64) % classes,
        classes=np.array([str(i) for i in range(classes)]),
    )


def test_cache_round_trip_is_exact(tmp_path):
    arrays = _arrays()
    data.write_cache(tmp_path / "mnist.npz", arrays)
    ds = load_dataset("mnist", "cache", root=tmp_path)
    assert ds.source == "cache"
    assert ds.x_train.dtype == torch.uint8 and ds.x_train.shape == (12, 28, 28, 1)
    assert np.array_equal(ds.x_train.numpy(), arrays["x_train"])
    assert np.array_equal(ds.y_test.numpy(), arrays["y_test"])
    assert ds.classes == tuple(arrays["classes"])
    assert not list(tmp_path.glob("*.tmp"))  # atomic write left no temp file


def test_auto_prefers_the_cache_and_never_downloads(tmp_path, monkeypatch):
    data.write_cache(tmp_path / "mnist.npz", _arrays())
    monkeypatch.setattr(data, "_download_torchvision", lambda *a: pytest.fail("downloaded despite cache"))
    assert load_dataset("mnist", "auto", root=tmp_path).source == "cache"


def test_cache_dir_from_environment(tmp_path, monkeypatch):
    data.write_cache(tmp_path / "fashion_mnist.npz", _arrays())
    monkeypatch.setenv("CL_DATA_DIR", str(tmp_path))
    assert len(load_dataset("fashion_mnist", "cache").y_train) == 12


def test_cache_with_wrong_dtype_is_rejected(tmp_path):
    arrays = _arrays()
    np.savez(tmp_path / "mnist.npz", **{**arrays, "x_train": arrays["x_train"].astype(np.float32)})
    with pytest.raises(ValueError, match="x_train must be uint8"):
        load_dataset("mnist", "cache", root=tmp_path)


def test_missing_data_raises_the_documented_error(tmp_path, monkeypatch):
    def offline(name, root):
        raise OSError("network unreachable")

    monkeypatch.setattr(data, "_download_torchvision", offline)
    with pytest.raises(DataUnavailableError) as err:
        load_dataset("svhn", "auto", root=tmp_path)
    message = str(err.value)
    assert "svhn.npz" in message and "CL_DATA_DIR" in message and "network unreachable" in message
    assert "synthetic" in message  # says synthetic data is for tests only, never a fallback
    assert not (tmp_path / "svhn.npz").exists()


def test_the_missing_data_message_points_at_files_that_exist(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_download_torchvision", lambda name, root: (_ for _ in ()).throw(OSError("offline")))
    with pytest.raises(DataUnavailableError) as err:
        load_dataset("svhn", "auto", root=tmp_path)
    message = str(err.value)
    assert "DESIGN.md" not in message and "Where the data comes from" in message
    assert "Where the data comes from" in (Path(__file__).parents[1] / "README.md").read_text()


def test_a_stalled_download_stops_with_a_clear_error_and_caches_nothing(tmp_path, monkeypatch):
    """A server that accepts the connection and then sends nothing: bounded waits and retries, then the error."""
    import socket
    import threading

    import torchvision.datasets as tvd

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept_and_stall():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])  # never answers
            except OSError:
                continue

    thread = threading.Thread(target=accept_and_stall, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.getsockname()[1]}/cifar-10-python.tar.gz"
    monkeypatch.setattr(tvd.CIFAR10, "url", url)
    monkeypatch.setenv("CL_DOWNLOAD_TIMEOUT", "0.5")
    monkeypatch.setenv("CL_DOWNLOAD_RETRIES", "1")
    outcome: list[BaseException] = []

    def load():
        try:
            load_dataset("cifar10", "auto", root=tmp_path)
        except BaseException as e:  # noqa: BLE001 - handed to the test thread
            outcome.append(e)

    loader = threading.Thread(target=load, daemon=True)
    try:
        loader.start()
        loader.join(timeout=30)
        assert not loader.is_alive(), "the download still waits after 30 s: no timeout"
        assert len(held) == 2, "one attempt and one retry"
    finally:
        stop.set()
        thread.join()
        for s in held:
            s.close()
        server.close()
    assert len(outcome) == 1 and isinstance(outcome[0], DataUnavailableError), outcome
    message = str(outcome[0])
    assert "'cifar10'" in message and url in message and "cifar10.npz" in message
    assert not (tmp_path / "cifar10.npz").exists(), "a failed download must not leave a cache file"


def test_cache_only_source_does_not_download(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_download_torchvision", lambda *a: pytest.fail("downloaded"))
    with pytest.raises(DataUnavailableError, match="data_source='cache'"):
        load_dataset("cifar10", "cache", root=tmp_path)


def test_download_is_converted_and_cached(tmp_path, monkeypatch):
    arrays = _arrays()
    monkeypatch.setattr(data, "_download_torchvision", lambda name, root: arrays)
    ds = load_dataset("kmnist", "torchvision", root=tmp_path)
    assert ds.source == "torchvision"
    assert (tmp_path / "kmnist.npz").is_file()
    assert load_dataset("kmnist", "cache", root=tmp_path).y_train.tolist() == arrays["y_train"].tolist()


@pytest.mark.parametrize("bad", [("imagenet", "auto"), ("mnist", "internet")])
def test_unknown_dataset_or_source(bad):
    with pytest.raises(ValueError):
        load_dataset(*bad)


def test_convert_torchvision_mnist_like():
    images = torch.randint(0, 256, (5, 28, 28), dtype=torch.uint8)
    train = SimpleNamespace(data=images, targets=torch.tensor([0, 1, 2, 3, 4]), classes=[f"c{i}" for i in range(10)])
    test = SimpleNamespace(data=images[:2], targets=torch.tensor([5, 6]))
    out = data.convert_torchvision("mnist", train, test)
    assert out["x_train"].shape == (5, 28, 28, 1) and out["x_train"].dtype == np.uint8
    assert np.array_equal(out["x_train"][..., 0], images.numpy())
    assert out["y_test"].tolist() == [5, 6] and out["y_test"].dtype == np.int64
    assert list(out["classes"]) == [f"c{i}" for i in range(10)]


def test_convert_torchvision_cifar_and_svhn_layouts():
    hwc = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    cifar = SimpleNamespace(data=hwc, targets=[0, 1, 2, 3], classes=[str(i) for i in range(10)])
    assert np.array_equal(data.convert_torchvision("cifar10", cifar, cifar)["x_train"], hwc)
    chw = np.ascontiguousarray(hwc.transpose(0, 3, 1, 2))
    svhn = SimpleNamespace(data=chw, labels=np.array([1, 2, 3, 0]))  # SVHN has labels, no classes
    out = data.convert_torchvision("svhn", svhn, svhn)
    assert np.array_equal(out["x_train"], hwc)
    assert out["y_train"].tolist() == [1, 2, 3, 0]
    assert list(out["classes"]) == [str(i) for i in range(10)]


def test_convert_torchvision_emnist_is_transposed_upright():
    img = torch.zeros(1, 28, 28, dtype=torch.uint8)
    img[0, 3, 20] = 255  # torchvision's raw EMNIST is stored transposed
    ds = SimpleNamespace(data=img, targets=torch.tensor([0]), classes=[str(i) for i in range(47)])
    out = data.convert_torchvision("emnist", ds, ds)
    assert out["x_train"][0, 20, 3, 0] == 255


def test_synthetic_is_deterministic_shaped_and_learnable():
    a, b = load_dataset("cifar10", "synthetic"), load_dataset("cifar10", "synthetic")
    assert a.source == "synthetic" and a.x_train.shape[1:] == (32, 32, 3)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert a.num_classes == 10
    # a nearest-class-mean classifier separates the classes: the data is learnable
    x_tr, x_te = a.x_train.float().flatten(1), a.x_test.float().flatten(1)
    means = torch.stack([x_tr[a.y_train == c].mean(0) for c in range(10)])
    pred = torch.cdist(x_te, means).argmin(1)
    assert (pred == a.y_test).float().mean() > 0.9


@pytest.mark.skipif(not (SHARED_DATA / "mnist.npz").is_file(), reason="real MNIST not available here")
def test_real_mnist_matches_its_manifest():
    ds = load_dataset("mnist", "cache", root=SHARED_DATA)
    assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
    assert ds.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert abs(ds.x_train.float().mean().item() / 255 - 0.1307) < 1e-3
