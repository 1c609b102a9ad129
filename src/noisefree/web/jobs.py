"""The web page's work queue: uploads decoded safely, denoised one at a time, results kept in memory.

One worker thread takes jobs in order, so a second request while one runs waits in the queue (its position
is reported) instead of being lost or competing for the CPU. Uploaded bytes are decoded from a temporary
file with a fixed name (the uploaded name is never used as a path), under a pixel limit that also guards
against decompression bombs. Results stay in memory; the oldest are dropped beyond ``keep`` jobs.
"""

from __future__ import annotations

import io
import queue
import tempfile
import threading
import time
import uuid
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..intensity import UnitMap, to_unit

__all__ = ["Job", "JobQueue", "UploadError", "decode_upload", "encode_result", "preview_png"]


class UploadError(ValueError):
    """An upload that cannot be used; the message is shown on the page."""


def decode_upload(data: bytes, *, max_pixels: int) -> tuple[np.ndarray, object, object]:
    """The uploaded bytes as an image (float32 on [0, 1]), its :class:`~noisefree.io.ImageInfo` and the
    :class:`~noisefree.intensity.UnitMap` that brought a float TIFF in other units (or with NaNs) onto [0, 1]."""
    from PIL import Image

    from ..io import ImageReadError, read_image

    if not data:
        raise UploadError("the file is empty")
    with tempfile.TemporaryDirectory(prefix="noisefree-web-") as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(data)
        old = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                warnings.simplefilter("ignore", UserWarning)  # "holds PNG data although its name ends in ''"
                image, info = read_image(path)
        except (ImageReadError, OSError, ValueError, Image.DecompressionBombWarning) as exc:
            if "DecompressionBomb" in f"{type(exc).__name__} {exc}":  # Pillow's guard, tightened to our limit
                raise UploadError(f"the image is too large to decode safely (over {max_pixels / 1e6:.0f} "
                                  "megapixels, the server's limit: --max-megapixels)") from None
            raise UploadError(str(exc).replace(str(path), "the uploaded file")) from None
        finally:
            Image.MAX_IMAGE_PIXELS = old
    if image.shape[0] * image.shape[1] > max_pixels:
        raise UploadError(f"the image has {image.shape[0] * image.shape[1] / 1e6:.1f} megapixels; the limit is "
                          f"{max_pixels / 1e6:.0f}")
    try:
        image, mapping = to_unit(image, name="the uploaded file")
    except ValueError as exc:
        raise UploadError(str(exc)) from None
    return image, info, mapping


def encode_result(image: np.ndarray, info) -> tuple[bytes, str]:
    """The result in the input's format and bit depth: (bytes, file suffix)."""
    from ..io import WRITE_SUFFIXES, write_image

    suffix = info.format if info.format in WRITE_SUFFIXES else ".png"  # a GIF comes back as PNG
    if info.dtype == "uint16" and suffix in (".jpg", ".bmp", ".webp"):
        suffix = ".png"
    with tempfile.TemporaryDirectory(prefix="noisefree-web-") as tmp:
        path = write_image(Path(tmp) / f"result{suffix}", image, info)
        return path.read_bytes(), suffix


def preview_png(image: np.ndarray) -> bytes:
    """An 8-bit PNG of ``image`` for the browser to show."""
    from PIL import Image

    arr = np.rint(np.clip(image, 0, 1) * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


@dataclass
class Job:
    id: str
    method: str
    sigma: float | None  # [0, 1] scale; None: estimated
    image: np.ndarray  # on [0, 1]: the σ slider and the previews are on this scale
    info: object
    filename: str
    unit_map: UnitMap = field(default_factory=UnitMap)  # back to the file's units for the download
    state: str = "queued"  # queued, running, done, failed
    error: str = ""
    tiles: tuple[int, int] = (0, 0)
    sigma_used: float | None = None  # None: the method is blind
    sigma_estimated: float | None = None
    seconds: float = 0.0
    result: np.ndarray | None = None
    download: bytes | None = None
    suffix: str = ""
    created: float = field(default_factory=time.time)

    def status(self, position: int | None) -> dict:
        h, w = self.image.shape[:2]
        return {"id": self.id, "state": self.state, "error": self.error, "position": position,
                "tiles_done": self.tiles[0], "tiles_total": self.tiles[1], "method": self.method,
                "sigma_used_8bit": None if self.sigma_used is None else self.sigma_used * 255,
                "sigma_estimated_8bit": None if self.sigma_estimated is None else self.sigma_estimated * 255,
                "sigma_clipped": self.sigma is None and self.sigma_used not in (None, self.sigma_estimated),
                "seconds": self.seconds, "width": w, "height": h, "bits": self.info.dtype,
                "channels": 1 if self.image.ndim == 2 else self.image.shape[-1], "download_name": self.download_name,
                "values": self.unit_map.describe()}

    @property
    def download_name(self) -> str:
        stem = "".join(c if c.isalnum() or c in "-_" else "_" for c in Path(self.filename).stem)[:60] or "image"
        return f"{stem}-denoised{self.suffix or self.info.format}"


class JobQueue:
    """Jobs denoised one at a time by a worker thread. ``resolve(name)`` gives a method's denoiser."""

    def __init__(self, resolve, *, keep: int = 8):
        self._resolve = resolve
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._order: list[str] = []  # ids waiting, in order
        self._lock = threading.Lock()
        self.keep = keep
        self._worker = threading.Thread(target=self._work, name="noisefree-web-worker", daemon=True)
        self._worker.start()

    def submit(self, *, method: str, sigma: float | None, image: np.ndarray, info, filename: str,
               unit_map: UnitMap | None = None) -> Job:
        job = Job(uuid.uuid4().hex, method, sigma, image, info, filename, unit_map or UnitMap())
        with self._lock:
            self._jobs[job.id] = job
            self._order.append(job.id)
            while len(self._jobs) > self.keep:  # drop the oldest finished job
                old = next((k for k, j in self._jobs.items() if j.state in ("done", "failed")), None)
                if old is None:
                    break
                del self._jobs[old]
        self._queue.put(job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def position(self, job: Job) -> int | None:
        with self._lock:
            return self._order.index(job.id) if job.id in self._order else None

    def close(self) -> None:
        self._queue.put(None)

    def _work(self) -> None:
        from ..noise import denoising_sigma, estimate_noise_sigma_sampled

        while (job := self._queue.get()) is not None:
            job.state = "running"
            t0 = time.perf_counter()
            try:
                den = self._resolve(job.method)
                job.sigma_estimated = estimate_noise_sigma_sampled(job.image)
                if getattr(den, "takes_sigma", False):
                    job.sigma_used = (job.sigma if job.sigma is not None  # blind: the noise left after clipping
                                      else denoising_sigma(job.image, job.sigma_estimated))
                den.tile_progress = lambda done, total, job=job: setattr(job, "tiles", (done, total))
                out = den(job.image, sigma=job.sigma_used)
                job.seconds = time.perf_counter() - t0
                job.result = np.asarray(out, dtype=np.float32)
                job.download, job.suffix = encode_result(job.unit_map.back(job.result), job.info)
                job.state = "done"
            except Exception as exc:  # shown on the page; the server goes on
                job.error, job.state = str(exc) or type(exc).__name__, "failed"
            finally:
                with self._lock:
                    if job.id in self._order:
                        self._order.remove(job.id)
