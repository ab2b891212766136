"""Statements: domain objects → circuit inputs and the outputs the circuits must reproduce."""
