"""Risk metrics as pure functions: exact integer fixed point for proofs, numpy for screening."""
