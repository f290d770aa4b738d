"""Where the checkout, its local-stack scripts and the shared exchange captures are."""

import os
from pathlib import Path


def repo_root() -> Path:
    """The checkout this code runs from (an editable install), else the working directory."""
    candidate = Path(__file__).resolve().parents[2]
    return candidate if (candidate / "deploy" / "local" / "stack.sh").exists() else Path.cwd()


def state_dir() -> Path:
    """The local stack's state (``deploy/local/stack.sh``): ``$PERPWATCH_STATE_DIR`` or ``.state``."""
    configured = os.environ.get("PERPWATCH_STATE_DIR")
    return Path(configured) if configured else repo_root() / ".state"


def shared_data_dir() -> Path:
    """Real exchange captures: ``$PERPWATCH_DATA_DIR`` or the checkout's sibling ``shared/data``."""
    configured = os.environ.get("PERPWATCH_DATA_DIR")
    return Path(configured) if configured else repo_root().parent / "shared" / "data"


def binance_capture() -> Path:
    return shared_data_dir() / "hftbacktest" / "usdm" / "btcusdt_20240808.gz"
