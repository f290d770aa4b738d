"""The service's decoders agree with pydantic: same models for good payloads, a rejection for bad ones."""

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from schemas.book import BookDepth, BookStatus
from schemas.market_data import Trade
from services.liquidity.decode import decode_book_depth, decode_trade
from services.runtime.service import RejectedInput
from tests.liquidity.simdata import simulated_market

EVENTS = list(simulated_market(30))
BOOK = next(e for e in EVENTS if isinstance(e, BookDepth))
TRADE = next(e for e in EVENTS if isinstance(e, Trade))


def test_decoders_build_the_same_models_as_pydantic() -> None:
    for event in EVENTS:
        payload = event.model_dump_json().encode()
        decoded = decode_book_depth(payload) if isinstance(event, BookDepth) else decode_trade(payload)
        assert decoded == event
        assert decoded.model_dump_json() == event.model_dump_json()
    invalid = BookDepth(**{**BOOK.model_dump(), "status": BookStatus.INVALID, "bids": [], "asks": []})
    assert decode_book_depth(invalid.model_dump_json().encode()) == invalid


def _mutations(document: dict[str, object]) -> st.SearchStrategy[dict[str, object]]:
    values = st.one_of(
        st.none(),
        st.integers(-5, 5),
        st.text(max_size=5),
        st.sampled_from(["0", "-1", "1e999", "NaN", "BTC-USDT-PERP", "buy", "invalid", "binance_usdm"]),
        st.lists(st.lists(st.sampled_from(["1", "0", "-1", "x"]), max_size=3), max_size=2),
    )
    return st.builds(
        lambda key, value, drop: {k: v for k, v in {**document, key: value}.items() if k != drop},
        st.sampled_from([*document, "extra"]),
        values,
        st.sampled_from([None, *document]),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_decoders_reject_what_pydantic_rejects(data: st.DataObject) -> None:
    for event, decode, model in ((BOOK, decode_book_depth, BookDepth), (TRADE, decode_trade, Trade)):
        document = data.draw(_mutations(orjson.loads(event.model_dump_json())))
        payload = orjson.dumps(document)
        try:
            expected = model.model_validate_json(payload)
        except ValidationError:
            with pytest.raises(RejectedInput):
                decode(payload)
            continue
        try:
            decoded = decode(payload)
        except RejectedInput as rejected:
            reason = rejected.reason
        else:
            assert decoded == expected
            continue
        # Deliberately strict where producers never differ: integers are JSON integers, as in the
        # book-builder's decoder (pydantic's lax mode also takes "0").
        assert "valid integer" in reason


def test_not_json_is_rejected() -> None:
    with pytest.raises(RejectedInput, match="Invalid JSON"):
        decode_book_depth(b"{")
    with pytest.raises(RejectedInput, match="object"):
        decode_trade(b"[]")


def test_derived_instruments_keep_their_provenance() -> None:
    from schemas.common import InstrumentProvenance
    from tests.liquidity.support import metrics, run_processor

    derived = [e.model_copy(update={"instrument_provenance": InstrumentProvenance.DERIVED}) for e in EVENTS]
    for event in derived:
        payload = event.model_dump_json().encode()
        assert b"derived" in payload
        decoded = decode_book_depth(payload) if isinstance(event, BookDepth) else decode_trade(payload)
        assert decoded == event
    with pytest.raises(RejectedInput, match="instrument_provenance"):
        decode_trade(
            TRADE.model_dump_json().replace('"trade_id"', '"instrument_provenance":"x","trade_id"').encode()
        )
    samples = metrics(run_processor(derived))
    assert samples
    assert all(s.instrument_provenance is InstrumentProvenance.DERIVED for s in samples)
    assert b"instrument_provenance" not in metrics(run_processor(EVENTS))[0].model_dump_json().encode()
