import numpy as np
import pytest
import tifffile
from PIL import Image

from noisefree.io import ImageReadError, find_images, read_image, write_image


@pytest.mark.parametrize("suffix,dtype,channels", [
    (".png", "uint8", 1), (".png", "uint8", 3), (".png", "uint16", 1), (".png", "uint16", 3),
    (".tif", "uint16", 1), (".tif", "uint16", 3), (".tif", "uint8", 3), (".bmp", "uint8", 3)])
def test_round_trip_keeps_bit_depth_and_channels(tmp_path, suffix, dtype, channels):
    top = 255 if dtype == "uint8" else 65535
    rng = np.random.default_rng(0)
    shape = (21, 34) if channels == 1 else (21, 34, 3)
    raw = rng.integers(0, top + 1, shape).astype(dtype)
    img = raw.astype(np.float32) / top
    path = write_image(tmp_path / f"x{suffix}", img, dtype=dtype)
    back, info = read_image(path)
    assert info.dtype == dtype and info.channels == channels
    assert back.shape == shape
    assert np.array_equal(np.rint(back * top).astype(dtype), raw)


def test_sixteen_bit_keeps_more_than_eight_bits(tmp_path):
    ramp = np.linspace(0, 1, 1000, dtype=np.float32).reshape(20, 50)
    back, _ = read_image(write_image(tmp_path / "r.png", ramp, dtype="uint16"))
    assert len(np.unique(back)) > 256


def test_float_tiff_is_kept_unscaled(tmp_path):
    img = np.random.default_rng(0).normal(0.5, 0.4, (10, 12)).astype(np.float32)  # values outside [0, 1]
    tifffile.imwrite(tmp_path / "f.tif", img)
    back, info = read_image(tmp_path / "f.tif")
    assert info.dtype == "float32" and np.array_equal(back, img)
    out = write_image(tmp_path / "g.tif", back, info)
    assert np.array_equal(tifffile.imread(out), img)


def test_alpha_is_passed_through_untouched(tmp_path):
    rgba = np.random.default_rng(1).integers(0, 256, (16, 18, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    img, info = read_image(tmp_path / "a.png")
    assert img.shape == (16, 18, 3) and info.alpha is not None
    out = write_image(tmp_path / "b.png", 1 - img, info)
    back = np.asarray(Image.open(out))
    assert back.shape == (16, 18, 4)
    assert np.array_equal(back[..., 3], rgba[..., 3])


def test_exif_orientation_is_applied(tmp_path):
    arr = np.zeros((10, 20, 3), np.uint8)
    arr[:, :5] = 255  # bright stripe on the left of a 10x20 landscape image
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    im.save(tmp_path / "o.jpg", exif=exif, quality=100)
    img, _ = read_image(tmp_path / "o.jpg")
    assert img.shape[:2] == (20, 10)  # portrait after orientation
    assert img[:5].mean() > 0.9 and img[-5:].mean() < 0.1  # stripe now on top


def test_bad_files_are_named(tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not a png")
    with pytest.raises(ImageReadError, match="broken.png"):
        read_image(bad)
    (tmp_path / "b.jpg").write_bytes(b"\xff\xd8 nope")
    with pytest.raises(ImageReadError, match="b.jpg"):
        read_image(tmp_path / "b.jpg")
    with pytest.raises(ValueError, match="cannot hold 16-bit"):
        write_image(tmp_path / "x.jpg", np.zeros((4, 4)), dtype="uint16")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        find_images([tmp_path / "nowhere"])


@pytest.mark.parametrize("suffix, dtype", [(".jpg", "uint8"), (".png", "uint8"), (".png", "uint16"),
                                           (".tif", "uint16"), (".webp", "uint8")])
def test_colour_profile_exif_and_resolution_go_with_the_result(tmp_path, suffix, dtype):
    """A photo's colour profile (e.g. Display P3) describes its pixels: without it a colour-managed viewer shows
    the result in other colours. EXIF (camera, date) and dpi go along; orientation is reset, as the pixels
    are read upright."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees to view
    exif[0x010F] = "Canon"
    pixels = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "in.jpg", icc_profile=profile, exif=exif, dpi=(300, 300))
    image, info = read_image(tmp_path / "in.jpg")
    assert image.shape == (30, 20, 3) and info.icc_profile == profile and info.dpi == (300, 300)
    write_image(tmp_path / f"out{suffix}", image, info, dtype=dtype)
    back, back_info = read_image(tmp_path / f"out{suffix}")
    assert back.shape == (30, 20, 3) and back_info.icc_profile == profile  # upright, not turned twice
    if suffix in (".jpg", ".png", ".webp") and dtype == "uint8":
        with Image.open(tmp_path / f"out{suffix}") as im:
            tags = dict(im.getexif())
        assert tags.get(0x010F) == "Canon" and 0x0112 not in tags


def test_a_profile_for_other_channels_is_not_attached():
    from noisefree.io import _fitting_profile

    rgb = b"\0" * 16 + b"RGB " + b"\0" * 100
    cmyk = b"\0" * 16 + b"CMYK" + b"\0" * 100
    assert _fitting_profile(rgb, True) == rgb and _fitting_profile(rgb, False) is None
    assert _fitting_profile(cmyk, True) is None and _fitting_profile(None, True) is None
