"""Where `noisefree evaluate MODEL` scores a model when no dataset is given: never on its training images."""

import pytest
from typer.testing import CliRunner

from noisefree.cli import app
from noisefree.evaluation import held_out_data, training_config
from noisefree.resolve import resolve

runner = CliRunner()


def test_the_held_out_part_of_the_training_dataset_is_the_default():
    digits = {"dataset": "digits", "split": "train", "subset": "0:1500", "eval_split": "test"}
    assert held_out_data(digits, model="m") == {"dataset": "digits", "split": "test", "subset": None,
                                                "data_root": None}
    mnist = {"dataset": "mnist", "split": "test", "subset": "0:8000", "eval_split": "test",
             "eval_subset": "8000:10000", "data_root": "data/mnist"}  # the shipped mnist's recipe
    assert held_out_data(mnist, model="m") == {"dataset": "mnist", "split": "test", "subset": "8000:10000",
                                               "data_root": "data/mnist"}
    other = {"dataset": "folder:train", "eval_dataset": "folder:test", "eval_split": "test"}
    assert held_out_data(other, model="m")["dataset"] == "folder:test"


@pytest.mark.parametrize("config", [
    {"dataset": "folder:photos/train"},  # a folder has one split: its validation images are not a test set
    {"dataset": "mnist", "split": "test", "subset": "0:8000", "eval_split": "test", "eval_subset": "4000:10000"},
    {"dataset": "mnist", "split": "test", "subset": "0:8000", "eval_split": "test"},
    {"dataset": "mnist", "split": "test", "subset": "0:8000:2", "eval_split": "test", "eval_subset": "3:8000:3"},
])
def test_training_images_are_refused_as_a_default_with_the_fix(config):
    with pytest.raises(ValueError, match=r"my-model was trained on .*Give --dataset"):
        held_out_data(config, model="my-model")


def test_disjoint_subsets_of_one_split_are_held_out():
    config = {"dataset": "mnist", "split": "test", "subset": "0:8000:2", "eval_split": "test",
              "eval_subset": "1:8000:2"}  # every other image each: none shared
    assert held_out_data(config, model="m")["subset"] == "1:8000:2"


def test_shipped_models_default_to_their_held_out_digits_or_name_their_test_sets():
    mnist = resolve("mnist")
    assert held_out_data(training_config(mnist.path, mnist.card), model="mnist", card=mnist.card)["subset"] == \
        "8000:10000"
    gray = resolve("gray-blind")
    with pytest.raises(ValueError, match="noisefree evaluate gray-blind --dataset folder:.*bsd68|set12"):
        held_out_data(training_config(gray.path, gray.card), model="gray-blind", card=gray.card)
    r = runner.invoke(app, ["evaluate", "color-blind", "--sigma", "25"])
    assert r.exit_code == 1 and "color-blind was trained on folder:" in r.output and "cbsd68" in r.output


def test_a_run_folder_is_evaluated_on_its_held_out_split(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text("dataset: digits\nsplit: train\neval_split: test\n")
    assert training_config(tmp_path / "run")["dataset"] == "digits"
    assert training_config(tmp_path / "run" / "best.safetensors")["split"] == "train"  # a checkpoint in it
    assert training_config(tmp_path / "elsewhere.safetensors") is None


def test_the_python_api_defaults_as_the_command_does():
    import noisefree as nf

    with pytest.raises(ValueError, match="color-blind was trained on folder:.*cbsd68"):
        nf.evaluate("color-blind", sigma=0.1)
    with pytest.raises(ValueError, match="gray-blind was trained on folder:"):  # a loaded model: the same card
        nf.evaluate(nf.load("gray-blind"))
    res = nf.evaluate("median", max_images=4)  # no card: the embedded digits, gaussian:0.1
    assert res.summary["images"] == 4 and res.summary["dataset"] == "digits" and res.summary["noise"] == "gaussian:0.1"


def test_estimate_sigma_evaluates_blind(image_folder, tmp_path):
    """`--sigma` tells methods that take σ the level; `--estimate-sigma` makes them find it in each noisy image."""
    import json

    scores = {}
    for flag in ([], ["--estimate-sigma"]):
        out = tmp_path / ("blind" if flag else "told")
        r = runner.invoke(app, ["evaluate", "tv", "--dataset", f"folder:{image_folder}", "--protocol", "standard",
                                "--sigma", "25", "-o", out, *flag])
        assert r.exit_code == 0, r.output
        summary = json.loads((out / "sigma25" / "summary.json").read_text())
        scores[summary["sigma_source"]] = summary["psnr_mean"]
    assert set(scores) == {"given", "estimated"} and scores["given"] != scores["estimated"]
    assert abs(scores["given"] - scores["estimated"]) < 1.0  # the estimate is close to 25


def test_data_that_holds_training_images_is_scored_with_a_warning(image_folder, tmp_path):
    """What the user asks for is evaluated, but data that may include the model's training images says so
    (once per command) and is not called held out; held-out data says nothing."""
    import warnings
    from types import SimpleNamespace

    import noisefree as nf
    from noisefree.config import RunConfig
    from noisefree.evaluation import default_data

    mnist = resolve("mnist")  # trained on mnist test 0:8000
    with pytest.warns(UserWarning, match=r"mnist test 0:20 may include images mnist trained on \(mnist test 0:8000\)"):
        data = default_data(mnist, "mnist", subset="0:20")
    assert data["subset"] == "0:20" and not data["held_out"]
    with pytest.warns(UserWarning, match="mnist test may include"):  # all 10,000 digits
        default_data(mnist, "mnist", dataset="mnist")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert default_data(mnist, "mnist", subset="8000:8100")["held_out"]
        assert not default_data(mnist, "mnist", dataset="mnist", split="train")["held_out"]  # other split: fine
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.yaml").write_text(f"dataset: folder:{image_folder}\n")
    folder_model = SimpleNamespace(card=object(), path=tmp_path / "run")
    with pytest.warns(UserWarning, match=r"images/\.\./images may include images m trained on \(folder:"):
        default_data(folder_model, "m", dataset=f"folder:{image_folder}/../images")  # the same folder

    run = nf.train(RunConfig(dataset="digits", subset="0:320", model="dncnn", model_args={"depth": 3, "width": 8},
                             noise="gaussian:0.2", epochs=1, batch_size=32, eval_images=16, device="cpu"),
                   out=tmp_path / "runs", quiet=True)
    r = runner.invoke(app, ["evaluate", str(run), "--dataset", "digits", "--split", "train", "--subset", "0:8",
                            "--sigma", "0.1,0.2", "-o", str(tmp_path / "e1"), "-q"])
    assert r.exit_code == 0, r.output
    assert r.output.count("may include images") == 1 and "digits train 0:8 may include" in r.output
    r = runner.invoke(app, ["evaluate", str(run), "--dataset", "digits", "--subset", "0:8", "--sigma", "0.1",
                            "-o", str(tmp_path / "e2"), "-q"])  # the test split: held out
    assert r.exit_code == 0 and "may include" not in r.output
