"""What the keeper does about an error: retry, re-sync the nonce, drop the attempt, or alert.

`classify` is a pure lookup in `RULES`, first match wins (so subclasses come before their bases):
an exception type, optionally the node's message (for `Web3RPCError`, whose subclasses do not
say why a transaction was refused), and the remedy. The classes are web3.py 7's
(`web3.exceptions`; since v7 a JSON-RPC error is a `Web3RPCError`, no longer a `ValueError`),
plus `requests`' network errors (all `OSError`) and the keeper's own `TransactionReverted`.

- RETRY: the node or the network; back off and try the same thing again.
- RESYNC_NONCE: the key's nonce moved under the keeper (another sender with the same key, a
  lost transaction): re-read it from the chain, retire what used the old one, re-plan.
- DROP: this attempt is dead (it would revert, or the node refuses the signed bytes): forget it
  and re-plan at the next snapshot.
- ALERT: the operator must act (wrong deployment, unfunded key, unsupported node, a bug); the
  keeper logs at error level and carries on with the other accounts.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from enum import StrEnum

from web3 import exceptions as w3e

from ..chain.client import TransactionReverted


class Remedy(StrEnum):
    RETRY = "retry"
    RESYNC_NONCE = "resync_nonce"
    DROP = "drop"
    ALERT = "alert"


@dataclass(frozen=True)
class Rule:
    """`error` (and, when given, one of `messages` in the node's message) → `remedy`."""

    error: type[BaseException]
    remedy: Remedy
    why: str
    messages: tuple[str, ...] = ()
    """Lower-case fragments of the node's error message; any one matches. Empty: any message."""

    def matches(self, exc: BaseException, message: str) -> bool:
        if not isinstance(exc, self.error):
            return False
        return not self.messages or any(m in message for m in self.messages)


@dataclass(frozen=True)
class Verdict:
    """What to do about one error, and why."""

    remedy: Remedy
    why: str
    error: str
    """`Type: message`, for the log."""


R = Remedy
RULES: tuple[Rule, ...] = (
    # --- the contract said no (eth_call / eth_estimateGas)
    Rule(TransactionReverted, R.DROP, "the liquidation would revert (liquidated by someone "
         "else, cooldown, pause): re-plan at the next snapshot"),
    Rule(w3e.OffchainLookup, R.ALERT, "the contract asked for an EIP-3668 off-chain lookup; the "
         "vault never does: check the deployment record"),
    Rule(w3e.ContractPanicError, R.ALERT, "the contract panicked (assert, overflow): a contract "
         "or input bug"),
    Rule(w3e.ContractCustomError, R.DROP, "the call reverts with a custom error: re-plan at the "
         "next snapshot"),
    Rule(w3e.ContractLogicError, R.DROP, "the call reverts: re-plan at the next snapshot"),
    # --- Web3RPCError subclasses web3 picks from the response
    Rule(w3e.TransactionNotFound, R.DROP, "the node does not know the transaction (dropped "
         "from the mempool or replaced): re-plan"),
    Rule(w3e.TransactionIndexingInProgress, R.RETRY, "the node is still indexing transactions"),
    Rule(w3e.BlockNotFound, R.RETRY, "the node does not have that block yet (lagging or reorg)"),
    Rule(w3e.BlockNumberOutOfRange, R.RETRY, "the node does not know that block number yet"),
    Rule(w3e.RequestTimedOut, R.RETRY, "the node timed out"),
    Rule(w3e.MethodUnavailable, R.ALERT, "the node does not serve this JSON-RPC method: point "
         "--rpc-url at a full node"),
    # --- Web3RPCError: the node's message says why
    Rule(w3e.Web3RPCError, R.RESYNC_NONCE, "the keeper's nonce was used by another "
         "transaction: re-read it from the chain and re-plan",
         ("nonce too low", "nonce too high", "replacement transaction underpriced",
          "already used", "invalid nonce")),
    Rule(w3e.Web3RPCError, R.RETRY, "the node already has this transaction: wait for its "
         "receipt", ("already known", "already imported", "known transaction")),
    Rule(w3e.Web3RPCError, R.ALERT, "the keeper account cannot pay for gas: fund it",
         ("insufficient funds",)),
    Rule(w3e.Web3RPCError, R.DROP, "the node refused the signed transaction: a re-plan signs a "
         "new one", ("execution reverted", "failed to decode", "invalid transaction",
                     "intrinsic gas too low", "exceeds block gas limit", "underpriced",
                     "fee cap", "gas too low")),
    Rule(w3e.Web3RPCError, R.RETRY, "the node is rate-limiting", ("rate limit", "too many")),
    Rule(w3e.Web3RPCError, R.RETRY, "an error from the node: back off and retry"),
    # --- other web3 exceptions
    Rule(w3e.TimeExhausted, R.RETRY, "no receipt within the timeout: the transaction stays "
         "pending and is settled next tick"),
    Rule(w3e.TooManyRequests, R.RETRY, "the provider is rate-limiting"),
    Rule(w3e.ReadBufferLimitReached, R.ALERT, "a response exceeded the provider's read buffer: "
         "raise its limit"),
    Rule(w3e.ProviderConnectionError, R.RETRY, "cannot connect to the node"),
    Rule(w3e.PersistentConnectionError, R.RETRY, "the node's connection dropped"),
    Rule(w3e.MultipleFailedRequests, R.RETRY, "repeated failed requests to the node"),
    Rule(w3e.StaleBlockchain, R.RETRY, "the node's latest block is old: it is syncing"),
    Rule(w3e.BadResponseFormat, R.RETRY, "a malformed JSON-RPC response (a proxy in between?)"),
    Rule(w3e.TaskNotRunning, R.RETRY, "a provider task stopped; it is restarted on retry"),
    Rule(w3e.MethodNotSupported, R.ALERT, "the provider does not support this method"),
    Rule(w3e.CannotHandleRequest, R.ALERT, "the provider cannot handle this request"),
    Rule(w3e.BadFunctionCallOutput, R.ALERT, "no contract (or another ABI) at the address: check "
         "--deployments against the chain"),
    Rule(w3e.MismatchedABI, R.ALERT, "the ABI does not match the call: engine and contracts "
         "are out of date with each other"),
    Rule(w3e.ABIConstructorNotFound, R.ALERT, "the ABI has no constructor"),
    Rule(w3e.ABIFallbackNotFound, R.ALERT, "the ABI has no fallback"),
    Rule(w3e.ABIReceiveNotFound, R.ALERT, "the ABI has no receive function"),
    Rule(w3e.NoABIFound, R.ALERT, "no ABI for the contract"),
    Rule(w3e.NoABIFunctionsFound, R.ALERT, "the ABI has no functions"),
    Rule(w3e.NoABIEventsFound, R.ALERT, "the ABI has no events"),
    Rule(w3e.InvalidEventABI, R.ALERT, "an event ABI is invalid"),
    Rule(w3e.LogTopicError, R.ALERT, "log topics do not match the event ABI"),
    Rule(w3e.InvalidAddress, R.ALERT, "an address is invalid (checksum): check the books and "
         "the deployment record"),
    Rule(w3e.NameNotFound, R.ALERT, "an ENS name does not resolve"),
    Rule(w3e.Web3ValidationError, R.ALERT, "web3 refused a value (e.g. a POA chain needs its "
         "middleware)"),
    Rule(w3e.InvalidTransaction, R.ALERT, "the keeper built an invalid transaction: a bug"),
    Rule(w3e.InsufficientData, R.ALERT, "not enough data for a gas price estimate"),
    Rule(w3e.InfuraProjectIdNotFound, R.ALERT, "no Infura project id configured"),
    Rule(w3e.Web3ValueError, R.ALERT, "web3 refused an argument: a bug or a bad input file"),
    Rule(w3e.Web3TypeError, R.ALERT, "web3 refused an argument's type: a bug"),
    Rule(w3e.Web3AttributeError, R.ALERT, "web3 attribute error: a bug or a web3 version skew"),
    Rule(w3e.Web3AssertionError, R.ALERT, "web3 assertion failed"),
    Rule(w3e.Web3Exception, R.ALERT, "an unclassified web3 error"),
    # --- beyond web3
    Rule(sqlite3.Error, R.ALERT, "the keeper's state database failed (disk full, locked?)"),
    Rule(OSError, R.RETRY, "the network or the node is down (refused, reset, timed out, HTTP "
         "error)"),
    Rule(Exception, R.ALERT, "unexpected: a bug or a bad book file; the account waits for the "
         "next snapshot"),
)  # fmt: skip


def node_message(exc: BaseException) -> str:
    """The node's error message, lower case (the JSON-RPC `error.message` when there is one)."""
    if isinstance(exc, w3e.Web3RPCError) and isinstance(exc.rpc_response, dict):
        error = exc.rpc_response.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"]).lower()
    return str(exc).lower()


def classify(exc: BaseException, rules: tuple[Rule, ...] = RULES) -> Verdict:
    """The first rule matching `exc` (pure)."""
    message = node_message(exc)
    shown = f"{type(exc).__name__}: {exc}"
    for rule in rules:
        if rule.matches(exc, message):
            return Verdict(rule.remedy, rule.why, shown)
    return Verdict(Remedy.ALERT, "not even an Exception", shown)


def rules_for(error: type[BaseException], rules: tuple[Rule, ...] = RULES) -> list[Rule]:
    """The rules that can match an exception of type `error`, in order (for tests and docs)."""
    return [r for r in rules if issubclass(error, r.error)]
