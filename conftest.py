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
