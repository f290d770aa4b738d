"""The arbitrage service: executable cross-venue spreads and funding differentials."""
