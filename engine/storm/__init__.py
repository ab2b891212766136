"""A liquidation storm on Anvil: many attested accounts, a price crash, a keeper with a prover pool."""
