import pytest

from noisefree.config import ConfigError, RunConfig
from noisefree.presets import PRESETS


def preset_config(name, **overrides):
    return RunConfig.resolve(preset=name, overrides=overrides)


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
    assert "modle: not a configuration field: did you mean model" in str(e.value)  # a typo gets the near names
    with pytest.raises(ConfigError, match=r"colour: not a configuration field \(`noisefree train --help`"):
        RunConfig.validated({"colour": True})
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


def test_resolve_merges_preset_file_and_overrides_once(tmp_path):
    cfg = RunConfig.resolve(preset="demo", overrides={"name": "x", "epochs": 2, "lr": None})
    assert (cfg.name, cfg.preset, cfg.epochs, cfg.lr) == ("x", "demo", 2, 1e-3)  # None: not given
    (tmp_path / "c.yaml").write_text("model: dncnn\nepochs: 4\n")
    cfg = RunConfig.resolve(config=tmp_path / "c.yaml", overrides={"epochs": 7, "model_args": '{"depth": 5}'})
    assert (cfg.model, cfg.epochs, cfg.model_args) == ("dncnn", 7, {"depth": 5})  # JSON text accepted
    with pytest.raises(ConfigError, match="c.yaml with the options given: epochs"):
        RunConfig.resolve(config=tmp_path / "c.yaml", overrides={"epochs": 0})
    with pytest.raises(ConfigError, match="not both"):
        RunConfig.resolve(preset="demo", config=tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="model_args.*JSON object"):
        RunConfig.resolve(overrides={"model_args": "[1, 2]"})


@pytest.mark.parametrize("text,message", [
    ("- 1\n- 2\n", "a YAML mapping of fields"),
    ("epochs: [\n", "not valid YAML"),
])
def test_config_files_that_are_not_mappings_are_named(tmp_path, text, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_yaml(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="a folder"):
        RunConfig.from_yaml(tmp_path)


def test_dataset_names_come_from_the_data_module():
    from noisefree.data import DATASETS

    for name in DATASETS:
        spec = "folder:/x" if name == "folder:PATH" else name
        assert RunConfig(dataset=spec).dataset == spec
    with pytest.raises(ConfigError, match="folder:PATH"):
        RunConfig.validated({"dataset": "folder:"})
