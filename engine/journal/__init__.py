"""The journal: typed events, the append-only log every pipeline stage reads and writes."""
