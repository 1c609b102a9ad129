"""``python -m noisefree ...`` is the ``noisefree`` command."""

from .cli import app

app(prog_name="noisefree")
