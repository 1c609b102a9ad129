"""TIFF stacks: read as planes, written back with the same shape, dtype and axis order; denoised and trained
on plane by plane."""

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

from noisefree.cli import app
from noisefree.data import load_dataset
from noisefree.io import ImageReadError
from noisefree.stacks import is_stack, read_stack, write_stack

from .conftest import smooth_image

runner = CliRunner()


def _axes(path):
    with tifffile.TiffFile(path) as tif:
        return tif.series[0].axes, tif.is_imagej


def _volume(planes: int, dtype, h=24, w=20, top=None):
    top = top or (np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0)
    stack = np.stack([smooth_image(h, w, seed=k) for k in range(planes)])
    return (stack * top).astype(dtype)


@pytest.mark.parametrize("axes, shape, dtype, imagej", [
    ("ZYX", (5, 24, 20), np.uint16, True),
    ("TZCYX", (2, 3, 2, 24, 20), np.uint8, True),
    ("TYX", (4, 24, 20), np.float32, False),
    ("QYXS", (3, 24, 20, 3), np.uint8, False),
])
def test_stack_round_trip_keeps_shape_dtype_and_axis_order(tmp_path, axes, shape, dtype, imagej):
    rng = np.random.default_rng(0)
    top = np.iinfo(dtype).max if np.dtype(dtype).kind == "u" else 1.0
    arr = (rng.random(shape) * top).astype(dtype)
    kwargs = {"photometric": "rgb"} if axes.endswith("S") else {"metadata": {"axes": axes}, "imagej": imagej,
                                                                  "photometric": "minisblack"}
    tifffile.imwrite(tmp_path / "in.tif", arr, **kwargs)
    assert is_stack(tmp_path / "in.tif")
    planes, info = read_stack(tmp_path / "in.tif")
    color = axes.endswith("S")
    assert planes.shape == (int(np.prod(shape[:-3 if color else -2])), 24, 20, *([3] if color else []))
    assert info.axes == axes and info.dtype == np.dtype(dtype).name
    write_stack(tmp_path / "out.tif", planes, info)
    back = tifffile.imread(tmp_path / "out.tif")
    assert back.dtype == arr.dtype and back.shape == arr.shape and np.array_equal(back, arr)
    assert _axes(tmp_path / "out.tif") == (axes, imagej)


def test_denoise_a_stack_plane_by_plane_keeps_its_layout(tmp_path):
    noisy = _volume(6, np.uint16).astype(np.float64)
    noisy += np.random.default_rng(0).normal(0, 0.08 * 65535, noisy.shape)
    noisy = np.clip(noisy, 0, 65535).astype(np.uint16)
    (tmp_path / "in").mkdir()
    tifffile.imwrite(tmp_path / "in" / "vol.tif", noisy, imagej=True, metadata={"axes": "ZYX"})
    r = runner.invoke(app, ["denoise", "gaussian", str(tmp_path / "in"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    out = tifffile.imread(tmp_path / "out" / "vol.tif")
    assert out.shape == noisy.shape and out.dtype == np.uint16 and _axes(tmp_path / "out" / "vol.tif") == ("ZYX", True)
    clean = _volume(6, np.uint16).astype(np.float64)
    assert np.mean((out - clean) ** 2) < 0.8 * np.mean((noisy - clean) ** 2)  # each plane denoised
    for k in (0, 5):  # plane by plane: the same as denoising that plane alone
        import noisefree as nf

        alone = nf.load("gaussian")(noisy[k].astype(np.float32) / 65535)
        assert np.abs(out[k] / 65535 - np.clip(alone, 0, 1)).max() <= 1 / 65535


def test_a_stack_whose_axes_cannot_be_inferred_asks_for_axes(tmp_path):
    arr = _volume(5, np.uint8).transpose(1, 2, 0).copy()  # Y x X x Z: planes last, nothing recorded
    tifffile.imwrite(tmp_path / "yxz.tif", arr, photometric="minisblack")
    with pytest.raises(ImageReadError, match=r"yxz.tif: .*planes stored last.*--axes"):
        read_stack(tmp_path / "yxz.tif")
    r = runner.invoke(app, ["denoise", "median", str(tmp_path / "yxz.tif"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 1 and "--axes" in r.output
    r = runner.invoke(app, ["denoise", "median", str(tmp_path / "yxz.tif"), "-o", str(tmp_path / "o"), "--axes", "YXZ"])
    assert r.exit_code == 0, r.output
    assert tifffile.imread(tmp_path / "o" / "yxz.tif").shape == arr.shape
    with pytest.raises(ImageReadError, match=r"axes 'ZYXT' do not fit an array of shape \(24, 20, 5\)"):
        read_stack(tmp_path / "yxz.tif", axes="zyxt")
    with pytest.raises(ImageReadError, match="axes 'ZZX' do not fit"):
        read_stack(tmp_path / "yxz.tif", axes="ZZX")


def test_folder_datasets_take_every_plane_of_a_stack(tmp_path):
    tifffile.imwrite(tmp_path / "vol.tif", _volume(4, np.uint8, 32, 32), imagej=True, metadata={"axes": "ZYX"})
    tifffile.imwrite(tmp_path / "one.tif", _volume(1, np.uint8, 32, 32)[0])
    data = load_dataset(f"folder:{tmp_path}")
    assert len(data) == 5 and data.files[1].endswith("vol.tif[0]") and data.max_value == 255.0


def test_a_single_stack_is_a_dataset_and_trains(tmp_path):
    import json

    import noisefree as nf
    from noisefree.config import RunConfig

    noisy = _volume(6, np.uint16, 32, 32).astype(np.float64)
    noisy += np.random.default_rng(0).normal(0, 0.05 * 65535, noisy.shape)
    tifffile.imwrite(tmp_path / "vol.tif", np.clip(noisy, 0, 65535).astype(np.uint16), imagej=True,
                     metadata={"axes": "ZYX"})
    assert len(load_dataset(f"folder:{tmp_path / 'vol.tif'}")) == 6
    run = nf.train(RunConfig(dataset=f"folder:{tmp_path / 'vol.tif'}", noisy=True, objective="n2v", model="unet",
                             model_args={"width": 4, "levels": 2, "blocks": 1}, patch_size=16, epochs=1,
                             val_fraction=0.2, device="cpu"), out=tmp_path / "runs", quiet=True)
    assert json.loads((run / "best.json").read_text())["objective"] == "n2v"
