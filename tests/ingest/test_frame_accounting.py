"""Issue 15, class 4: every frame of every real capture in ../shared/data ends as exactly one of
normalized, control or rejected with a reason; nothing disappears silently."""

import json
from pathlib import Path

import pytest

from services.ingest.replay import open_capture, tally_capture

CAPTURES = [
    "cryptofeed/BINANCE_FUTURES.ws.1.0",
    "cryptofeed/BITGET.ws.2.0",
    "cryptofeed/BITMEX.ws.1.0",
    "cryptofeed/DERIBIT.ws.1.0",
    "cryptofeed/GATEIO_FUTURES.ws.1.0",
    "cryptofeed/KUCOIN.ws.1.0",
    "cryptofeed/OKX.ws.1.0",
    "cryptofeed/PHEMEX.ws.1.0",
    "cryptofeed/PHEMEX.ws.2.0",
    "hftbacktest/usdm/btcusdt_20240808.gz",
    "hftbacktest/cm/btcusd_perp_20240808.gz",
    "hftbacktest/hyperliquid/btcusd_20250126.gz",
]


def test_the_list_covers_every_capture_in_the_shared_data(shared_data: Path) -> None:
    found = {
        str(path.relative_to(shared_data))
        for pattern in ("cryptofeed/*.ws.*", "hftbacktest/*/*.gz")
        for path in shared_data.glob(pattern)
    }
    assert found == set(CAPTURES)


@pytest.mark.parametrize("name", CAPTURES)
def test_every_frame_is_normalized_control_or_rejected(shared_data: Path, name: str) -> None:
    tally = tally_capture(open_capture(shared_data / name))
    summary = tally.summary()
    assert tally.frames > 0
    assert tally.frames == tally.normalized + tally.control + sum(tally.rejected.values())
    assert (summary["frames"], summary["rejected"]) == (tally.frames, sum(tally.rejected.values()))
    # A parser crash shows as parser_error: every rejection has a reason of its own.
    assert "parser_error" not in tally.rejected
    assert json.loads(json.dumps(summary)) == summary


def test_the_binance_futures_sample_summary(shared_data: Path) -> None:
    summary = tally_capture(open_capture(shared_data / "cryptofeed/BINANCE_FUTURES.ws.1.0")).summary()
    assert summary == {
        "frames": 1539,
        "events": 1472,
        "normalized_frames": 1472,
        "control": 0,
        "rejected": 67,
        "rejected_by_reason": {"unknown_event": 67},
        "derived_instrument_events": 1472,
    }
