"""Derivatives: European options (Black–Scholes price, Greeks, implied vol) and perpetual futures.

Pure functions over floats and numpy arrays; the book-level views (positions, portfolio Greeks,
hedges) live beside them.
"""
