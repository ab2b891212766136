"""Request and response bodies of the risk service (they make its OpenAPI schema)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from ..risk.models import OrderIntent, Verdict

# uint256 / uint64 travel as decimal strings: JSON numbers above 2**53 lose digits in JavaScript.
BigUint = Annotated[int, Field(ge=0), PlainSerializer(str, return_type=str, when_used="json")]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class _Eip712(BaseModel):
    # EIP-712 names are camelCase on the wire (ethers, MetaMask); snake_case in Python.
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )


ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
HASH_PATTERN = r"^0x[0-9a-fA-F]{64}$"
ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32


class ApprovalTransaction(_Frozen):
    """The transaction an approval covers (what `zkrisk signer` will sign for it, and nothing
    else)."""

    wallet: str = Field(pattern=ADDRESS_PATTERN)
    """The trader wallet that sends it."""
    to: str = Field(pattern=ADDRESS_PATTERN)
    """Its target (the venue's router)."""
    value: BigUint = 0
    """Wei sent with it."""
    data: str = Field(pattern=r"^0x([0-9a-fA-F]{2})*$", max_length=8_194)
    """Its calldata, 0x hex (up to 4 KiB)."""


class CheckRequest(_Frozen):
    """An order intent to check, optionally naming the desk's account."""

    order: OrderIntent
    """The order. Decimals may be JSON numbers or strings; both are read exactly."""
    account: str | None = None
    """The book to check against (0x address); may be omitted when the service holds one book."""
    transaction: ApprovalTransaction | None = None
    """The transaction that will carry the order; the approval then covers exactly it."""


class ApprovalDomain(_Eip712):
    """The EIP-712 domain separator's fields."""

    name: str
    """Domain name ('zkrisk')."""
    version: str
    """Domain version."""
    chain_id: int = Field(alias="chainId")
    """Chain id the approval is valid on."""
    verifying_contract: str = Field(alias="verifyingContract")
    """The only contract that should accept the approval."""


class ApprovalMessage(_Eip712):
    """The signed `OrderApproval` struct: what exactly was approved, for whom, until when."""

    account: str
    """The desk's account (address)."""
    client_order_id: str = Field(alias="clientOrderId")
    """The client's idempotency key for the order."""
    symbol: str
    """Instrument."""
    side: Literal[0, 1]
    """0 = BUY, 1 = SELL."""
    quantity: BigUint
    """Order size at QTY scale (10^8 units of the asset)."""
    limit_price: BigUint = Field(alias="limitPrice")
    """LIMIT price at PRICE scale (10^8 USD); 0 for a MARKET order."""
    max_slippage_bps: int = Field(alias="maxSlippageBps", ge=0, le=10_000)
    """A MARKET order's slippage tolerance, bps; 0 for a LIMIT order."""
    counterparty: str
    """Venue or counterparty the order may go to."""
    policy_id: str = Field(alias="policyId")
    """The risk policy that approved it."""
    snapshot_id: BigUint = Field(alias="snapshotId")
    """The oracle price snapshot the check used."""
    nonce: BigUint
    """Unique per approval (the audit-log sequence number): the replay key."""
    expiry: int = Field(ge=0)
    """Unix seconds after which the approval must be refused."""
    wallet: str = Field(default=ZERO_ADDRESS, pattern=ADDRESS_PATTERN)
    """The trader wallet that sends the covered transaction (zero: no transaction covered)."""
    target: str = Field(default=ZERO_ADDRESS, pattern=ADDRESS_PATTERN)
    """The covered transaction's `to` (the venue's router)."""
    value: BigUint = 0
    """The covered transaction's value, wei."""
    call_data_hash: str = Field(default=ZERO_HASH, alias="callDataHash", pattern=HASH_PATTERN)
    """keccak256 of the covered transaction's calldata, 0x hex."""


class SignedApproval(_Eip712):
    """An EIP-712 typed-data signature over an OrderApproval."""

    domain: ApprovalDomain
    """EIP-712 domain."""
    primary_type: Literal["OrderApproval"] = Field(default="OrderApproval", alias="primaryType")
    """Always 'OrderApproval'."""
    types: dict[str, list[dict[str, str]]]
    """The struct's EIP-712 type (as ethers' `verifyTypedData` wants it)."""
    message: ApprovalMessage
    """The approved order."""
    signer: str
    """The risk service's address (checksummed)."""
    signature: str
    """65-byte r‖s‖v signature, 0x hex."""
    digest: str
    """The EIP-712 hash that was signed, 0x hex (for contracts that check with ecrecover)."""


class CheckResponse(_Frozen):
    """The pre-trade verdict, and a signed approval when (and only when) it is APPROVE."""

    decision_id: int
    """Sequence number of this decision in the audit log."""
    verdict: Verdict
    """APPROVE / REJECT / FLAG_FOR_REVIEW with every reason."""
    approval: SignedApproval | None = None
    """The signed approval; None unless the verdict is APPROVE. A repeat of an approved client
    order id gets this response again byte for byte, with the header `Idempotent-Replayed`."""


class KillSwitchRequest(_Frozen):
    """Engage (default) or release the kill switch."""

    engaged: bool = True
    """True halts every approval at once; False resumes."""
    reason: str = Field(default="", max_length=500)
    """Why, for the audit log."""


class KillSwitchStatus(_Frozen):
    """The kill switch's state."""

    engaged: bool
    """True while approvals are halted."""
    changed_at: int | None
    """When it last changed, unix seconds (None: never since the audit log began)."""
    reason: str
    """The reason given with the last change."""


class Health(_Frozen):
    """Liveness and what the service is running with."""

    status: Literal["ok"]
    """Always 'ok' when the service answers."""
    kill_switch_engaged: bool
    """True while approvals are halted."""
    trading_state: str
    """ACTIVE, REDUCING or HALTED."""
    policy_id: str
    """The policy in force."""
    signer: str
    """Address that signs approvals."""
    snapshot_id: int
    """The reference price snapshot in use."""
    price_age_seconds: int
    """Age of the oldest reference price."""
    accounts: list[str]
    """Accounts whose books the service holds."""


class Problem(_Frozen):
    """An error response."""

    detail: str
    """What went wrong."""
