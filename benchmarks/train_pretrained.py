"""Train the models noisefree ships, from the recipes in benchmarks/pretrained/*.yaml, and install them.

    python benchmarks/train_pretrained.py --data ../shared/data                 # all four, then install
    python benchmarks/train_pretrained.py --data ../shared/data --only mnist --device cuda
    python benchmarks/train_pretrained.py --install gray-blind=benchmarks/out/pretrained/gray-blind-...
    python benchmarks/train_pretrained.py --recipes gpu --device cuda --only gray-blind   # the GPU recipes
    python benchmarks/train_pretrained.py --only gray-blind --no-install --set loss=mse  # an ablation arm

Each recipe is an ordinary run configuration; this script only fills in where the data lies. Training
writes an ordinary run folder under benchmarks/out/pretrained/; installing copies its best checkpoint
(float32 weights) into src/noisefree/assets/pretrained/ and records the SHA-256 sums the package checks on
load. Before installing, the new weights and the shipped ones are scored on the run's own validation
images (never a test set); weights that score no higher are not installed unless --force is given (the check
favours the shipped model where a different seed's split let it train on some of those images).
A recipe that fine-tunes the shipped model (``init: NAME``) adds a round to its card's training record
(epochs, learning rate, seed, minutes summed over the run's epochs, hardware), after the earlier rounds;
one that starts afresh replaces the record. Evaluate afterwards with benchmarks/pretrained_quality.py.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import yaml

import noisefree as nf
from common import OUT, ROOT, cifar10_folders, hardware
from noisefree.config import RunConfig

RECIPES = ROOT / "benchmarks" / "pretrained"
DESCRIPTIONS = {
    "gray-blind": "gray images of any size, Gaussian noise of std 0-55 (8-bit scale), with a noise-level map (sigma "
                  "slider; estimated per image when not given); trained on train400",
    "color-blind": "RGB images of any size, Gaussian noise of std 0-55 (8-bit scale), with a noise-level map (sigma "
                   "slider; estimated per image when not given); trained on CBSD432",
    "mnist": "28x28 handwritten digits, Gaussian noise of std 0-0.5 ([0, 1] scale, clipped); MNIST digits",
    "cifar10": "small RGB images like CIFAR-10, Gaussian noise of std 0-0.5 ([0, 1] scale, clipped); CIFAR-10",
}


def recipe(name: str, data: Path, recipes: Path = RECIPES, **overrides) -> RunConfig:
    fields = yaml.safe_load((recipes / f"{name}.yaml").read_text())
    if fields["dataset"] == "mnist":
        fields["data_root"] = str(data / "mnist")
    elif fields["dataset"] == "cifar10":
        train, _ = cifar10_folders(data)
        fields["dataset"] = f"folder:{train}"
    elif fields["dataset"] == "folder:train400":
        fields["dataset"] = f"folder:{data / 'gray' / 'train400'}"
    elif fields["dataset"] == "folder:cbsd432":
        fields["dataset"] = f"folder:{data / 'color' / 'cbsd432'}"
    return RunConfig.validated({**fields, **overrides}, source=str(recipes / f"{name}.yaml"))


def fields(items: list[str]) -> dict:
    """``KEY=VALUE`` items as recipe fields, each value read as YAML (``lr=1e-4``, ``loss=mse``)."""
    bad = [item for item in items if "=" not in item]
    if bad:
        raise SystemExit(f"--set takes KEY=VALUE items (e.g. loss=mse), not {', '.join(bad)}")
    return {key: yaml.safe_load(value) for key, value in (item.split("=", 1) for item in items)}


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--only", default="mnist,gray-blind,color-blind,cifar10")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--epochs", type=int, default=None, help="override the recipe's epochs")
    ap.add_argument("--recipes", default="", help="a folder of recipes under benchmarks/pretrained/ (e.g. gpu)")
    ap.add_argument("--set", nargs="+", action="extend", default=[], metavar="KEY=VALUE", dest="fields",
                    help="change recipe fields (values read as YAML), e.g. for one arm of an ablation: loss=mse; "
                         "give several after one --set or repeat it")
    ap.add_argument("--no-install", action="store_true", help="train only")
    ap.add_argument("--force", action="store_true",
                    help="install even where the new weights validate no higher than the shipped ones")
    ap.add_argument("--install", nargs="*", default=None, metavar="NAME=RUN",
                    help="install already trained run folders instead of training")
    ap.add_argument("--hardware", default=None, help="the machine the run trained on, for its card (default: "
                                                      "RUN/trained_on.txt, else this machine)")
    ap.add_argument("--note", default="", help="added to the round's description, e.g. 'one thread, beside "
                                               "another run'")
    return ap


def main():
    args = parser().parse_args()

    if args.install is not None:
        runs = dict(item.split("=", 1) for item in args.install)
    else:
        runs = {}
        for name in args.only.split(","):
            overrides = ({"device": args.device} | ({"epochs": args.epochs} if args.epochs else {})
                         | fields(args.fields))
            t0 = time.perf_counter()
            runs[name] = nf.train(recipe(name, args.data, RECIPES / args.recipes, **overrides), out=OUT / "pretrained")
            minutes = (time.perf_counter() - t0) / 60
            (Path(runs[name]) / "trained_on.txt").write_text(hardware() + "\n")
            print(f"{name}: {runs[name]} ({minutes:.1f} min)", flush=True)
    if args.no_install:
        return
    from shipping import install, validation_gain
    for name, run in runs.items():
        gain = validation_gain(name, run)
        if gain is not None and gain <= 0 and not args.force:
            print(f"not installing {name}: {run} validates {gain:+.3f} dB against the shipped weights, no higher "
                  "(--force installs it anyway)")
            continue
        machine = Path(run) / "trained_on.txt"  # written where it trained (a GPU machine, say)
        machine = args.hardware or (machine.read_text().strip() if machine.is_file() else hardware())
        path = install(Path(run), name, description=DESCRIPTIONS[name], hardware=machine, note=args.note,
                       rewrite={str(args.data): "../shared/data", f"{ROOT}/": ""})
        print(f"installed {name}: {path}")


if __name__ == "__main__":
    main()
