"""The ways to open the course: Binder and a dev container both build from
requirements.txt.
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_binder_uses_the_tested_python_and_the_pinned_requirements():
    # repo2docker (Binder) installs requirements.txt with the Python of runtime.txt.
    assert (ROOT / "runtime.txt").read_text().strip() == "python-3.11"
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()


def test_the_dev_container_installs_the_pinned_requirements():
    config = json.loads((ROOT / ".devcontainer" / "devcontainer.json").read_text())
    assert re.search(r"python:3\.11$", config["image"])
    assert "pip install -r requirements.txt" in config["postCreateCommand"]
