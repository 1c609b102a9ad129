"""Fuzzing the parsers a user's input reaches first: random bytes as an image file, random noise specs, random
configuration files. Each gives a result or a clear noisefree error, never an uncaught exception."""

import warnings

import numpy as np
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from noisefree.config import ConfigError, RunConfig
from noisefree.io import ImageReadError, read_image
from noisefree.noise import Noise, parse_noise

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
SIGNATURES = [b"", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"II*\x00", b"MM\x00*", b"BM", b"GIF89a",
              b"RIFF\x00\x00\x00\x00WEBPVP8 "]


@FUZZ
@given(head=st.sampled_from(SIGNATURES), body=st.binary(max_size=600), suffix=st.sampled_from(
    [".png", ".jpg", ".tif", ".bmp", ".gif", ".webp", "", ".dat"]))
def test_random_bytes_as_an_image(tmp_path, head, body, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(head + body)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a misnamed file warns; that is not the point here
        try:
            image, info = read_image(path)
        except ImageReadError as exc:
            assert str(path) in str(exc)
            return
    assert image.dtype == np.float32 and image.ndim in (2, 3) and info.dtype in ("uint8", "uint16", "float32")


NOISE_WORDS = st.sampled_from(["gaussian", "saltpepper", "masking", "poisson", "poissongauss", "speckle", "blur", "",
                               "Gauss_ian"])
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.integers(-5, 500).map(str),
                    st.text(max_size=6))


@FUZZ
@given(parts=st.lists(st.tuples(NOISE_WORDS, st.sampled_from([":", "", "::"]), NUMBERS,
                                st.sampled_from(["", "-", ","]), NUMBERS), min_size=0, max_size=3),
       junk=st.text(max_size=10))
def test_random_noise_specs(parts, junk):
    spec = "+".join(f"{a}{b}{c}{d}{e}" for a, b, c, d, e in parts) + junk
    try:
        noise = parse_noise(spec)
    except ValueError as exc:
        assert str(exc)
        return
    assert isinstance(noise, Noise) and parse_noise(noise.spec).spec == noise.spec  # round trip


FIELDS = list(RunConfig.model_fields) + ["epoch", "modle", ""]
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**6), st.floats(allow_nan=True),
                   st.text(max_size=12), st.lists(st.integers(), max_size=3),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@FUZZ
@given(data=st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6))
def test_random_configurations(tmp_path, data):
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data))
    try:
        cfg = RunConfig.from_yaml(path)
    except ConfigError as exc:
        assert "run.yaml" in str(exc)
        return
    cfg.to_yaml(tmp_path / "again.yaml")
    assert RunConfig.from_yaml(tmp_path / "again.yaml") == cfg  # what validates round-trips


@FUZZ
@given(text=st.text(max_size=200))
def test_random_yaml_text(tmp_path, text):
    path = tmp_path / "run.yaml"
    path.write_text(text)
    try:
        RunConfig.from_yaml(path)
    except ConfigError as exc:
        assert "run.yaml" in str(exc)
