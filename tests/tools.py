"""Tools the tests need from the machine: skipped with the reason on a laptop, fatal in CI.

Under `CI=true` a missing tool fails the run (`.ci/run` installs every one of
them), so a broken install can never turn into a green run that skipped a
whole file of tests.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def missing(reason: str) -> None:
    """Leave the calling test module: skipped locally, a failure under CI=true."""
    if in_ci():
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_tmux() -> None:
    if shutil.which("tmux") is None:
        missing("tmux is not installed (apt-get install tmux)")


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")


NGINX = "/usr/sbin/nginx"


def require_nginx() -> None:
    if not Path(NGINX).exists():
        missing(f"{NGINX} is not installed (apt-get install nginx-light)")
