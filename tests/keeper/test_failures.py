"""Every error class the keeper can meet maps to one remedy (`zkrisk.engine.keeper.failures`)."""

from __future__ import annotations

import inspect
import sqlite3

import pytest
import requests
from web3 import exceptions as w3e

from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.keeper.failures import RULES, Remedy, classify, rules_for

RETRY, RESYNC, DROP, ALERT = Remedy.RETRY, Remedy.RESYNC_NONCE, Remedy.DROP, Remedy.ALERT


def rpc_error(code: int, message: str) -> w3e.Web3RPCError:
    """What web3 7 raises for a JSON-RPC error response (an error object, not a ValueError)."""
    response = {"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}}
    return w3e.Web3RPCError(repr(response["error"]), rpc_response=response)  # type: ignore[arg-type]


BLOCK = {"number": 1, "timestamp": 0}

CASES: list[tuple[str, BaseException, Remedy]] = [
    # web3.exceptions, one per class
    ("Web3RPCError", rpc_error(-32603, "internal error"), RETRY),
    ("MethodUnavailable", w3e.MethodUnavailable("{'code': -32601}"), ALERT),
    ("RequestTimedOut", w3e.RequestTimedOut("request timed out"), RETRY),
    ("TransactionNotFound", w3e.TransactionNotFound("not found"), DROP),
    (
        "TransactionIndexingInProgress",
        w3e.TransactionIndexingInProgress("index in progress"),
        RETRY,
    ),
    ("BlockNotFound", w3e.BlockNotFound("block not found"), RETRY),
    ("BlockNumberOutOfRange", w3e.BlockNumberOutOfRange("out of range"), RETRY),
    ("TimeExhausted", w3e.TimeExhausted("no receipt"), RETRY),
    ("ContractLogicError", w3e.ContractLogicError("execution reverted", "0x"), DROP),
    ("ContractCustomError", w3e.ContractCustomError("0x12345678", "0x12345678"), DROP),
    ("ContractPanicError", w3e.ContractPanicError("Panic error 0x11", "0x4e487b71"), ALERT),
    ("OffchainLookup", w3e.OffchainLookup({"urls": []}, "0x556f1830"), ALERT),
    ("Web3ValueError", w3e.Web3ValueError("bad value"), ALERT),
    ("Web3TypeError", w3e.Web3TypeError("bad type"), ALERT),
    ("Web3AttributeError", w3e.Web3AttributeError("no attr"), ALERT),
    ("Web3AssertionError", w3e.Web3AssertionError("assert"), ALERT),
    ("Web3ValidationError", w3e.Web3ValidationError("invalid"), ALERT),
    ("ExtraDataLengthError", w3e.ExtraDataLengthError("POA chain"), ALERT),
    ("MethodNotSupported", w3e.MethodNotSupported("no"), ALERT),
    ("BadFunctionCallOutput", w3e.BadFunctionCallOutput("could not decode"), ALERT),
    ("ProviderConnectionError", w3e.ProviderConnectionError("refused"), RETRY),
    ("CannotHandleRequest", w3e.CannotHandleRequest("no"), ALERT),
    ("TooManyRequests", w3e.TooManyRequests("429"), RETRY),
    ("MultipleFailedRequests", w3e.MultipleFailedRequests("again"), RETRY),
    ("InvalidAddress", w3e.InvalidAddress("checksum"), ALERT),
    ("NameNotFound", w3e.NameNotFound("ens"), ALERT),
    ("StaleBlockchain", w3e.StaleBlockchain(BLOCK, 60), RETRY),  # type: ignore[arg-type]
    ("MismatchedABI", w3e.MismatchedABI("abi"), ALERT),
    ("ABIEventNotFound", w3e.ABIEventNotFound("event"), ALERT),
    ("ABIFunctionNotFound", w3e.ABIFunctionNotFound("function"), ALERT),
    ("ABIConstructorNotFound", w3e.ABIConstructorNotFound("constructor"), ALERT),
    ("ABIFallbackNotFound", w3e.ABIFallbackNotFound("fallback"), ALERT),
    ("ABIReceiveNotFound", w3e.ABIReceiveNotFound("receive"), ALERT),
    ("NoABIFunctionsFound", w3e.NoABIFunctionsFound("none"), ALERT),
    ("NoABIFound", w3e.NoABIFound("none"), ALERT),
    ("NoABIEventsFound", w3e.NoABIEventsFound("none"), ALERT),
    ("InvalidEventABI", w3e.InvalidEventABI("bad"), ALERT),
    ("LogTopicError", w3e.LogTopicError("topics"), ALERT),
    ("InsufficientData", w3e.InsufficientData("gas price"), ALERT),
    ("InfuraProjectIdNotFound", w3e.InfuraProjectIdNotFound("id"), ALERT),
    ("InvalidTransaction", w3e.InvalidTransaction("bad tx"), ALERT),
    ("TransactionTypeMismatch", w3e.TransactionTypeMismatch(), ALERT),
    ("BadResponseFormat", w3e.BadResponseFormat("garbage"), RETRY),
    ("TaskNotRunning", w3e.TaskNotRunning(object()), RETRY),  # type: ignore[arg-type]
    ("SubscriptionHandlerTaskException", w3e.SubscriptionHandlerTaskException(object()), RETRY),  # type: ignore[arg-type]
    ("PersistentConnectionError", w3e.PersistentConnectionError("closed"), RETRY),
    ("PersistentConnectionClosedOK", w3e.PersistentConnectionClosedOK("closed"), RETRY),
    ("SubscriptionProcessingFinished", w3e.SubscriptionProcessingFinished("done"), RETRY),
    ("ReadBufferLimitReached", w3e.ReadBufferLimitReached("buffer"), ALERT),
    ("Web3Exception", w3e.Web3Exception("other"), ALERT),
    # Web3RPCError by the node's message (Anvil's, geth's wording)
    ("nonce too low", rpc_error(-32003, "nonce too low"), RESYNC),
    ("nonce too high", rpc_error(-32000, "nonce too high"), RESYNC),
    ("replacement underpriced", rpc_error(-32003, "replacement transaction underpriced"), RESYNC),
    ("already imported", rpc_error(-32003, "transaction already imported"), RETRY),
    ("already known", rpc_error(-32000, "already known"), RETRY),
    ("insufficient funds", rpc_error(-32003, "Insufficient funds for gas * price + value"), ALERT),
    ("failed to decode", rpc_error(-32602, "Failed to decode transaction"), DROP),
    ("execution reverted", rpc_error(3, "execution reverted"), DROP),
    ("underpriced", rpc_error(-32000, "transaction underpriced"), DROP),
    ("rate limited", rpc_error(-32005, "rate limit exceeded"), RETRY),
    # beyond web3
    ("TransactionReverted", TransactionReverted("RiskVault__LiquidationCooldown"), DROP),
    ("requests ConnectionError", requests.ConnectionError("refused"), RETRY),
    ("requests Timeout", requests.Timeout("read timed out"), RETRY),
    ("requests HTTPError", requests.HTTPError("502 Bad Gateway"), RETRY),
    ("ConnectionRefusedError", ConnectionRefusedError(111, "refused"), RETRY),
    ("TimeoutError", TimeoutError("timed out"), RETRY),
    ("sqlite3 OperationalError", sqlite3.OperationalError("database is locked"), ALERT),
    ("plain ValueError (web3 6's RPC error)", ValueError("positions without a slot: DOGE"), ALERT),
    ("anything else", KeyError("x"), ALERT),
]


@pytest.mark.parametrize(("error", "remedy"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_error_class_maps_to_its_remedy(error: BaseException, remedy: Remedy) -> None:
    verdict = classify(error)
    assert verdict.remedy is remedy
    assert verdict.why and verdict.error.startswith(type(error).__name__)


def web3_exception_classes() -> list[type[BaseException]]:
    return [c for _n, c in inspect.getmembers(w3e, inspect.isclass)
            if issubclass(c, BaseException) and c.__module__ == w3e.__name__]  # fmt: skip


def test_every_web3_exception_class_has_a_case_and_a_rule_of_its_own() -> None:
    named = {c[0] for c in CASES}
    for cls in web3_exception_classes():
        assert cls.__name__ in named, f"no test case for web3.exceptions.{cls.__name__}"
        if cls is not w3e.Web3Exception:
            first = rules_for(cls)[0]
            assert first.error is not w3e.Web3Exception, f"{cls.__name__} hits the catch-all"


def test_no_rule_is_shadowed_by_an_earlier_one() -> None:
    for i, rule in enumerate(RULES):
        for earlier in RULES[:i]:
            shadowed = issubclass(rule.error, earlier.error) and not earlier.messages
            assert not shadowed, f"{rule.error.__name__} ({rule.why}) is shadowed by {earlier}"


def test_a_web3_rpc_error_without_a_response_is_classified_by_its_text() -> None:
    assert classify(rpc_error(-32003, "nonce too low")).remedy is RESYNC
    assert classify(w3e.Web3RPCError("nonce too low")).remedy is RESYNC  # no response attached
