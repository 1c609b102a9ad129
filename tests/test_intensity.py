"""Float files in other units than [0, 1], and with NaN pixels, are denoised in their own units."""

import numpy as np
import pytest
import tifffile
from typer.testing import CliRunner

import noisefree as nf
from noisefree.cli import app
from noisefree.intensity import to_unit

from .conftest import smooth_image

runner = CliRunner()


def _psnr(a, b, peak):
    return 10 * np.log10(peak ** 2 / np.mean((np.asarray(a, np.float64) - b) ** 2))


def test_images_on_the_unit_scale_are_left_alone_and_others_round_trip():
    noisy = smooth_image(40, 50) + np.random.default_rng(0).normal(0, 0.2, (40, 50)).astype(np.float32)
    same, mapping = to_unit(noisy)
    assert not mapping.rescaled and mapping.holes is None and np.array_equal(same, noisy)
    counts = noisy * 4000 + 300
    counts[5, 7] = np.nan
    counts[9, 1] = np.inf
    unit, mapping = to_unit(counts)
    assert mapping.rescaled and np.isfinite(unit).all()
    dark = counts.copy()
    dark[0, :5] = 0
    assert (to_unit(dark)[0][0, :5] == 0).all()  # no offset: black stays black
    assert -0.2 < np.percentile(unit, 1) < 0.2 and 0.7 < np.percentile(unit, 99) < 1.0
    back = mapping.back(unit)
    assert np.isnan(back[5, 7]) and back[9, 1] == np.inf
    finite = np.isfinite(counts)
    assert np.allclose(back[finite], counts[finite], rtol=1e-5, atol=1e-2)
    assert unit[5, 7] == pytest.approx(counts[5, 6] / mapping.scale, abs=0.2)
    with pytest.raises(ValueError, match="x.tif: every pixel is NaN"):
        to_unit(np.full((8, 8), np.nan, np.float32), name="x.tif")


def test_a_float_tiff_in_counts_is_denoised_in_its_units(tmp_path):
    clean = smooth_image(64, 64)
    noisy = clean + np.random.default_rng(1).normal(0, 0.1, clean.shape).astype(np.float32)
    den = nf.load("gray-blind")
    reference = den(noisy)  # the same image on the [0, 1] scale
    counts, clean_counts = noisy * 5000 + 200, clean * 5000 + 200
    counts[10, 20] = np.nan  # a pixel that was not measured
    tifffile.imwrite(tmp_path / "cells.tif", counts.astype(np.float32))
    r = runner.invoke(app, ["denoise", str(tmp_path / "cells.tif"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "values divided by" in r.output and "1 NaN/inf pixel(s)" in r.output and "file's units" in r.output
    out = tifffile.imread(tmp_path / "out" / "cells.tif")
    assert out.dtype == np.float32 and np.isnan(out[10, 20]) and np.isfinite(out).sum() == out.size - 1
    ok = np.isfinite(out)
    gain = _psnr(out[ok], clean_counts[ok], 5000) - _psnr(counts[ok], clean_counts[ok], 5000)
    assert gain > 6  # unscaled, the network flattened the image: worse than the noisy input
    assert abs(_psnr(out[ok], clean_counts[ok], 5000) - _psnr(reference[ok], clean[ok], 1)) < 0.5
    # --sigma is in the file's units for float files: 0.1 on [0, 1] is 500 here
    r = runner.invoke(app, ["denoise", str(tmp_path / "cells.tif"), "-o", str(tmp_path / "told"), "--sigma", "500"])
    assert r.exit_code == 0, r.output
    told = tifffile.imread(tmp_path / "told" / "cells.tif")
    assert abs(_psnr(told[ok], clean_counts[ok], 5000) - _psnr(den(noisy, sigma=0.1)[ok], clean[ok], 1)) < 0.5


def test_sigma_over_one_is_refused_for_integer_files_before_any_work(tmp_path):
    image = (smooth_image(32, 32) * 255).astype(np.uint8)
    from PIL import Image

    Image.fromarray(image).save(tmp_path / "a.png")
    tifffile.imwrite(tmp_path / "b.tif", image)
    r = runner.invoke(app, ["denoise", "median", str(tmp_path / "a.png"), "-o", str(tmp_path / "o"), "--sigma", "20"])
    assert r.exit_code == 1 and "--sigma 0.07843" in r.output and not (tmp_path / "o").exists()
    r = runner.invoke(app, ["denoise", "gaussian", str(tmp_path / "b.tif"), "-o", str(tmp_path / "o"), "--sigma", "20"])
    assert r.exit_code == 1 and "b.tif: sigma 20 is on the [0, 1] scale for a uint8 file" in r.output


def test_a_float_stack_in_counts_keeps_its_units_and_holes(tmp_path):
    clean = np.stack([smooth_image(32, 32, seed=k) for k in range(3)])
    noisy = clean + np.random.default_rng(2).normal(0, 0.08, clean.shape).astype(np.float32)
    stack = (noisy * 3000 - 100).astype(np.float32)
    stack[1, 4:6, 4:6] = np.nan
    tifffile.imwrite(tmp_path / "vol.tif", stack, photometric="minisblack", metadata={"axes": "ZYX"})
    r = runner.invoke(app, ["denoise", "gaussian", str(tmp_path / "vol.tif"), "-o", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    out = tifffile.imread(tmp_path / "out" / "vol.tif")
    assert out.shape == stack.shape and np.isnan(out[1, 4:6, 4:6]).all() and np.isfinite(out).sum() == out.size - 4
    ok = np.isfinite(out)
    clean_counts = clean * 3000 - 100
    assert np.mean((out[ok] - clean_counts[ok]) ** 2) < 0.6 * np.mean((stack[ok] - clean_counts[ok]) ** 2)


def test_denoisers_warn_once_about_nan_and_values_far_off_the_unit_scale():
    image = smooth_image(24, 24)
    den = nf.load("gaussian")
    with pytest.warns(UserWarning, match=r"spans 25.* to 2\d\d.*far off the \[0, 1\] scale"):
        den(image * 255, sigma=0.1)  # the usual slip: an 8-bit image as floats
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        den(image * 255, sigma=0.1)  # once per denoiser
        nf.load("gaussian")(image + np.random.default_rng(0).normal(0, 0.25, image.shape).astype(np.float32),
                            sigma=0.25)  # noise beyond [0, 1] is no problem
    holed = image.copy()
    holed[3, 3] = np.nan
    with pytest.warns(UserWarning, match="NaN or inf"):
        nf.load("median")(holed, sigma=0.1)
    with pytest.raises(ValueError, match="holds 1 NaN or inf value.*to_unit"):
        nf.load("median")(holed)  # its sigma cannot be estimated


def test_a_network_with_a_bounded_output_works_on_counts(tmp_path):
    """The autoencoders end in a sigmoid: on values in counts they could only return 0 to 1 (measured with a
    2-epoch `ref-pool-mnist` on noisy digits x 5000 + 200: 9.33 dB, below the noisy 13.29, against 18.73 on
    [0, 1] and now in counts). Untrained here, its output must still land within the file's range."""
    from noisefree.apply import denoise_files
    from noisefree.card import ModelCard
    from noisefree.denoiser import NetworkDenoiser
    from noisefree.models import build_model

    den = NetworkDenoiser(build_model("conv4-ae", channels=1), ModelCard(architecture="conv4-ae", channels=1))
    counts = (smooth_image(32, 32) * 5000 + 200).astype(np.float32)
    tifffile.imwrite(tmp_path / "c.tif", counts)
    report = denoise_files(den, [tmp_path / "c.tif"], tmp_path / "out")
    assert not report.failed
    out = tifffile.imread(tmp_path / "out" / "c.tif")
    assert counts.min() - 1 <= out.min() and out.max() <= counts.max() + 1


def test_a_folder_in_counts_trains_on_one_scale(tmp_path):
    """Training and evaluation see a folder of float counts on [0, 1], by one scale for the whole
    folder (so images keep their relative brightness); the second folder of Noise2Noise pairs takes the first's."""
    from noisefree.data import load_dataset

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for k in range(3):
        image = (smooth_image(16, 16, seed=k) * 4000 + 100 * k).astype(np.float32)
        image[2, 2] = np.nan if k == 1 else image[2, 2]
        tifffile.imwrite(tmp_path / "a" / f"{k}.tif", image)
        tifffile.imwrite(tmp_path / "b" / f"{k}.tif", image * 1.5)
    with pytest.warns(UserWarning, match=r"folder dataset .*a: float values divided by .* onto \[0, 1\].*1 NaN/inf"):
        data = load_dataset(f"folder:{tmp_path / 'a'}")
    values = data.batch(slice(None)).numpy()
    assert np.isfinite(values).all() and -0.05 < values.min() and values.max() < 1.05
    assert 2000 < data.unit_map.scale < 4500 and data.select([0, 2]).unit_map == data.unit_map
    with pytest.warns(UserWarning, match="divided by"):
        pairs = load_dataset(f"folder:{tmp_path / 'b'}", unit_map=data.unit_map)
    assert pairs.batch(slice(None)).max() > 1.3  # on the first folder's scale, not its own
    (tmp_path / "u").mkdir()
    tifffile.imwrite(tmp_path / "u" / "unit.tif", smooth_image(16, 16))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # images on [0, 1] are left alone, silently
        assert load_dataset(f"folder:{tmp_path / 'u'}").unit_map is None


def test_estimate_reports_counts_in_their_units_and_reads_past_nans(tmp_path):
    import json

    clean = smooth_image(96, 96)
    rng = np.random.default_rng(4)
    shot = clean + rng.normal(0, 1, clean.shape) * np.sqrt(0.01 * clean + 0.0004)  # a = 0.01, b = 0.0004
    tifffile.imwrite(tmp_path / "unit.tif", shot.astype(np.float32))
    counts = (shot * 5000 + 200).astype(np.float32)  # variance 50 x + 0 in counts
    counts[7, 7] = np.nan
    tifffile.imwrite(tmp_path / "counts.tif", counts)
    r = runner.invoke(app, ["estimate", str(tmp_path / "unit.tif"), str(tmp_path / "counts.tif"), "--json"])
    assert r.exit_code == 0, r.output
    unit, inc = json.loads(r.output[r.output.index("["):])
    assert inc["sigma_8bit"] is None and inc["read_noise_8bit"] is None and unit["sigma_8bit"] is not None
    assert inc["sigma"] == pytest.approx(unit["sigma"] * 5000, rel=0.05)
    assert inc["a"] == pytest.approx(unit["a"] * 5000, rel=0.05) and 35 < inc["a"] < 65
