"""`zkrisk attest`: the book attester signs an account's reconciled book for one vault.

The attester's key is read from $ZKRISK_ATTESTER_KEY (never a flag: flags end up in shell
histories and process lists). The command reads the chain for what the signature depends on
(chain id, the price book's slots and listed symbols, the account's book sequence, its registered
attester, the policy's maxAttestationAge, the chain's time) and refuses to sign what the vault
would refuse. It prints the signed attestation as JSON; anyone may then submit it
(`zkrisk chain submit-book`) or the desk commits it with a proof (`zkrisk chain update-book`).

Exit codes: 0 signed, 2 bad input (a book for another account, a stale sequence, a key that is
not the account's attester, an unreachable RPC URL).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .common import UNIX_TIME_MAX, bad_input, fail

if TYPE_CHECKING:  # web3 and eth_account cost a second at start-up: imported where used
    from web3 import Web3

    from ..risk.models import Portfolio

ATTESTER_KEY_ENV = "ZKRISK_ATTESTER_KEY"


def attester_key() -> str:
    """The attester's private key from $ZKRISK_ATTESTER_KEY (never a flag); ValueError naming
    the fix when it is unset or not a key."""
    from eth_account import Account

    key = os.environ.get(ATTESTER_KEY_ENV, "").strip()
    if not key:
        raise ValueError(
            f"set ${ATTESTER_KEY_ENV} to the attester's private key (hex); it is never a flag"
        )
    try:
        Account.from_key(key)
    except (ValueError, TypeError):
        raise ValueError(f"${ATTESTER_KEY_ENV} is not a valid private key (hex)") from None
    return key


#: The few views `attest` reads (a hand-written ABI: no compile needed to sign).
_VAULT_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "priceBook", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "address"}]},
    {"type": "function", "name": "bookSequence", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}], "outputs": [{"name": "", "type": "uint64"}]},
    {"type": "function", "name": "attesterOf", "stateMutability": "view",
     "inputs": [{"name": "account", "type": "address"}], "outputs": [{"name": "", "type": "address"}]},
]  # fmt: skip
_POLICY_ABI: dict[str, Any] = {
    "type": "function", "name": "policy", "stateMutability": "view", "inputs": [],
    "outputs": [{"name": "", "type": "tuple", "components": [
        {"name": n, "type": t} for n, t in (
            ("minHealthBps", "uint16"), ("degradedMinHealthBps", "uint16"),
            ("closeFactorBps", "uint16"), ("liquidationBonusBps", "uint16"),
            ("staleSliceBps", "uint16"), ("liquidationCooldown", "uint32"),
            ("maxProofAge", "uint32"), ("maxPriceAge", "uint32"), ("snapshotWindow", "uint32"),
            ("maxAttestationAge", "uint32"), ("minLeftover", "uint128"))]}],
}  # fmt: skip
_BOOK_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "slots", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "assetCount", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "tokenAt", "stateMutability": "view",
     "inputs": [{"name": "slot", "type": "uint256"}], "outputs": [{"name": "", "type": "address"}]},
]  # fmt: skip
_SYMBOL_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "symbol", "stateMutability": "view", "inputs": [],
     "outputs": [{"name": "", "type": "string"}]},
]  # fmt: skip


def _load_book(path: Path) -> Portfolio:
    """A book file (salt + [portfolio]) or a plain portfolio file."""
    from ..files import load_model
    from ..keeper.books import BookFile
    from ..risk.models import Portfolio

    try:
        return load_model(path, BookFile).portfolio
    except Exception:
        return load_model(path, Portfolio)


def _hex_int(name: str, value: str) -> int:
    try:
        return int(value, 16)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not hex (e.g. 0x1f2e…)") from None


def attest(
    book: Annotated[
        Path,
        typer.Option(
            "--book", help="The reconciled book (book or portfolio file).", dir_okay=False
        ),
    ],
    account: Annotated[str, typer.Option(help="The account whose book it is.")],
    salt: Annotated[str, typer.Option(help="The desk's commitment salt (hex).")],
    sequence: Annotated[int, typer.Option(help="Book sequence; above the vault's current.", min=1)],
    rpc_url: Annotated[
        str, typer.Option("--rpc-url", envvar="ZKRISK_RPC_URL", help="JSON-RPC endpoint.")
    ],
    vault: Annotated[
        str | None,
        typer.Option(
            help="The RiskVault (EIP-712 verifying contract); default: the chain's "
            "deployment record."
        ),
    ] = None,
    deployments: Annotated[
        Path | None,
        typer.Option(
            help="Folder of deployment records (default: build/deployments).", file_okay=False
        ),
    ] = None,
    commitment: Annotated[
        str | None,
        typer.Option(
            help="The commitment the desk claims (hex): refuse unless it is the reconciled book's.",
        ),
    ] = None,
    issued_at: Annotated[
        int | None,
        typer.Option(
            help="Unix time of the reconciliation (default: the chain's latest block).",
            min=0,
            max=UNIX_TIME_MAX,
        ),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Also write the JSON here.", dir_okay=False)
    ] = None,
) -> None:
    """Sign an account's reconciled book (EIP-712 BookAttestation) for a vault; prints JSON.

    The attester key comes from $ZKRISK_ATTESTER_KEY. The commitment is computed from the book, the account and the salt exactly as the circuits open it; the sequence, the time and the signer are checked as the vault will check them.
    """  # fmt: skip
    from eth_account import Account
    from eth_utils.address import is_address, to_checksum_address
    from web3 import Web3

    from ..chain.attestation import (
        AttestationDomain,
        AttestationError,
        attest_book,
        check_freshness,
    )
    from ..chain.deployments import load_deployment

    with bad_input():
        key = attester_key()
        attester = Account.from_key(key).address
        for name, value in (("--account", account), ("--vault", vault)):
            if value is not None and not is_address(value):
                raise ValueError(f"{name} {value!r} is not an address (0x + 40 hex digits)")
        portfolio = _load_book(book)
        salt_value = _hex_int("--salt", salt)
        claimed = None if commitment is None else _hex_int("--commitment", commitment)
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        if not w3.is_connected():
            raise ValueError(f"no Ethereum JSON-RPC node answers at {rpc_url}: check --rpc-url")
        if vault is None:
            try:
                vault = load_deployment(int(w3.eth.chain_id), deployments).contracts["RiskVault"]
            except FileNotFoundError as exc:
                raise ValueError(f"{exc}; or pass --vault ADDRESS") from None
        who, where = to_checksum_address(account), to_checksum_address(vault)
        if not w3.eth.get_code(where):
            raise ValueError(f"--vault {where}: no contract there on chain {w3.eth.chain_id}")
        chain = _ChainView(w3, where)
        now = chain.now() if issued_at is None else issued_at
        signed = attest_book(
            portfolio, account=who, salt=salt_value, symbols=chain.symbols(), slots=chain.slots(),
            sequence=sequence, issued_at=now, domain=AttestationDomain(int(w3.eth.chain_id), where),
            private_key=key, claimed_commitment=claimed,
        )  # fmt: skip
        check_freshness(signed.attestation, current_sequence=chain.sequence(who),
                        now=chain.now(), max_age=chain.max_attestation_age())  # fmt: skip
        registered = chain.attester(who)
        if registered.lower() != attester.lower():
            raise AttestationError(
                f"{attester} (${ATTESTER_KEY_ENV}) is not {who}'s registered attester "
                f"({registered}): use that key, or have governance set it "
                "(`zkrisk chain govern propose set-attester`)"
            )
    text = signed.to_json()
    if out is not None:
        try:
            out.write_text(text + "\n")
        except OSError as exc:
            fail([f"--out {out}: {exc.strerror}"])
    typer.echo(text)


class _ChainView:
    """The vault and price-book views an attestation depends on."""

    def __init__(self, w3: Web3, vault: str) -> None:
        self.w3 = w3
        self.vault = w3.eth.contract(address=vault, abi=[*_VAULT_ABI, _POLICY_ABI])  # type: ignore[call-overload]
        book = self.vault.functions.priceBook().call()
        self.book = w3.eth.contract(address=book, abi=_BOOK_ABI)

    def now(self) -> int:
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def slots(self) -> int:
        return int(self.book.functions.slots().call())

    def symbols(self) -> list[str]:
        count = int(self.book.functions.assetCount().call())
        tokens = [self.book.functions.tokenAt(i).call() for i in range(count)]
        return [str(self.w3.eth.contract(address=t, abi=_SYMBOL_ABI).functions.symbol().call())
                for t in tokens]  # fmt: skip

    def sequence(self, account: str) -> int:
        return int(self.vault.functions.bookSequence(account).call())

    def attester(self, account: str) -> str:
        return str(self.vault.functions.attesterOf(account).call())

    def max_attestation_age(self) -> int:
        policy = self.vault.functions.policy().call()
        return int(policy[9])
