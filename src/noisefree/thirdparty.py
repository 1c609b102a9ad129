"""Other people's checkpoints: the field's published restoration networks beside ours.

``nf.load("dncnn_25.pth")`` (or ``.pt``, ``.ckpt``) reads the file with ``torch.load(weights_only=True)``, so
no code in it ever runs, and hands the weights to `spandrel <https://github.com/chaiNNer-org/spandrel>`_
(MIT), which recognises the architecture from the weights alone: DnCNN / FDnCNN, DRUNet, SCUNet, SwinIR,
NAFNet and more of KAIR, BasicSR and their relatives; with ``spandrel_extra_arches`` installed (its
architectures' licences are restrictive, so it is never a dependency), also Restormer, MPRNet and MIRNet-v2.
FFDNet is not among them (spandrel 0.4 does not recognise it). The network then answers the usual
``den(noisy, sigma=None)`` and works in ``denoise``, ``evaluate`` and ``benchmark``. Networks whose first
layer takes one channel more than the image (FDnCNN, DRUNet) get the noise-level map: σ as given, else
estimated per image. Super-resolution and other non-denoising models are refused by name. Each
architecture's licence is shown where we know it: some published weights are for non-commercial use only,
and a checkpoint's own terms come with where you downloaded it. Needs the ``thirdparty`` extra
(``pip install 'noisefree[thirdparty]'``).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from .denoiser import Denoiser, run_in_pieces, sigma_per_image

__all__ = ["LICENSES", "ThirdPartyDenoiser"]

#: the architecture code's licence, as published in its repository (the weights may carry their own terms)
LICENSES = {
    "DnCNN": "MIT (KAIR, Kai Zhang)", "DRUNet": "MIT (KAIR, Kai Zhang)", "FFDNet": "MIT (KAIR, Kai Zhang)",
    "SCUNet": "Apache-2.0", "SwinIR": "Apache-2.0", "NAFNet": "MIT",
    "Restormer": "restrictive: research / non-commercial terms (see its repository)",
    "MPRNet": "restrictive: research / non-commercial terms (see its repository)",
    "MIRNet2": "restrictive: research / non-commercial terms (see its repository)",
    "Uformer": "MIT", "KBNet": "MIT",
}
_EXTRA = ("reading other frameworks' checkpoints needs the thirdparty extra: pip install 'noisefree[thirdparty]' "
          "(spandrel)")


def _add_extra_architectures() -> None:
    """Restormer, MPRNet, MIRNet-v2 and others with restrictive licences live in ``spandrel_extra_arches``;
    when the user has installed it, spandrel learns them too (once)."""
    global _EXTRA_ADDED
    if _EXTRA_ADDED:
        return
    _EXTRA_ADDED = True
    try:
        import spandrel_extra_arches
    except ImportError:
        return
    try:
        spandrel_extra_arches.install()
    except Exception:  # already installed by the caller
        pass


_EXTRA_ADDED = False


class ThirdPartyDenoiser(Denoiser):
    """A published network loaded through spandrel from a ``.pth``/``.pt``/``.ckpt`` state dict."""

    def __init__(self, path, *, device=None, tile: int = 512, overlap: int = 96, tile_pixels: int = 1024 * 1024):
        try:
            import spandrel
        except ImportError:
            raise ImportError(_EXTRA) from None
        self.path = Path(path)
        try:
            state = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{self.path}: not a file of weights that loads safely (torch.load with weights_only="
                             f"True refused it: {str(exc).splitlines()[0]}). noisefree never runs code from a "
                             "checkpoint; save the model's state_dict instead") from None
        if not isinstance(state, dict):
            raise ValueError(f"{self.path}: holds a {type(state).__name__}, not a state dict of weights")
        _add_extra_architectures()
        try:
            desc = spandrel.ModelLoader().load_from_state_dict(spandrel.canonicalize_state_dict(state))
        except spandrel.UnsupportedModelError:
            raise ValueError(f"{self.path}: spandrel does not recognise this network from its weights (it knows "
                             "DnCNN, DRUNet, SCUNet, SwinIR, NAFNet and more: https://github.com/chaiNNer-org/"
                             "spandrel)") from None
        if desc.purpose not in ("Restoration",) or desc.scale != 1:
            raise ValueError(f"{self.path}: a {desc.architecture.name} {desc.purpose} model (scale {desc.scale}), "
                             "not a denoiser; noisefree applies networks that keep the image size")
        self.descriptor = desc
        self.model = desc.model.eval()
        if device is not None:
            self.model.to(device)
        self.arch = desc.architecture.name
        first = next(m for m in self.model.modules() if isinstance(m, torch.nn.Conv2d))
        self.channels = desc.output_channels
        self.takes_sigma = first.in_channels == desc.output_channels + 1  # FDnCNN, DRUNet: a noise-level map
        self.name = f"{self.arch} ({self.path.name})"
        self.license = LICENSES.get(self.arch, "not recorded here: see the architecture's repository")
        self.card = None
        self.tile, self.overlap, self.tile_pixels = tile, overlap, tile_pixels
        if "restrictive" in self.license:
            warnings.warn(f"{self.name}: the {self.arch} architecture's licence is {self.license}", UserWarning,
                          stacklevel=2)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @torch.inference_mode()
    def denoise_batch(self, x: torch.Tensor, sigma=None) -> torch.Tensor:
        req = self.descriptor.size_requirements

        def run(t: torch.Tensor, s) -> torch.Tensor:
            h, w = t.shape[-2:]
            ph = max(req.minimum, h + (-h) % req.multiple_of) - h
            pw = max(req.minimum, w + (-w) % req.multiple_of) - w
            if req.square:
                side = max(h + ph, w + pw)
                ph, pw = side - h, side - w
            mode = "reflect" if ph < h and pw < w else "replicate"
            t = F.pad(t.to(self.device, torch.float32), (0, pw, 0, ph), mode=mode)
            if s is not None:
                t = torch.cat([t, s.to(t).view(-1, 1, 1, 1).expand(t.shape[0], 1, *t.shape[-2:])], 1)
            return self.model(t).float()[..., :h, :w]

        return run_in_pieces(run, x, sigma_per_image(x, sigma) if self.takes_sigma else None, batch_size=1,
                             tile_pixels=self.tile_pixels, tile=self.tile, overlap=self.overlap,
                             progress=self.tile_progress)
