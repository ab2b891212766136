"""The guarded pipeline: one module per stage (ingest, signal, monitor, ...), venues, the runner."""
