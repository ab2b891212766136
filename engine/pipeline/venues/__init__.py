"""Venues behind one interface (`base.Venue`): the simulated exchange and Uniswap v2 on Anvil."""
