"""Issue 15, class 1: a symbol outside the instrument list is derived on base-unit venues, marked as
derived, and still rejected with the reason on contract venues; a saved instruments response fills
the local cache (``perpwatch instruments import``) or one run (``--instruments FILE``)."""

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY
from typer.testing import CliRunner

from schemas.common import ExchangeId, InstrumentProvenance
from schemas.market_data import Trade
from services.ingest.connector.parse import normalize_raw
from services.ingest.instrument_import import catalog_with_files, parse_instrument_file, response_bodies
from services.ingest.normalizer import FrameRejected
from services.ingest.replay import normalize_frame, open_capture
from services.instruments import catalog as catalog_module
from services.instruments.catalog import InstrumentCatalog, UnknownInstrument, load_snapshot
from services.instruments.naming import NAMING_RULES
from services.venues import adapter_for

CONTRACT_VENUES = (
    ExchangeId.OKX,
    ExchangeId.GATEIO,
    ExchangeId.KUCOIN_FUTURES,
    ExchangeId.BITMEX,
    ExchangeId.PHEMEX,
    ExchangeId.MEXC,
    ExchangeId.DERIBIT,
    ExchangeId.BINANCE_COINM,
)


@pytest.mark.parametrize(
    ("exchange", "native", "symbol", "multiplier"),
    [
        # The symbols the issue names, on each linear venue.
        (ExchangeId.BINANCE_USDM, "SOLUSDT", "SOL-USDT-PERP", 1),
        (ExchangeId.BINANCE_USDM, "SUSHIUSDT", "SUSHI-USDT-PERP", 1),
        (ExchangeId.BINANCE_USDM, "1000SHIBUSDT", "SHIB-USDT-PERP", 1000),
        (ExchangeId.BINANCE_USDM, "ETHUSDC", "ETH-USDC-PERP", 1),
        (ExchangeId.BINANCE_USDM, "1INCHUSDT", "1INCH-USDT-PERP", 1),
        (ExchangeId.BYBIT, "LTCUSDT", "LTC-USDT-PERP", 1),
        (ExchangeId.BYBIT, "SHIB1000USDT", "SHIB-USDT-PERP", 1000),
        (ExchangeId.BYBIT, "SOLPERP", "SOL-USDC-PERP", 1),
        (ExchangeId.BITGET, "SOLUSDT", "SOL-USDT-PERP", 1),
        (ExchangeId.BITGET, "SUSHIUSDT_UMCBL", "SUSHI-USDT-PERP", 1),
        (ExchangeId.HYPERLIQUID, "SOL", "SOL-USDC-PERP", 1),
        (ExchangeId.HYPERLIQUID, "kBONK", "BONK-USDC-PERP", 1000),
        (ExchangeId.COINDCX, "B-LTC_USDT", "LTC-USDT-PERP", 1),
    ],
)
def test_base_unit_venues_derive_unknown_symbols_from_their_naming_rules(
    exchange: ExchangeId, native: str, symbol: str, multiplier: int
) -> None:
    instrument = load_snapshot().get(exchange, native)
    assert (instrument.symbol, instrument.multiplier) == (symbol, Decimal(multiplier))
    assert instrument.derived
    assert not instrument.inverse
    assert instrument.contract_size == 1


@pytest.mark.parametrize(
    ("exchange", "native"),
    [
        (ExchangeId.BINANCE_USDM, "BTCUSDT_240927"),  # a dated future
        (ExchangeId.BYBIT, "BTCUSD"),  # inverse: contracts of 1 USD
        (ExchangeId.BYBIT, "BTC-27DEC24"),
        (ExchangeId.BITGET, "BTCUSD"),  # coin-M
        (ExchangeId.HYPERLIQUID, "@107"),  # a spot pair
        (ExchangeId.HYPERLIQUID, "xyz:TSLA"),  # a builder-deployed market
        (ExchangeId.COINDCX, "B-BTC_INR"),
    ],
)
def test_names_a_rule_does_not_cover_stay_unknown_with_the_reason(exchange: ExchangeId, native: str) -> None:
    with pytest.raises(UnknownInstrument, match="is not named like"):
        load_snapshot().get(exchange, native)


@pytest.mark.parametrize("exchange", CONTRACT_VENUES)
def test_contract_venues_reject_unknown_symbols_and_say_how_to_import(exchange: ExchangeId) -> None:
    assert exchange not in NAMING_RULES
    with pytest.raises(UnknownInstrument) as raised:
        load_snapshot().get(exchange, "SOL-USDT-SWAP")
    reason = str(raised.value)
    assert f"perpwatch instruments import --exchange {exchange.value} FILE" in reason
    assert "--instruments FILE" in reason


def test_the_listed_instrument_wins_and_derived_ones_are_not_listed() -> None:
    catalog = load_snapshot()
    assert not catalog.get(ExchangeId.BINANCE_USDM, "BTCUSDT").derived
    catalog.get(ExchangeId.BINANCE_USDM, "SOLUSDT")
    assert "SOLUSDT" not in {i.native_symbol for i in catalog.instruments(ExchangeId.BINANCE_USDM)}
    assert [i.native_symbol for i in catalog.derived()] == ["SOLUSDT"]
    assert catalog.resolve(ExchangeId.BINANCE_USDM, ["SOLUSDT"])[0].derived


def _ccxt_frame(shared_data: Path, venue: str, message: int = 1) -> Any:
    cases = json.loads((shared_data / "ccxt-ws" / f"{venue}.json").read_text())["methods"]["watchTrades"]
    return cases[0]["messages"][message]


def _with_symbol(frame: Any, old: str, new: str) -> bytes:
    return orjson.dumps(frame).replace(f'"{old}"'.encode(), f'"{new}"'.encode())


@pytest.mark.parametrize(
    ("venue", "exchange", "old", "new", "symbol"),
    [
        ("bybit", ExchangeId.BYBIT, "BTCUSDT", "SOLUSDT", "SOL-USDT-PERP"),
        ("bitget", ExchangeId.BITGET, "BTCUSDT", "SUSHIUSDT", "SUSHI-USDT-PERP"),
        ("hyperliquid", ExchangeId.HYPERLIQUID, "BTC", "LTC", "LTC-USDC-PERP"),
    ],
)
def test_real_trade_frames_of_other_symbols_are_normalized_and_marked_derived(
    shared_data: Path, venue: str, exchange: ExchangeId, old: str, new: str, symbol: str
) -> None:
    """ccxt's recorded BTC trade frames (ccxt-ws/), with the symbol swapped for one outside the list."""
    frame = _ccxt_frame(shared_data, venue)
    listed = normalize_raw(adapter_for(exchange, load_snapshot()), orjson.dumps(frame), 1)
    derived = normalize_raw(adapter_for(exchange, load_snapshot()), _with_symbol(frame, old, new), 1)
    assert listed
    assert derived
    assert len(listed) == len(derived)
    for before, after in zip(listed, derived, strict=True):
        assert isinstance(after, Trade)
        assert isinstance(before, Trade)
        assert after.symbol == symbol
        assert after.native_symbol == new
        assert after.instrument_provenance is InstrumentProvenance.DERIVED
        # Base units both ways: the same wire numbers give the same quantities.
        assert (after.price, after.quantity) == (before.price, before.quantity)
        assert "instrument_provenance" not in before.model_dump_json()
        assert json.loads(after.model_dump_json())["instrument_provenance"] == "derived"
        assert Trade.model_validate_json(after.model_dump_json()) == after


def test_a_real_okx_frame_of_an_unlisted_swap_is_rejected_with_the_reason(shared_data: Path) -> None:
    raw = _with_symbol(_ccxt_frame(shared_data, "okx"), "BTC-USDT-SWAP", "SUSHI-USDT-SWAP")
    with pytest.raises(FrameRejected) as rejected:
        normalize_raw(adapter_for(ExchangeId.OKX, load_snapshot()), raw, 1)
    assert rejected.value.error_type == "unknown_instrument"
    assert "perpwatch instruments import --exchange okx" in rejected.value.reason


def _tally(path: Path, **options: Any) -> Counter[str]:
    capture = open_capture(path, **options)
    tally: Counter[str] = Counter()
    for frame in capture.frames:
        try:
            events = normalize_frame(capture.adapter, frame)
        except FrameRejected as exc:
            tally[f"rejected:{exc.error_type}"] += 1
            continue
        tally["control" if events is None else "normalized"] += 1
        derived = sum(e.instrument_provenance is InstrumentProvenance.DERIVED for e in events or ())
        if derived:
            tally["derived events"] += derived
    return tally


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private instrument cache for the CLI (settings are cached: cleared on the way in and out)."""
    from services.runtime.settings import get_settings

    cache = tmp_path / "cache"
    monkeypatch.setenv("PERPWATCH_INSTRUMENT_CACHE_DIR", str(cache))
    get_settings.cache_clear()
    yield cache
    get_settings.cache_clear()


def test_the_cryptofeed_binance_futures_sample_normalizes(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's figure: 1,472 frames were rejected as unknown_instrument; now all are normalized.

    Its four symbols (SUSHI, AKRO, KEEP, CTK) are outside the committed snapshot; the 67 kline
    frames stay rejected as an unsupported event.
    """
    path = shared_data / "cryptofeed" / "BINANCE_FUTURES.ws.1.0"
    derived_before = _derived_metric("SUSHIUSDT")
    assert _tally(path) == {"normalized": 1472, "derived events": 1472, "rejected:unknown_event": 67}
    assert _derived_metric("SUSHIUSDT") > derived_before

    strict_init = InstrumentCatalog.__init__

    def without_rules(
        self: InstrumentCatalog, instruments: Any, version: str, naming_rules: Any = None
    ) -> None:
        strict_init(self, instruments, version, {})

    monkeypatch.setattr(catalog_module.InstrumentCatalog, "__init__", without_rules)
    assert _tally(path) == {"rejected:unknown_instrument": 1472, "rejected:unknown_event": 67}


def _derived_metric(native: str) -> float:
    value = REGISTRY.get_sample_value(
        "perpwatch_ingest_derived_instrument_events_total",
        {"exchange": ExchangeId.BINANCE_USDM.value, "native_symbol": native},
    )
    return value or 0.0


def test_recorded_instrument_responses_are_read(shared_data: Path) -> None:
    """cryptofeed's NAME.0 files hold the venues' own instrument responses as ``URL -> ts: body``."""
    counts = {}
    for exchange, name in [
        (ExchangeId.BINANCE_USDM, "BINANCE_FUTURES"),
        (ExchangeId.GATEIO, "GATEIO_FUTURES"),
        (ExchangeId.PHEMEX, "PHEMEX"),
        (ExchangeId.DERIBIT, "DERIBIT"),
        (ExchangeId.BITMEX, "BITMEX"),
    ]:
        result = parse_instrument_file(
            adapter_for(exchange, load_snapshot()), shared_data / "cryptofeed" / f"{name}.0"
        )
        counts[exchange.value] = len(result.instruments)
    assert counts == {"binance_usdm": 119, "gateio": 301, "phemex": 37, "deribit": 19, "bitmex": 2}


def test_a_single_json_body_is_one_response(tmp_path: Path) -> None:
    path = tmp_path / "okx.json"
    path.write_text('{"code": "0", "data": []}')
    assert response_bodies(path.read_text()) == [{"code": "0", "data": []}]
    with pytest.raises(ValueError, match="neither"):
        response_bodies("not json at all")


def _gate_frame_for(contract: str) -> str:
    """A futures.trades push as Gate.io documents it (gate.io/docs/developers/futures/ws/en, Trades)."""
    return orjson.dumps(
        {
            "channel": "futures.trades",
            "event": "update",
            "time": 1684930165,
            "time_ms": 1684930165000,
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


def test_import_fills_the_cache_and_instruments_files_serve_one_run(
    shared_data: Path, tmp_path: Path, cache_dir: Path
) -> None:
    """KNC_USDT is in Gate.io's recorded contract list (GATEIO_FUTURES.0) but not in the snapshot."""
    from services.ingest.instruments_cli import app

    frames = tmp_path / "gate.jsonl"
    frames.write_text(_gate_frame_for("KNC_USDT") + "\n")
    listing = shared_data / "cryptofeed" / "GATEIO_FUTURES.0"
    assert _tally(frames, exchange=ExchangeId.GATEIO, fmt="raw") == {"rejected:unknown_instrument": 1}

    cache = cache_dir
    result = CliRunner().invoke(app, ["import", "--exchange", "gateio", str(listing)])
    assert result.exit_code == 0, result.output
    assert len(json.loads((cache / "gateio.json").read_text())["instruments"]) == 301
    from_cache = _tally(frames, exchange=ExchangeId.GATEIO, fmt="raw", instrument_cache=cache)
    assert from_cache == {"normalized": 1}
    assert _tally(frames, exchange=ExchangeId.GATEIO, fmt="raw", instruments=[listing]) == {"normalized": 1}

    capture = open_capture(frames, exchange=ExchangeId.GATEIO, fmt="raw", instruments=[listing])
    (trade,) = normalize_frame(capture.adapter, next(capture.frames)) or []
    assert isinstance(trade, Trade)
    # Gate.io sizes are contracts: KNC_USDT's quanto_multiplier (1) comes from the imported list.
    assert trade.instrument_provenance is InstrumentProvenance.LISTED


def test_an_import_of_something_else_fails_and_keeps_the_cache(tmp_path: Path, cache_dir: Path) -> None:
    from services.ingest.instruments_cli import app

    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"hello": "world"}')
    result = CliRunner().invoke(app, ["import", "--exchange", "okx", str(wrong)])
    assert result.exit_code == 1
    assert not cache_dir.exists()
    with pytest.raises(ValueError, match="no okx instruments"):
        catalog_with_files(load_snapshot(), adapter_for(ExchangeId.OKX, load_snapshot()), [wrong])


def test_derived_book_events_pass_the_book_builders_decoder(shared_data: Path) -> None:
    """The book-builder decodes md.book.v1 by hand: a derived event keeps its provenance there too."""
    from schemas.market_data import BookDelta, BookSnapshot
    from services.book_builder.core.decode import RejectedInput, decode_book_event

    capture = open_capture(shared_data / "cryptofeed" / "BINANCE_FUTURES.ws.1.0")
    books: list[BookDelta | BookSnapshot] = []
    for frame in capture.frames:
        try:
            events = normalize_frame(capture.adapter, frame) or []
        except FrameRejected:
            continue
        for event in events:
            if isinstance(event, BookDelta | BookSnapshot):
                decoded = decode_book_event(event.model_dump_json().encode())
                assert decoded == event
                assert decoded.instrument_provenance is InstrumentProvenance.DERIVED
                books.append(event)
    assert books
    with pytest.raises(RejectedInput, match="instrument_provenance"):
        decode_book_event(books[0].model_dump_json().replace('"derived"', '"guessed"').encode())


def test_every_committed_snapshot_says_where_its_values_come_from() -> None:
    from services.venues import instruments_resource, registered_venues

    for venue in registered_venues():
        document = json.loads(instruments_resource(venue).read_text())
        assert document["exchange"] == venue.value
        assert document["source"], venue.value
    catalog = load_snapshot()
    # Widened from the venues' own recorded lists (cryptofeed NAME.0 files).
    assert len(catalog.instruments(ExchangeId.GATEIO)) >= 50
    assert len(catalog.instruments(ExchangeId.PHEMEX)) >= 37
    assert len(catalog.instruments(ExchangeId.DERIBIT)) >= 19


def test_an_import_adds_to_what_the_cache_holds(shared_data: Path, cache_dir: Path) -> None:
    from services.ingest.instrument_refresh import RefreshResult, cache_file, write_snapshot
    from services.ingest.instruments_cli import app

    # A contract listed after the recorded list was taken: only the earlier refresh knows it.
    refreshed = replace(
        load_snapshot().get(ExchangeId.GATEIO, "BTC_USDT"), native_symbol="NEWCOIN_USDT", base="NEWCOIN"
    )
    write_snapshot(
        cache_file(cache_dir, ExchangeId.GATEIO), RefreshResult(ExchangeId.GATEIO, [refreshed]), "a refresh"
    )
    gate_list = shared_data / "cryptofeed" / "GATEIO_FUTURES.0"
    result = CliRunner().invoke(app, ["import", "--exchange", "gateio", str(gate_list)])
    assert result.exit_code == 0, result.output
    cached = {e["native_symbol"] for e in json.loads((cache_dir / "gateio.json").read_text())["instruments"]}
    assert {"NEWCOIN_USDT", "KNC_USDT"} <= cached


def test_the_endpoint_command_says_what_to_save() -> None:
    from services.ingest.instruments_cli import app

    result = CliRunner().invoke(app, ["endpoint", "--exchange", "okx"])
    assert result.exit_code == 0
    assert "https://www.okx.com/api/v5/public/instruments?instType=SWAP" in result.stdout
