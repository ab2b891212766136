"""`zkrisk signer`: the trader wallets' keys in their own process, signing only what the risk
service approved (issue 19). Not to be confused with `engine/api/signer.py`, the risk service's
approval signer."""
