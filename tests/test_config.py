import pytest

from noisefree.config import ConfigError, RunConfig
from noisefree.presets import PRESETS, preset_config


def test_yaml_round_trip(tmp_path):
    cfg = RunConfig(dataset="folder:/x", model="dncnn", model_args={"depth": 5}, noise="gaussian:0.1+masking:0.2",
                    epochs=3, patience=2, weight_decay=1e-5)
    cfg.to_yaml(tmp_path / "c.yaml")
    assert RunConfig.from_yaml(tmp_path / "c.yaml") == cfg


def test_invalid_values_are_named(tmp_path):
    (tmp_path / "bad.yaml").write_text("epochs: 0\nmodle: dncnn\n")
    with pytest.raises(ConfigError) as e:
        RunConfig.from_yaml(tmp_path / "bad.yaml")
    assert "bad.yaml" in str(e.value) and "epochs" in str(e.value) and "modle" in str(e.value)
    with pytest.raises(ConfigError, match="unknown model"):
        RunConfig.validated({"model": "resnet"})
    with pytest.raises(ConfigError, match="noise"):
        RunConfig.validated({"noise": "gaussian:x"})
    with pytest.raises(ConfigError, match="dataset"):
        RunConfig.validated({"dataset": "imagenet"})


def test_presets_follow_the_references():
    assert {"ref-skip-cifar10", "ref-conv4-cifar10", "ref-dense-mnist", "ref-pool-mnist", "ref-pool-cifar10",
            "ref-strided-fashion-mnist"} <= set(PRESETS)
    for name in PRESETS:
        cfg = preset_config(name)
        assert cfg.lr == 1e-3 and cfg.batch_size == 64 and cfg.loss == "mse"
    assert preset_config("ref-conv4-cifar10").resize == 28
    assert preset_config("ref-conv4-cifar10").epochs == 250
    assert preset_config("ref-dense-mnist").weight_decay == 1e-5
    assert preset_config("ref-pool-mnist").patience is not None
    assert preset_config("demo", epochs=2).epochs == 2
    with pytest.raises(ConfigError, match="unknown preset"):
        preset_config("ref-nothing")
