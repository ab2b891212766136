"""The risk service: pre-trade checks over HTTP with EIP-712 signed approvals and a kill switch."""
