"""ONNX export, and denoising through onnxruntime, so a deployment can drop PyTorch.

``export_onnx("gray-blind", "gray-blind.onnx")`` writes one file for any registered fully convolutional
network (a shipped name, a run folder or a checkpoint): input ``image`` (N, C, H, W) float32 on the [0, 1]
scale with dynamic batch, height and width; for networks with a noise-level map a second input ``sigma``
(N,) (the noise std on the [0, 1] scale); output ``denoised``, the same shape. The reflect padding an
architecture needs (e.g. to a multiple of 8) is inside the graph, so any size from the architecture's
minimum up works; batch norms are folded first. Fixed-size designs (``dense-ae``) export with their one
size. The model card travels as ONNX metadata (``noisefree_card``).

:class:`OnnxDenoiser` runs such a file with onnxruntime behind the usual ``den(noisy, sigma=None)`` call,
with the same tiling of large images as :class:`noisefree.denoiser.NetworkDenoiser`;
``noisefree denoise --model model.onnx`` and ``nf.load("model.onnx")`` use it. Needs the ``onnx`` extra
(``pip install 'noisefree[onnx]'``: onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .card import ModelCard
from .denoiser import Denoiser, run_in_pieces, sigma_per_image
from .models.registry import ModelSpec, get_spec

__all__ = ["OnnxDenoiser", "export_onnx", "parity"]

_EXTRA = "the onnx extra is not installed: pip install 'noisefree[onnx]' (onnx, onnxscript, onnxruntime)"


class _Padded(nn.Module):
    """The network with its padding in the graph: reflect-pad H and W to the sizes it takes, run, crop back."""

    def __init__(self, model: nn.Module, spec: ModelSpec, takes_sigma: bool):
        super().__init__()
        self.model, self.multiple, self.offset, self.takes_sigma = model, spec.multiple, spec.offset, takes_sigma

    def forward(self, image, sigma=None):
        h, w = image.shape[-2], image.shape[-1]
        ph, pw = (self.offset - h) % self.multiple, (self.offset - w) % self.multiple
        out = self.model(F.pad(image, (0, pw, 0, ph), mode="reflect"), sigma if self.takes_sigma else None)
        return out[..., :h, :w]


def export_onnx(model, path, *, opset: int = 18) -> Path:
    """Write ``model`` (shipped name, run folder, checkpoint, or a :class:`~noisefree.resolve.Method`) as ONNX."""
    from .inference import fold_batchnorm
    from .resolve import resolve

    try:
        import onnx
    except ImportError:
        raise ImportError(_EXTRA) from None
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise ValueError(f"{path}: name the ONNX file with the .onnx suffix")
    method = resolve(model, device="cpu")
    card = method.card
    if card is None:
        raise ValueError(f"{model}: a {method.kind} method has no network to export; give a shipped model, a run "
                         "folder or a checkpoint")
    spec = get_spec(card.architecture)
    net = _Padded(fold_batchnorm(method.denoiser.model).float().eval(), spec, card.takes_sigma)
    smallest = max(spec.multiple, spec.minimum, 2)
    h, w = card.image_size or spec.fixed_size or (max(smallest, 32), max(smallest, 32) + spec.multiple)
    image = torch.rand(2, card.channels, h, w)
    args, names = (image,), ["image"]
    shapes = {"image": {0: torch.export.Dim("batch", min=1)}}
    if not spec.fixed_size:
        shapes["image"] |= {2: torch.export.Dim("height", min=smallest), 3: torch.export.Dim("width", min=smallest)}
    if card.takes_sigma:
        args, names = (image, torch.full((2,), 0.1)), ["image", "sigma"]
        shapes["sigma"] = {0: shapes["image"][0]}
    path.parent.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):  # the exporter's progress lines
        warnings.simplefilter("ignore")
        torch.onnx.export(net, args, str(path), dynamo=True, dynamic_shapes=shapes, input_names=names,
                          output_names=["denoised"], opset_version=opset, verbose=False)
    graph = onnx.load(str(path), load_external_data=False)
    written = {e.value for t in graph.graph.initializer for e in t.external_data if e.key == "location"}
    onnx.load_external_data_for_model(graph, str(path.parent))  # the exporter may put the weights beside it
    entry = graph.metadata_props.add()
    entry.key, entry.value = "noisefree_card", card.model_copy(update={"training": None}).to_json()
    graph.doc_string = (f"noisefree {card.name or card.architecture}: image (N, {card.channels}, H, W) float32 on "
                        f"[0, 1]" + (", sigma (N,) noise std on [0, 1]" if card.takes_sigma else "")
                        + " -> denoised, same shape")
    onnx.save(graph, str(path))  # one self-contained file, weights inside
    for name in written:
        (path.parent / name).unlink(missing_ok=True)
    return path


def parity(model, path, *, shapes=None) -> dict[str, float]:
    """max |ONNX - PyTorch| for ``model`` and its export at ``path`` on random images of a few sizes (default:
    three, one not a multiple of 8 and one not square; the fixed size for fixed-size designs)."""
    from .resolve import resolve

    torch_den = resolve(model, device="cpu").denoiser
    onnx_den = OnnxDenoiser(path)
    card = onnx_den.card
    fixed = card.image_size or onnx_den.spec.fixed_size
    shapes = shapes or ([(1, *fixed), (3, *fixed)] if fixed else [(1, 64, 64), (2, 37, 50), (1, 96, 41)])
    g = torch.Generator().manual_seed(0)
    result = {}
    for n, h, w in shapes:
        x = torch.rand(n, card.channels, h, w, generator=g)
        sigma = 0.1 if card.takes_sigma else None
        diff = (onnx_den(x, sigma=sigma) - torch_den(x, sigma=sigma)).abs().max()
        result[f"{n}x{card.channels}x{h}x{w}"] = float(diff)
    return result


class OnnxDenoiser(Denoiser):
    """An exported network run by onnxruntime (CPU unless ``providers`` says otherwise). Like
    :class:`~noisefree.denoiser.NetworkDenoiser`: σ estimated per image for noise-map networks when not given,
    images over ``tile_pixels`` in blended tiles."""

    def __init__(self, path, *, providers=None, batch_size: int = 16, tile: int = 512, overlap: int = 96,
                 tile_pixels: int = 1024 * 1024):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(_EXTRA) from None
        self.path = Path(path)
        try:
            self.session = ort.InferenceSession(str(self.path), providers=providers or ["CPUExecutionProvider"])
        except Exception as exc:
            raise ValueError(f"{self.path}: not an ONNX model onnxruntime can load ({exc})") from None
        meta = self.session.get_modelmeta().custom_metadata_map
        if "noisefree_card" not in meta:
            raise ValueError(f"{self.path}: an ONNX model without a noisefree model card; export it with "
                             "`noisefree export`")
        self.card = ModelCard.parse(json.loads(meta["noisefree_card"]), source=str(self.path))
        self.spec = get_spec(self.card.architecture)
        self.channels, self.takes_sigma = self.card.channels, self.card.takes_sigma
        self.name = self.card.name or self.card.architecture
        self.batch_size, self.tile, self.overlap, self.tile_pixels = batch_size, tile, overlap, tile_pixels

    def _run_session(self, x: torch.Tensor, sigma: torch.Tensor | None) -> torch.Tensor:
        h, w = x.shape[-2:]
        smallest = max(self.spec.multiple, self.spec.minimum, 2)
        if not self.spec.fixed_size and (h < smallest or w < smallest):  # below the graph's reflect padding
            x = F.pad(x, (0, max(0, smallest - w), 0, max(0, smallest - h)), mode="replicate")
        feeds = {"image": x.float().cpu().numpy()}
        if self.takes_sigma:
            feeds["sigma"] = sigma.float().cpu().numpy()
        return torch.from_numpy(self.session.run(None, feeds)[0])[..., :h, :w]

    def denoise_batch(self, x: torch.Tensor, sigma=None) -> torch.Tensor:
        self.spec.check_size(*x.shape[-2:])
        return run_in_pieces(self._run_session, x, sigma_per_image(x, sigma) if self.takes_sigma else None,
                             batch_size=self.batch_size, tile_pixels=0 if self.spec.fixed_size else self.tile_pixels,
                             tile=self.tile, overlap=self.overlap, progress=self.tile_progress)
