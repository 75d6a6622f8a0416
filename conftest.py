"""pytest settings shared by the unit tests and the notebooks that nbval re-executes."""

import os

# Under pytest-xdist (`pytest -n 2`) each worker, and the notebook kernels it starts,
# uses one intra-op thread: two workers with two OpenMP threads each on a 2-core machine
# can run 100x slower than one each. Outputs never depend on the thread count (see
# CONTRIBUTING.md), so this only changes the speed.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")

# Tests and re-executed notebooks write their token caches (gptcore.tokens) and
# downloads to a temporary folder, never to the user's ~/.cache/gptcore.
if "GPTCORE_CACHE" not in os.environ:
    import tempfile

    os.environ["GPTCORE_CACHE"] = tempfile.mkdtemp(prefix="gptcore-test-cache-")


def _retry_kernel_starts(attempts: int = 3) -> None:
    """Start a notebook's kernel again if it never answers. jupyter_client picks free
    ports and then the kernel binds them, so when two pytest-xdist workers start kernels
    at the same moment one can lose its ports to the other and wait out nbval's 60 s."""
    try:
        import nbval.kernel
    except ImportError:  # nbval is not installed: no notebooks to run
        return
    start = nbval.kernel.start_new_kernel

    def start_again_if_silent(*args, **kwargs):
        for _ in range(attempts - 1):
            try:
                return start(*args, **kwargs)
            except RuntimeError:  # "Kernel didn't respond in 60 seconds": again
                pass
        return start(*args, **kwargs)

    nbval.kernel.start_new_kernel = start_again_if_silent


_retry_kernel_starts()
