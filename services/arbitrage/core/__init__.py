"""Pure core of the arbitrage service: no I/O, no clock; time is the venues' ``exchange_ts``."""
