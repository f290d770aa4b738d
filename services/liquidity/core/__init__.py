"""The liquidity service's pure core: book metrics, rolling baselines, the crunch rule, sampling.

No I/O, no clock: time is the events' ``exchange_ts``. ``engine.LiquidityEngine`` ties it together.
"""
