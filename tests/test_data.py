import gzip

import numpy as np
import pytest
import torch

from noisefree.data import DatasetError, load_dataset
from noisefree.io import write_image

from .conftest import smooth_image


def test_embedded_digits_need_no_download():
    train = load_dataset("digits", split="train")
    test = load_dataset("digits", split="test")
    assert train.images.shape == (4000, 1, 28, 28) and train.images.dtype == torch.uint8
    assert len(test) == 1000 and test.index[0] == 4000
    b = train.batch(slice(0, 5))
    assert b.dtype == torch.float32 and 0 <= b.min() and b.max() <= 1


def test_subset_resize_and_fixed_split():
    d = load_dataset("digits", subset="100:300", resize=16)
    assert len(d) == 200 and d.images.shape[-2:] == (16, 16) and d.index[0] == 100
    a1, b1 = d.split(0.25, seed=3)
    a2, b2 = d.split(0.25, seed=3)
    assert np.array_equal(b1.index, b2.index) and len(b1) == 50
    assert not set(a1.index) & set(b1.index)
    with pytest.raises(DatasetError, match="bad subset"):
        load_dataset("digits", subset="10")
    every = load_dataset("digits", split="test", subset="0:1000:100")  # evenly spread, indices kept
    assert list(every.index) == list(range(4000, 5000, 100))


def test_folder_dataset_detects_channels_and_depth(tmp_path):
    for i in range(3):
        write_image(tmp_path / "sub" / f"g{i}.png", smooth_image(24, 30, seed=i), dtype="uint16")
    d = load_dataset(f"folder:{tmp_path}")
    assert len(d) == 3 and d.channels == 1 and d.max_value == 1.0  # 16-bit data kept as float
    assert d.files[0].endswith("g0.png")
    write_image(tmp_path / "c.png", smooth_image(20, 20, channels=3), dtype="uint8")
    mixed = load_dataset(f"folder:{tmp_path}")
    assert mixed.channels == 3 and not mixed.stacked  # gray promoted to RGB; sizes differ -> list


def test_folder_errors_name_the_path(tmp_path):
    with pytest.raises(DatasetError, match="no such folder"):
        load_dataset(f"folder:{tmp_path / 'missing'}")
    with pytest.raises(DatasetError, match="no image files"):
        load_dataset(f"folder:{tmp_path}")


def test_mnist_idx_files_are_read_directly(tmp_path):
    imgs = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    header = bytes([0, 0, 8, 3]) + np.array([7, 28, 28], ">i4").tobytes()
    with gzip.open(tmp_path / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(header + imgs.tobytes())
    d = load_dataset("mnist", split="test", root=tmp_path)
    assert np.array_equal(d.images[:, 0].numpy(), imgs)


def test_missing_torchvision_dataset_offline_says_what_to_do(tmp_path):
    with pytest.raises(DatasetError) as e:
        load_dataset("cifar10", root=tmp_path)
    msg = str(e.value)
    assert "cifar-10-batches-py" in msg and "--download" in msg and str(tmp_path) in msg
    with pytest.raises(DatasetError, match="MNIST/raw"):
        load_dataset("fashion-mnist", root=tmp_path)
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("imagenet")
