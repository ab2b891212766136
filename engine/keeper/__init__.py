"""The liquidation keeper and what it shares with `zkrisk chain`: books it can see, a handle on a
deployed vault, a pending-transaction store, metrics and structured logs."""
