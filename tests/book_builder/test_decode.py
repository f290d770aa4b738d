"""The fast ``md.book.v1`` decoder enforces the contract exactly like its pydantic definition."""

import gzip
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.common import ExchangeId
from schemas.examples import EXAMPLES
from schemas.market_data import BookDelta, BookSequence, BookSnapshot
from schemas.topics import topic
from services.book_builder.core.decode import RejectedInput, decode_book_event
from services.instruments.catalog import load_snapshot
from services.venues.binance_usdm.adapter import BinanceUsdmNormalizer

CONTRACT = topic("md.book.v1").payload
VALID: dict[str, Any] = orjson.loads(EXAMPLES["md.book.v1"].model_dump_json())


def test_every_real_binance_payload_decodes_to_the_same_event_as_pydantic(binance_capture: Path) -> None:
    normalizer = BinanceUsdmNormalizer(load_snapshot())
    count = 0
    with gzip.open(binance_capture, "rb") as lines:
        for line in lines:
            stamp, raw = line.split(b" ", 1)
            if b"depthUpdate" not in raw:
                continue
            for event in normalizer.normalize(orjson.loads(raw), int(stamp)):
                payload = event.model_dump_json().encode()
                decoded = decode_book_event(payload)
                assert decoded == CONTRACT.validate_json(payload) == event
                assert decoded.model_dump_json().encode() == payload
                count += 1
    assert count == 6551


def _mutated(**changes: Any) -> bytes:
    document = {**VALID, **changes}
    return orjson.dumps({k: v for k, v in document.items() if v is not _DROP})


_DROP = object()

REJECTED = [
    ("not json", b"{", "Invalid JSON"),
    ("not an object", b"[1]", "(root)"),
    ("no type", _mutated(type=_DROP), "discriminator"),
    ("unknown type", _mutated(type="diff"), "does not match"),
    ("unknown exchange", _mutated(exchange="nyse"), "delta.exchange"),
    ("bad symbol", _mutated(symbol="BTCUSDT"), "symbol"),
    ("empty native symbol", _mutated(native_symbol=""), "delta.native_symbol"),
    ("negative time", _mutated(exchange_ts=-1), "delta.exchange_ts"),
    ("missing sequence", _mutated(sequence=_DROP), "delta.sequence"),
    ("sequence without last", _mutated(sequence={"first": 1}), "sequence.last"),
    ("extra sequence field", _mutated(sequence={"last": 1, "seq": 2}), "sequence.seq"),
    ("extra field", _mutated(venue="x"), "delta.venue"),
    ("zero price", _mutated(bids=[["0", "1"]]), "delta.bids.0.0"),
    ("negative quantity", _mutated(asks=[["1", "-1"]]), "delta.asks.0.1"),
    ("NaN price", _mutated(bids=[["NaN", "1"]]), "delta.bids.0.0"),
    ("infinite quantity", _mutated(bids=[["1", "Infinity"]]), "delta.bids.0.1"),
    ("not a number", _mutated(bids=[["abc", "1"]]), "delta.bids.0.0"),
    ("three items", _mutated(bids=[["1", "1", "1"]]), "delta.bids.0"),
    ("levels not a list", _mutated(bids={"1": "1"}), "delta.bids"),
    ("checksum not an int", _mutated(checksum=[12]), "delta.checksum"),
]
# Deliberately stricter than pydantic's lax mode: producers always write JSON integers.
STRICTER = [
    ("integer as a string", _mutated(checksum="12"), "delta.checksum"),
    ("integer as a float", _mutated(exchange_ts=1.0), "delta.exchange_ts"),
]


@pytest.mark.parametrize(
    ("payload", "where"), [(p, w) for _, p, w in REJECTED], ids=[n for n, _, _ in REJECTED]
)
def test_bad_payloads_are_rejected_with_a_reason(payload: bytes, where: str) -> None:
    with pytest.raises(RejectedInput) as rejected:
        decode_book_event(payload)
    assert where in rejected.value.reason
    assert rejected.value.error_type == "validation_error"
    with pytest.raises(ValidationError):
        CONTRACT.validate_json(payload)


@pytest.mark.parametrize(
    ("payload", "where"), [(p, w) for _, p, w in STRICTER], ids=[n for n, _, _ in STRICTER]
)
def test_integers_must_be_json_integers(payload: bytes, where: str) -> None:
    with pytest.raises(RejectedInput, match=where):
        decode_book_event(payload)


def test_decimals_written_as_json_numbers_are_accepted_like_pydantic() -> None:
    payload = _mutated(bids=[[61800.2, 3]], asks=[["61800.3", 0]])
    assert decode_book_event(payload) == CONTRACT.validate_json(payload)


decimal_text = st.decimals(min_value=Decimal("0.00000001"), max_value=Decimal(10**9), places=8).map(
    lambda d: format(d, "f")
)
level = st.tuples(decimal_text, st.one_of(decimal_text, st.just("0")))
event_kwargs = st.fixed_dictionaries(
    {
        "exchange": st.sampled_from(list(ExchangeId)),
        "symbol": st.sampled_from(["BTC-USDT-PERP", "ETH-USD-PERP", "1000PEPE-USDT-PERP"]),
        "native_symbol": st.text(min_size=1, max_size=12),
        "exchange_ts": st.integers(0, 2**62),
        "receive_ts": st.integers(0, 2**62),
        "sequence": st.builds(
            BookSequence,
            first=st.none() | st.integers(-(2**62), 2**62),
            last=st.integers(-(2**62), 2**62),
            prev=st.none() | st.integers(-(2**62), 2**62),
        ),
        "bids": st.lists(level, max_size=6),
        "asks": st.lists(level, max_size=6),
        "checksum": st.none() | st.integers(-(2**31), 2**31),
    }
)


@settings(max_examples=300, deadline=None)
@given(event_kwargs, st.booleans())
def test_generated_events_round_trip_identically(kwargs: dict[str, Any], is_delta: bool) -> None:
    model = BookDelta if is_delta else BookSnapshot
    event = model(**kwargs)
    payload = event.model_dump_json().encode()
    assert decode_book_event(payload) == event == CONTRACT.validate_json(payload)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(sorted(VALID)), json_values)
def test_whatever_the_fast_decoder_accepts_pydantic_accepts_identically(field: str, value: Any) -> None:
    payload = _mutated(**{field: value})
    try:
        decoded = decode_book_event(payload)
    except RejectedInput:
        return
    assert decoded == CONTRACT.validate_json(payload)
