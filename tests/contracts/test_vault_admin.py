"""Role gates and the circuit breaker, on Anvil: every admin function refuses a non-admin, and a
paused vault refuses every user action (no proof needed: the pause check comes first)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD

from zkrisk.engine.chain import dev_scenario as ds
from zkrisk.engine.chain.client import TransactionReverted
from zkrisk.engine.chain.vault import VaultClient

from .world import VaultWorld

ZERO_PROOF = [0] * 8
STRANGER = "0x0000000000000000000000000000000000005742"

# name → (call on a contract, which contract). Kept in sync with the ABIs by the test below.
VAULT_ADMIN: dict[str, Callable[[Any], ContractFunction]] = {
    "pause": lambda c: c.functions.pause(),
    "unpause": lambda c: c.functions.unpause(),
    "setMinHealth": lambda c: c.functions.setMinHealth(11_000),
    "setMaxAges": lambda c: c.functions.setMaxAges(60, 60),
    "setLiquidationTerms": lambda c: c.functions.setLiquidationTerms(5_000, 500, 0),
    "setBeneficiary": lambda c: c.functions.setBeneficiary(STRANGER),
    "grantRole": lambda c: c.functions.grantRole(b"\x00" * 32, STRANGER),
    "revokeRole": lambda c: c.functions.revokeRole(b"\x00" * 32, STRANGER),
}
BOOK_ADMIN: dict[str, Callable[[Any], ContractFunction]] = {
    "listAsset": lambda c: c.functions.listAsset(STRANGER, STRANGER, 1),
    "setFeed": lambda c: c.functions.setFeed(0, STRANGER),
    "setLiquidationThreshold": lambda c: c.functions.setLiquidationThreshold(0, 1),
    "setMaxPriceAge": lambda c: c.functions.setMaxPriceAge(1),
    "grantRole": lambda c: c.functions.grantRole(b"\x00" * 32, STRANGER),
    "revokeRole": lambda c: c.functions.revokeRole(b"\x00" * 32, STRANGER),
}
# State-changing functions anyone may call (everything else must be role-gated).
VAULT_PUBLIC = {"deposit", "commit", "updateCommitment", "withdraw", "liquidate", "liquidateStale",
                "renounceRole"}  # fmt: skip
BOOK_PUBLIC = {"takeSnapshot", "renounceRole"}


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
        receipt = world.admin.set_liquidation_terms(4_000, 1_000, 60)
        (event,) = world.admin.vault.events.PolicyChanged().process_receipt(receipt, errors=DISCARD)
        new = event["args"]["newPolicy"]
        assert (new["closeFactorBps"], new["liquidationBonusBps"]) == (4_000, 1_000)
        assert event["args"]["oldPolicy"]["closeFactorBps"] == 5_000
        assert world.admin.policy().close_factor_bps == 4_000


def test_admin_policy_change_out_of_range_then_reverts_naming_the_field(world: VaultWorld) -> None:
    with pytest.raises(TransactionReverted, match="RiskVault__InvalidPolicy") as info:
        world.admin.set_liquidation_terms(10_000, 1, 0)  # 100% + bonus > escrow
    assert "closeFactor * (1 + bonus) > 1" in str(info.value)


USER_ACTIONS: dict[str, Callable[[VaultClient], ContractFunction]] = {
    "deposit": lambda v: v.vault.functions.deposit(1),
    "commit": lambda v: v.vault.functions.commit(1, ZERO_PROOF),
    "updateCommitment": lambda v: v.vault.functions.updateCommitment(1, 1, ZERO_PROOF),
    "withdraw": lambda v: v.vault.functions.withdraw(1, 1, ZERO_PROOF),
    "liquidate": lambda v: v.vault.functions.liquidate(STRANGER, 1, ZERO_PROOF),
    "liquidateStale": lambda v: v.vault.functions.liquidateStale(STRANGER),
}


def test_paused_vault_refuses_every_user_action_and_only_the_admin_unpauses(
    world: VaultWorld,
) -> None:
    assert set(USER_ACTIONS) == VAULT_PUBLIC - {"renounceRole"}
    with world.isolated():
        world.admin.pause()  # the admin is also the guardian here
        for name, make in USER_ACTIONS.items():
            with pytest.raises(TransactionReverted, match="EnforcedPause"):
                world.desk.chain.transact(make(world.desk))
            assert name  # every action refused
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
        with pytest.raises(TransactionReverted, match="PriceBook__StalePrice") as info:
            world.keeper.chain._send(tx)  # the raw send path that `transact` uses
        assert "in block" in str(info.value)
