"""A 10,000 x 10,000 image denoises on the CPU within a stated memory bound (tiled inference)."""

import json
import subprocess
import sys
import textwrap

import pytest

# Bound on what denoising adds to the process's peak memory, beyond the caller's input array: the output
# (one float32 image, 400 MB here) plus at most 256 MB of tile work. The README states the same bound.
WORK_BUDGET_MB = 256

SCRIPT = textwrap.dedent("""
    import json, resource
    import numpy as np, torch
    from noisefree.denoiser import NetworkDenoiser
    from noisefree.models import build_model

    torch.manual_seed(0)
    card = {"architecture": "dncnn", "channels": 1, "arguments": {"depth": 3, "width": 4}}
    den = NetworkDenoiser(build_model("dncnn", channels=1, depth=3, width=4), card)  # small: CI has 2 cores
    den(np.zeros((600, 600), np.float32))  # warm up the allocator and kernels before measuring
    x = np.random.default_rng(0).random((10000, 10000), dtype=np.float32)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = den(x)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    corner = den(np.ascontiguousarray(x[:700, :700]))  # untiled (under 1 MP): the tiled result must agree
    print(json.dumps({"before": before, "peak": peak, "shape": list(out.shape), "dtype": str(out.dtype),
                      "corner_diff": float(np.abs(out[:500, :500] - corner[:500, :500]).max()),
                      "finite": bool(np.isfinite(out[::997, ::997]).all())}))
""")


@pytest.mark.slow
def test_10000_square_image_stays_within_memory_bound():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["shape"] == [10000, 10000] and r["dtype"] == "float32" and r["finite"]
    output_mb = 10000 * 10000 * 4 / 2**20
    added = r["peak"] - r["before"]
    assert added <= output_mb + WORK_BUDGET_MB, f"denoising added {added:.0f} MB to the peak"
    assert r["corner_diff"] < 1e-4
