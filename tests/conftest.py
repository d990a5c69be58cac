import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    """The shared datasets beside the project root (or WARBLE_SHARED_DATA)."""
    return Path(os.environ.get("WARBLE_SHARED_DATA", ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared() -> Path:
    d = shared_data()
    if not d.is_dir():
        pytest.skip(f"shared datasets not found at {d}")
    return d


@pytest.fixture(scope="session")
def synth_raw(tmp_path_factory) -> Path:
    """A small simulated dump shared by the end-to-end tests (2,000 posts, twitter_v2)."""
    from warble.data.synth import synthesize

    out = tmp_path_factory.mktemp("synth") / "raw"
    synthesize(out, 2000, seed=7, malformed_rate=0.01, progress=False)
    return out
