"""The local web page's server (FastAPI): one page, its own static files, and a small JSON API.

    GET  /                      the page (static/index.html)
    GET  /static/NAME           its script and style, nothing else
    GET  /api/methods           the methods on offer: shipped models, classical methods, runs found at start-up
    POST /api/jobs              an image (multipart ``file``), ``method``, ``sigma`` ('auto' or 0-255, 8-bit scale)
    GET  /api/jobs/ID           state, queue position, tiles done, σ, time
    GET  /api/jobs/ID/input.png, /result.png     8-bit previews for the comparison view
    GET  /api/jobs/ID/download  the result in the input's format and bit depth
"""

# no `from __future__ import annotations`: FastAPI reads the route signatures' types at run time
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from .jobs import JobQueue, UploadError, decode_upload, preview_png

__all__ = ["create_app", "find_methods"]

STATIC = Path(__file__).parent / "static"


def find_methods(runs: Path | None = None) -> list[dict]:
    """What the page offers: shipped models, classical methods, and run folders / checkpoints under ``runs``."""
    from ..checkpoint import CHECKPOINT_NAMES
    from ..classical import CLASSICAL
    from ..pretrained import list_pretrained

    methods = [{"name": "auto", "kind": "shipped", "label": "auto (gray-blind or color-blind by channels)"}]
    methods += [{"name": n, "kind": "shipped", "label": f"{n} (shipped)"} for n in list_pretrained()]
    methods += [{"name": n, "kind": "classical", "label": f"{n} (classical)"} for n in CLASSICAL]
    if runs is not None and Path(runs).is_dir():
        for folder in sorted(p for p in Path(runs).iterdir() if p.is_dir()):
            if any((folder / c).is_file() for c in CHECKPOINT_NAMES):
                methods.append({"name": str(folder), "kind": "run", "label": f"{folder.name} (run)"})
    return methods


def create_app(*, runs: Path | None = None, max_upload_mb: float = 64, max_megapixels: float = 50,
               device: str | None = None):
    """The FastAPI application (``noisefree serve`` runs it with uvicorn)."""
    try:
        from fastapi import FastAPI, File, Form, HTTPException, UploadFile
        from fastapi.responses import FileResponse, JSONResponse, Response
        from fastapi.staticfiles import StaticFiles
    except ImportError:
        raise ImportError("the web page needs the web extra: pip install 'noisefree[web]' (fastapi, uvicorn, "
                          "python-multipart)") from None
    from ..resolve import resolve

    methods = find_methods(runs)
    allowed = {m["name"] for m in methods}

    @lru_cache(maxsize=8)
    def denoiser(name: str):
        return resolve(name, device=device).denoiser

    jobs = JobQueue(denoiser)

    @asynccontextmanager
    async def lifespan(_):
        yield
        jobs.close()

    app = FastAPI(title="noisefree", docs_url=None, redoc_url=None, lifespan=lifespan)
    app.state.jobs = jobs
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/")
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/api/methods")
    def list_methods():
        return {"methods": methods, "max_upload_mb": max_upload_mb, "max_megapixels": max_megapixels}

    @app.post("/api/jobs")
    async def submit(file: UploadFile = File(...), method: str = Form("auto"), sigma: str = Form("auto")):
        if method not in allowed:
            raise HTTPException(400, f"unknown method {method!r}; choose one of the list")
        if sigma.strip().lower() == "auto":
            level = None
        else:
            try:
                level = float(sigma)
            except ValueError:
                raise HTTPException(400, f"sigma {sigma!r}: give 'auto' or a number from 0 to 255") from None
            if not 0 <= level <= 255:
                raise HTTPException(400, f"sigma {level:g}: the noise std on the 8-bit scale is 0 to 255")
            level /= 255
        limit = int(max_upload_mb * 1024 * 1024)
        data = await file.read(limit + 1)
        if len(data) > limit:
            raise HTTPException(413, f"the file is larger than the server's upload limit of {max_upload_mb:g} MB")
        try:
            image, info, unit_map = decode_upload(data, max_pixels=int(max_megapixels * 1e6))
        except UploadError as exc:
            raise HTTPException(400, str(exc)) from None
        job = jobs.submit(method=method, sigma=level, image=image, info=info, filename=file.filename or "image",
                          unit_map=unit_map)
        return JSONResponse(job.status(jobs.position(job)), status_code=202)

    def _job(job_id: str):
        job = jobs.get(job_id)
        if job is None:
            raise HTTPException(404, "no such job (results are kept for the last few only)")
        return job

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str):
        job = _job(job_id)
        return job.status(jobs.position(job))

    @app.get("/api/jobs/{job_id}/input.png")
    def input_preview(job_id: str):
        return Response(preview_png(_job(job_id).image), media_type="image/png")

    @app.get("/api/jobs/{job_id}/result.png")
    def result_preview(job_id: str):
        job = _job(job_id)
        if job.result is None:
            raise HTTPException(409, f"the job is {job.state}")
        return Response(preview_png(job.result), media_type="image/png")

    @app.get("/api/jobs/{job_id}/download")
    def download(job_id: str):
        job = _job(job_id)
        if job.download is None:
            raise HTTPException(409, f"the job is {job.state}")
        return Response(job.download, media_type="application/octet-stream",
                        headers={"Content-Disposition": f'attachment; filename="{job.download_name}"'})

    return app
