"""Market analytics: OHLCV bars, OI and volume spikes, liquidation and large-trade flow, pairs."""
