"""Role gates, policy bounds and the circuit breaker, on Anvil: every admin function refuses a
non-admin, every policy bound is enforced (a cooldown of 0 is refused), and a paused vault
refuses new books, withdrawals (until the exit opens) and liquidations, not deposits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from eth_utils.crypto import keccak
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.chain.vault import VaultClient

from .world import VaultWorld

ZERO = "0x0000000000000000000000000000000000000000"

ZERO_PROOF = [0] * 8
STRANGER = "0x0000000000000000000000000000000000005742"
ROLE = keccak(text="RISK_ADMIN_ROLE")
ADMIN_RULES = {  # AccessControlDefaultAdminRules: the admin's own two-step transfer
    "beginDefaultAdminTransfer": lambda c: c.functions.beginDefaultAdminTransfer(STRANGER),
    "cancelDefaultAdminTransfer": lambda c: c.functions.cancelDefaultAdminTransfer(),
    "changeDefaultAdminDelay": lambda c: c.functions.changeDefaultAdminDelay(1),
    "rollbackDefaultAdminDelay": lambda c: c.functions.rollbackDefaultAdminDelay(),
    "grantRole": lambda c: c.functions.grantRole(ROLE, STRANGER),
    "revokeRole": lambda c: c.functions.revokeRole(ROLE, STRANGER),
}

# name → (call on a contract, which contract). Kept in sync with the ABIs by the test below.
VAULT_ADMIN: dict[str, Callable[[Any], ContractFunction]] = {
    "pause": lambda c: c.functions.pause(),
    "unpause": lambda c: c.functions.unpause(),
    "setPolicy": lambda c: c.functions.setPolicy(
        ds.POLICY.abi_tuple(c.get_function_by_name("policy").abi["outputs"][0]["components"])
    ),
    "setAttester": lambda c: c.functions.setAttester(STRANGER, STRANGER),
    "setBeneficiary": lambda c: c.functions.setBeneficiary(STRANGER),
    "setMarginGate": lambda c: c.functions.setMarginGate(STRANGER, 3_600),
    "publishRiskArrays": lambda c: c.functions.publishRiskArrays(1, 1),
    **ADMIN_RULES,
}
BOOK_ADMIN: dict[str, Callable[[Any], ContractFunction]] = {
    "listAsset": lambda c: c.functions.listAsset(STRANGER, (STRANGER, 60, ZERO, 0, 1, 2, 0, 1)),
    "setAssetConfig": lambda c: c.functions.setAssetConfig(0, (STRANGER, 60, ZERO, 0, 1, 2, 0, 1)),
    "setLiveness": lambda c: c.functions.setLiveness((1, 300, 300, ZERO, 0)),
    **ADMIN_RULES,
}
# State-changing functions anyone may call (everything else must be role-gated);
# acceptDefaultAdminTransfer only by the pending admin, after the delay.
VAULT_PUBLIC = {"deposit", "submitAttestedBook", "updateBook", "proveHealth", "withdraw",
                "withdrawWithMarginProof", "liquidate", "liquidateMany", "liquidateStale", "claim", "withdrawOwed", "renounceRole",
                "acceptDefaultAdminTransfer"}  # fmt: skip
BOOK_PUBLIC = {"takeSnapshot", "renounceRole", "acceptDefaultAdminTransfer"}


def _mutating(abi: list[dict[str, Any]]) -> set[str]:
    return {
        item["name"]
        for item in abi
        if item.get("type") == "function" and item["stateMutability"] not in ("view", "pure")
    }


def test_every_state_changing_function_is_listed_as_public_or_admin(world: VaultWorld) -> None:
    vault_abi, book_abi = world.stack.vault.abi, world.stack.price_book.abi
    assert _mutating(vault_abi) == VAULT_PUBLIC | set(VAULT_ADMIN)
    assert _mutating(book_abi) == BOOK_PUBLIC | set(BOOK_ADMIN)


@pytest.mark.parametrize("name", sorted(VAULT_ADMIN))
def test_vault_admin_function_when_caller_lacks_the_role_then_reverts(
    world: VaultWorld, name: str
) -> None:
    fn = VAULT_ADMIN[name](world.keeper.vault)
    with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount") as info:
        world.keeper.chain.transact(fn)
    assert info.value.decoded is not None
    assert dict(info.value.decoded.args)["account"] == world.keeper.account


@pytest.mark.parametrize("name", sorted(BOOK_ADMIN))
def test_price_book_admin_function_when_caller_lacks_the_role_then_reverts(
    world: VaultWorld, name: str
) -> None:
    fn = BOOK_ADMIN[name](world.keeper.price_book)
    with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount"):
        world.keeper.chain.transact(fn)


def test_admin_changes_the_policy_and_each_change_is_an_event(world: VaultWorld) -> None:
    with world.isolated():
        changed = replace(ds.POLICY, close_factor_bps=4_000, liquidation_bonus_bps=1_000)
        receipt = world.admin.set_policy(changed)
        (event,) = world.admin.vault.events.PolicyChanged().process_receipt(receipt, errors=DISCARD)
        new = event["args"]["newPolicy"]
        assert (new["closeFactorBps"], new["liquidationBonusBps"]) == (4_000, 1_000)
        assert event["args"]["oldPolicy"]["closeFactorBps"] == 5_000
        assert world.admin.policy() == changed


@pytest.mark.parametrize(
    ("field", "value"),
    [("liquidation_cooldown", 0), ("close_factor_bps", 10_000), ("min_health_bps", 9_999),
     ("max_proof_age", 59), ("snapshot_window", 3_601), ("liquidation_bonus_bps", 1_501),
     ("degraded_min_health_bps", 10_000)],
)  # fmt: skip
def test_admin_policy_change_out_of_range_then_reverts_naming_the_field(
    world: VaultWorld, field: str, value: int
) -> None:
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidPolicy") as info:
        world.admin.set_policy(replace(ds.POLICY, **{field: value}))
    named = "".join(w.capitalize() if i else w for i, w in enumerate(field.split("_")))
    assert info.value.decoded is not None
    assert dict(info.value.decoded.args)["what"] == named


# A paused vault: what must stop, and what pausing must still allow (more margin, re-proving,
# and the attester's newer books, which move no money: a withdrawal that reopens after a long
# pause must open the latest of them; the beneficiary's claims of settled repayments).
PAUSED_REFUSED: dict[str, tuple[Callable[[VaultClient], ContractFunction], str]] = {
    "withdraw": (lambda v: v.vault.functions.withdraw(1, 1, ZERO_PROOF),
                 "RiskVault__ExitNotYetOpen"),
    "liquidate": (lambda v: v.vault.functions.liquidate(STRANGER, 1, 1, 10_000, ZERO_PROOF),
                  "EnforcedPause"),
    "liquidateStale": (lambda v: v.vault.functions.liquidateStale(STRANGER), "EnforcedPause"),
    "liquidateMany": (lambda v: v.vault.functions.liquidateMany(
        [(STRANGER, 0, 0, 1, 1, 10_000, ZERO_PROOF)]), "EnforcedPause"),
    # this vault is not margin-gated; RiskVaultMarginGate.t.sol pauses a gated one
    "withdrawWithMarginProof": (lambda v: v.vault.functions.withdrawWithMarginProof(1, ZERO_PROOF),
                                "RiskVault__MarginGateOff"),
}  # fmt: skip
PAUSED_ALLOWED = {"deposit", "proveHealth", "submitAttestedBook", "updateBook", "claim",
                  "withdrawOwed"}  # fmt: skip


def test_paused_vault_refuses_books_withdrawals_and_liquidations_and_only_the_admin_unpauses(
    world: VaultWorld,
) -> None:
    assert set(PAUSED_REFUSED) | PAUSED_ALLOWED == VAULT_PUBLIC - {
        "renounceRole", "acceptDefaultAdminTransfer"}  # fmt: skip
    with world.isolated():
        world.admin.pause()  # the admin is also the guardian here
        for name, (make, error) in PAUSED_REFUSED.items():
            with pytest.raises(TransactionReverted, match=error):
                world.desk.chain.transact(make(world.desk))
            assert name  # every action refused
        world.fund_and_deposit(world.desk, 1)  # more margin never hurts
        sequence = world.desk.book_sequence() + 1
        signed = world.attest(world.desk, world.book(world.desk), sequence=sequence)
        world.other.submit_attested_book(signed)  # the attester's word lands during the pause
        assert world.desk.book_sequence() == sequence
        guardian_role = world.admin.vault.functions.GUARDIAN_ROLE().call()
        world.admin.chain.transact(
            world.admin.vault.functions.grantRole(guardian_role, world.other.account)
        )
        world.admin.chain.transact(
            world.admin.vault.functions.revokeRole(guardian_role, world.admin.account)
        )
        with pytest.raises(TransactionReverted, match="AccessControlUnauthorizedAccount"):
            world.other.unpause()  # a guardian can stop the vault, not restart it
        receipt = world.admin.unpause()
        (event,) = world.admin.vault.events.ProvingResumed().process_receipt(
            receipt, errors=DISCARD
        )
        assert event["args"]["timestamp"] == world.now()


def test_a_transaction_that_fails_when_mined_is_explained_by_replaying_it(
    world: VaultWorld,
) -> None:
    with world.isolated():
        fn = world.keeper.price_book.functions.takeSnapshot()
        tx = dict(fn.build_transaction({"from": world.keeper.account}))  # estimated: succeeds now
        world.advance(ds.PRICE_BOOK_MAX_AGE + 1)  # … but not once the feeds have gone stale
        with pytest.raises(TransactionReverted, match="PriceBook__NoValidPrice") as info:
            world.keeper.chain._send(tx)  # the raw send path that `transact` uses
        assert "in block" in str(info.value)
