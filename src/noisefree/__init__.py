"""noisefree: train, evaluate, compare and apply image denoisers.

The pipeline, one module each: data -> noise -> models -> training -> evaluation -> report / apply.

    import noisefree as nf
    run = nf.train(preset="demo")                 # a run folder with checkpoints and report.md
    den = nf.load(run)                            # a Denoiser; also a .safetensors path
    clean = den(noisy)                            # numpy H x W or H x W x C on [0, 1], or torch tensors
    result = nf.evaluate(den, dataset="digits", noise="gaussian:0.3")
"""

from __future__ import annotations

__version__ = "0.1.0"

from .api import evaluate, load, train  # noqa: E402
from .denoiser import Denoiser  # noqa: E402

__all__ = ["Denoiser", "__version__", "evaluate", "load", "train"]
