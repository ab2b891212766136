"""The chain edge: a local Anvil node, Solidity compilation and typed contract calls."""
