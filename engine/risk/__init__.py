"""The pure risk domain: models, fixed point, metrics, the pre-trade checks, policy, book valuation.

Nothing here does I/O beyond reading a policy file; every other layer depends on this one.
"""
