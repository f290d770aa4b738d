"""Which continuity rule applies to which venue's book."""

from schemas.common import ExchangeId
from services.book_builder.core.sequence import BinanceSequenceRule, SequenceRule

_RULES: dict[ExchangeId, SequenceRule] = {
    ExchangeId.BINANCE_USDM: BinanceSequenceRule(),
    ExchangeId.BINANCE_COINM: BinanceSequenceRule(),
}


def sequence_rule_for(exchange: ExchangeId) -> SequenceRule | None:
    return _RULES.get(exchange)
