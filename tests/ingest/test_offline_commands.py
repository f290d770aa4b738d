"""Issue 15, classes 1, 4 and 5: ``perpwatch normalize``, ``replay`` and ``book check`` take
``--instruments FILE``, end with one summary JSON line on stderr (frames, events, control,
rejected by reason), and ``book check`` reads the project's own ``perpwatch capture`` files.

Every real-data file in ../shared/data is accounted for: ``frames == control +
normalized_frames + rejected`` (the WebSocket captures here; the ccxt-ws test cases too, whose
frames are today's wire formats).
"""

import gzip
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from schemas.common import ExchangeId
from services.book_builder.check import check_capture
from services.ingest.capture import CaptureWriter
from services.ingest.connector.parse import normalize_raw
from services.ingest.normalizer import FrameRejected
from services.ingest.replay import FrameTally, open_capture, tally_capture
from services.instruments.catalog import load_snapshot
from services.venues import adapter_for
from tests.ingest.test_frame_accounting import CAPTURES

SUMMARY_KEYS = {
    "frames",
    "events",
    "normalized_frames",
    "control",
    "rejected",
    "rejected_by_reason",
    "derived_instrument_events",
}


def _accounted(summary: dict[str, Any]) -> bool:
    return bool(
        summary["frames"] == summary["control"] + summary["normalized_frames"] + summary["rejected"]
        and summary["rejected"] == sum(summary["rejected_by_reason"].values())
    )


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private (empty) instrument cache: the commands must not read the shared .state one."""
    from services.runtime.settings import get_settings

    cache = tmp_path / "cache"
    monkeypatch.setenv("PERPWATCH_INSTRUMENT_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    yield cache
    get_settings.cache_clear()


def _last_json_line(text: str) -> dict[str, Any]:
    summary: dict[str, Any] = orjson.loads(text.strip().splitlines()[-1])
    return summary


# --- every real-data file --------------------------------------------------------------------


@pytest.mark.parametrize("name", CAPTURES)
def test_frames_are_control_plus_normalized_plus_rejected_on_every_capture(
    shared_data: Path, name: str
) -> None:
    summary = tally_capture(open_capture(shared_data / name)).summary()
    assert set(summary) == SUMMARY_KEYS
    assert _accounted(summary), summary


_CCXT_VENUES = {
    "bitget": ExchangeId.BITGET,
    "bybit": ExchangeId.BYBIT,
    "deribit": ExchangeId.DERIBIT,
    "gate": ExchangeId.GATEIO,
    "hyperliquid": ExchangeId.HYPERLIQUID,
    "kucoinfutures": ExchangeId.KUCOIN_FUTURES,
    "okx": ExchangeId.OKX,
    "phemex": ExchangeId.PHEMEX,
}


def _ccxt_venue(name: str, url: str) -> ExchangeId:
    if name == "binance":
        return ExchangeId.BINANCE_COINM if "dstream" in url else ExchangeId.BINANCE_USDM
    return _CCXT_VENUES[name]


def test_the_ccxt_ws_list_covers_every_file(shared_data: Path) -> None:
    found = {path.stem for path in (shared_data / "ccxt-ws").glob("*.json")}
    assert found == {*_CCXT_VENUES, "binance"}


@pytest.mark.parametrize("name", sorted({*_CCXT_VENUES, "binance"}))
def test_every_ccxt_ws_frame_is_normalized_control_or_rejected(shared_data: Path, name: str) -> None:
    """ccxt's recorded cases (today's formats; spot and private ones included: those are rejected
    with a reason, never dropped, never a parser crash)."""
    path = shared_data / "ccxt-ws" / f"{name}.json"
    if not path.exists():
        pytest.skip(f"ccxt-ws capture not found at {path}")
    document = orjson.loads(path.read_bytes())
    catalog = load_snapshot()
    tally = FrameTally()
    for case in itertools.chain.from_iterable(document["methods"].values()):
        adapter = adapter_for(_ccxt_venue(name, case.get("url", "")), catalog)
        for message in case["messages"]:
            try:
                events = normalize_raw(adapter, orjson.dumps(message), 1)
            except FrameRejected as exc:
                tally.reject(exc.error_type)
                continue
            tally.count(events)
    summary = tally.summary()
    assert summary["frames"] == sum(
        len(c["messages"]) for c in itertools.chain(*document["methods"].values())
    )
    assert _accounted(summary), summary
    assert "parser_error" not in tally.rejected
    if name != "phemex":  # ccxt's Phemex cases are spot and private channels only
        assert tally.normalized > 0


# --- perpwatch normalize ---------------------------------------------------------------------


def _gate_trade(contract: str) -> str:
    """A futures.trades push as Gate.io documents it (gate.io/docs/developers/futures/ws/en, Trades)."""
    return orjson.dumps(
        {
            "channel": "futures.trades",
            "event": "update",
            "time": 1684930165,
            "result": [
                {
                    "size": -3,
                    "id": 1,
                    "create_time": 1684930165,
                    "create_time_ms": 1684930165000,
                    "price": "0.6103",
                    "contract": contract,
                }
            ],
        }
    ).decode()


def test_normalize_ends_with_one_summary_line_on_stderr(shared_data: Path, cache_dir: Path) -> None:
    from services.cli.main import app

    result = CliRunner().invoke(app, ["normalize", str(shared_data / "cryptofeed/BINANCE_FUTURES.ws.1.0")])
    assert result.exit_code == 0, result.output
    summary = _last_json_line(result.stderr)
    assert summary == {
        "frames": 1539,
        "events": 1472,
        "normalized_frames": 1472,
        "control": 0,
        "rejected": 67,
        "rejected_by_reason": {"unknown_event": 67},
        "derived_instrument_events": 1472,
    }
    assert len(result.stdout.splitlines()) == summary["events"]


def test_normalize_takes_instruments_files(shared_data: Path, tmp_path: Path, cache_dir: Path) -> None:
    """KNC_USDT is in Gate.io's recorded contract list (GATEIO_FUTURES.0), not in the snapshot:
    a contract venue needs its size, so the frame is rejected until ``--instruments`` gives it."""
    from services.cli.main import app

    frames = tmp_path / "gate.jsonl"
    frames.write_text(_gate_trade("KNC_USDT") + "\n" + '{"channel":"futures.pong","event":"","time":1}\n')
    listing = shared_data / "cryptofeed" / "GATEIO_FUTURES.0"
    base = ["normalize", "--exchange", "gateio", "--format", "raw", str(frames)]

    without = CliRunner().invoke(app, base)
    assert without.exit_code == 0, without.output
    summary = _last_json_line(without.stderr)
    assert (summary["frames"], summary["rejected_by_reason"]) == (2, {"unknown_instrument": 1})
    assert _accounted(summary)

    with_file = CliRunner().invoke(app, [*base, "--instruments", str(listing)])
    assert with_file.exit_code == 0, with_file.output
    summary = _last_json_line(with_file.stderr)
    assert (summary["normalized_frames"], summary["events"], summary["rejected"]) == (1, 1, 0)
    assert _accounted(summary)
    assert orjson.loads(with_file.stdout)["event"]["native_symbol"] == "KNC_USDT"


def test_an_instruments_file_of_something_else_is_a_clear_error(tmp_path: Path, cache_dir: Path) -> None:
    from services.cli.main import app

    frames = tmp_path / "gate.jsonl"
    frames.write_text(_gate_trade("KNC_USDT") + "\n")
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"hello": "world"}')
    result = CliRunner().invoke(
        app,
        ["normalize", "--exchange", "gateio", "--format", "raw", "--instruments", str(wrong), str(frames)],
    )
    assert result.exit_code != 0
    assert "no gateio instruments" in result.output


# --- perpwatch book check --------------------------------------------------------------------


def _capture_of(binance_capture: Path, out: Path, lines: int) -> Path:
    """The first ``lines`` lines of the Binance recording, written as ``perpwatch capture`` does."""
    writer = CaptureWriter(out, {"exchange": "binance_usdm", "symbols": ["BTCUSDT"], "channels": ["book"]})
    with gzip.open(binance_capture, "rb") as source:
        for line in itertools.islice(source, lines):
            stamp, _, raw = line.strip().partition(b" ")
            if raw.startswith(b'{"lastUpdateId"'):
                writer.rest("/fapi/v1/depth", "BTCUSDT", raw, int(stamp), "book_snapshot")
            else:
                writer.received("c1", raw, int(stamp))
    writer.close()
    return out


def test_book_check_reads_a_perpwatch_capture(binance_capture: Path, tmp_path: Path, cache_dir: Path) -> None:
    from services.book_builder.cli import app

    capture = _capture_of(binance_capture, tmp_path / "btc.capture.jsonl.gz", 20_000)
    result = CliRunner().invoke(app, ["check", "--format", "capture", str(capture)])
    assert result.exit_code == 0, result.output
    books = _last_json_line(result.stdout)
    assert books["messages"] == 20_000
    assert (books["mismatches"], books["gaps"]) == (0, 0)
    assert books["bbo_checks"] > 0
    frames = _last_json_line(result.stderr)
    assert frames["frames"] == 20_000
    assert _accounted(frames)
    # The same figures as the recording it was copied from, read in its own format.
    auto = CliRunner().invoke(app, ["check", str(capture)])  # the format and venue from the header
    assert _last_json_line(auto.stdout) == books


def test_book_check_takes_instruments_files(shared_data: Path, tmp_path: Path, cache_dir: Path) -> None:
    from services.book_builder.cli import app

    frames = tmp_path / "gate.jsonl"
    frames.write_text(_gate_trade("KNC_USDT") + "\n")
    listing = shared_data / "cryptofeed" / "GATEIO_FUTURES.0"
    base = ["check", "--exchange", "gateio", "--format", "raw", str(frames)]
    without = _last_json_line(CliRunner().invoke(app, base).stderr)
    assert without["rejected_by_reason"] == {"unknown_instrument": 1}
    with_file = _last_json_line(CliRunner().invoke(app, [*base, "--instruments", str(listing)]).stderr)
    assert (with_file["normalized_frames"], with_file["rejected"]) == (1, 0)


def test_check_capture_tallies_every_frame(shared_data: Path) -> None:
    report = check_capture(None, "auto", shared_data / "cryptofeed/GATEIO_FUTURES.ws.1.0")
    summary = report.tally.summary()
    assert summary["frames"] == report.messages
    assert _accounted(summary)
    assert sum(report.rejected.values()) == summary["rejected"]
