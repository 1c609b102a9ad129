"""``noisefree serve``: a local web page to denoise an image and compare before/after (the ``web`` extra).

:mod:`.jobs` holds the work queue and safe decoding, :mod:`.app` the FastAPI routes, ``static/`` the page."""

from .app import create_app, find_methods

__all__ = ["create_app", "find_methods"]
