"""Shared test helpers: the corpus location and the project's log generator."""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path
from typing import Callable

import pytest
from hypothesis import settings

# Property tests are deterministic by default, so CI never fails by chance; set
# HYPOTHESIS_PROFILE=explore to search with fresh random examples.
settings.register_profile("deterministic", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("ZEEK_PROXY_CORPUS", ROOT.parent / "shared" / "corpus"))
FIXTURES = ROOT / "fixtures"


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate", ROOT / "scripts" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["generate"] = module
    spec.loader.exec_module(module)
    return module


generate = _load_generator()


@pytest.fixture
def corpus() -> Path:
    """../shared/corpus (or $ZEEK_PROXY_CORPUS), read in place; skip when absent."""
    if not CORPUS.is_dir():
        pytest.skip("../shared/corpus is not present")
    return CORPUS


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll `condition` until it holds (a process working in the background), or fail."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")
