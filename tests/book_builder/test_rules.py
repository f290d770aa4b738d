"""Which venues' books start from REST, across the venues (each venue's own rule cases are in
``tests/venues/<exchange>/test_book.py``)."""

from schemas.common import ExchangeId
from services.book_builder.core.rules import SnapshotSource
from services.venues import book_spec_for


def test_every_venue_has_a_rule_and_a_snapshot_source() -> None:
    rest = {e for e in ExchangeId if book_spec_for(e).snapshot_source is SnapshotSource.REST}
    assert rest == {
        ExchangeId.BINANCE_USDM,
        ExchangeId.BINANCE_COINM,
        ExchangeId.GATEIO,
        ExchangeId.KUCOIN_FUTURES,
        ExchangeId.MEXC,
    }
    assert book_spec_for(ExchangeId.OKX).checksum is not None


def test_rest_bootstrapped_venues_are_those_whose_adapter_serves_a_rest_snapshot() -> None:
    """The resync path must match the venue modules: REST fetch exactly where one exists."""
    from services.instruments.catalog import load_snapshot
    from services.venues import adapter_for, registered_venues

    catalog = load_snapshot()
    for exchange in registered_venues():
        instruments = [i for (venue, _), i in catalog._by_native.items() if venue is exchange]
        if not instruments:
            continue
        has_rest = (
            adapter_for(exchange, catalog).book_snapshot_request(instruments[0].native_symbol) is not None
        )
        assert (book_spec_for(exchange).snapshot_source is SnapshotSource.REST) == has_rest, exchange.value
