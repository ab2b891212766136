"""The risk service's core: decide a check, sign an approval, keep the kill switch, audit all.

Fail closed: `check` never raises; any internal error becomes a REJECT (HTTP 500) and no
approval leaves the service unless its audit row was written first. Only an APPROVE verdict is
signed, and the kill switch is read again just before signing.

A client order id is bound to its first approval for good (in the state file, before the
audit row): the same order again gets the original response bytes back, another order under
the same id a 409. Rate windows are rebuilt from the same rows at start.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from ..audit import AuditLog
from ..files import load_assets, load_policy_file, load_portfolio, load_prices, load_scenarios
from ..risk.checks import RiskEngine
from ..risk.models import (
    CheckState,
    Portfolio,
    PriceSnapshot,
    Reason,
    TradingState,
    Verdict,
    VerdictKind,
)
from .auth import Client, KeyRing
from .config import Secrets, ServeConfig
from .killswitch import RELEASED, KillSwitchState
from .metrics import ApiMetrics
from .schemas import CheckRequest, CheckResponse, Health, KillSwitchRequest, KillSwitchStatus
from .signer import ApprovalSigner, approval_message
from .state import Checkpointer, Issued, ServiceState, fingerprint
from .watch import Watched

if TYPE_CHECKING:
    from ..chain.audit_anchor import AnchorSender

log = logging.getLogger("zkrisk.api")
Clock = Callable[[], int]


class ServiceReason(StrEnum):
    """Reason codes the service adds to the engine's."""

    KILL_SWITCH = "KILL_SWITCH"
    UNKNOWN_ACCOUNT = "UNKNOWN_ACCOUNT"
    ACCOUNT_REQUIRED = "ACCOUNT_REQUIRED"
    ACCOUNT_NOT_PERMITTED = "ACCOUNT_NOT_PERMITTED"
    DUPLICATE_CLIENT_ORDER_ID = "DUPLICATE_CLIENT_ORDER_ID"
    WALLET_NOT_ALLOWED = "WALLET_NOT_ALLOWED"
    INTERNAL_ERROR = "INTERNAL_ERROR"


@dataclass(frozen=True, slots=True)
class Decision:
    """A check's HTTP status, its JSON body (serialised once, also audited) and extra headers."""

    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Desk:
    book: Watched[Portfolio]
    # Approval times for the rate limit. The rule only asks whether the window already holds
    # max_orders_per_window orders, so the newest that many times are all it needs.
    approved_at: deque[int]

    def recent(self, now: int, window: int) -> tuple[int, ...]:
        while self.approved_at and self.approved_at[0] <= now - window:
            self.approved_at.popleft()
        return tuple(self.approved_at)


def _same_account(account: str) -> Callable[[Path], Portfolio]:
    """A book loader that refuses a reloaded file naming another account."""

    def load(path: Path) -> Portfolio:
        loaded = load_portfolio(path)
        if loaded.account != account:
            raise ValueError(f"{path}: account changed from {account} to {loaded.account}")
        return loaded

    return load


def _reject(verdict: Verdict, reason: Reason) -> Verdict:
    # Built anew, not model_copy: the engine's fast-path verdicts hold a frozenset
    # __pydantic_fields_set__ that model_copy(update=...) cannot extend.
    return Verdict(
        kind=VerdictKind.REJECT,
        reasons=(reason, *verdict.reasons),
        client_order_id=verdict.client_order_id,
        policy_id=verdict.policy_id,
        post_trade_health_factor_bps=verdict.post_trade_health_factor_bps,
        post_trade_var_usd=verdict.post_trade_var_usd,
    )


class RiskService:
    """One desk's (or several desks') pre-trade gate with signed approvals."""

    def __init__(
        self,
        *,
        engine: RiskEngine,
        prices: Watched[PriceSnapshot],
        books: Mapping[str, Watched[Portfolio]],
        signer: ApprovalSigner,
        audit: AuditLog,
        state: ServiceState,
        keys: KeyRing,
        kill_switch_token: str,
        approval_ttl_seconds: int,
        trading_state: TradingState = TradingState.ACTIVE,
        clock: Clock | None = None,
        metrics: ApiMetrics | None = None,
        max_body_bytes: int = 16_384,
        max_json_depth: int = 8,
        anchor_sender: AnchorSender | None = None,
        trader_wallets: frozenset[str] = frozenset(),
    ) -> None:
        self.engine = engine
        self.trader_wallets = frozenset(w.lower() for w in trader_wallets)
        self.anchor_sender = anchor_sender
        self.prices = prices
        self.signer = signer
        self.audit = audit
        self.state = state
        self.keys = keys
        self.kill_switch_token = kill_switch_token
        self.ttl = approval_ttl_seconds
        self.trading_state = trading_state
        self.max_body_bytes = max_body_bytes
        self.max_json_depth = max_json_depth
        self.clock: Clock = clock or (lambda: int(time.time()))
        self.metrics = metrics or ApiMetrics()
        self.desks = {a.lower(): self._restore_desk(a.lower(), book) for a, book in books.items()}
        self._checkpointer = Checkpointer([state.path])  # the audit log runs its own
        self.kill = self._restore_kill_switch()
        self.metrics.kill_switch.set(1 if self.kill.engaged else 0)

    @classmethod
    def from_config(cls, config: ServeConfig, secrets: Secrets) -> RiskService:
        """Load every input file (an error names the file) and open the audit log."""
        metrics = ApiMetrics()

        def on_error(path: Path, _exc: Exception) -> None:
            metrics.reload_errors.labels(file=path.name).inc()

        every = config.reload_interval_seconds
        scenarios = None if config.scenarios_file is None else load_scenarios(config.scenarios_file)
        engine = RiskEngine(
            load_policy_file(config.policy_file), load_assets(config.assets_file), scenarios
        )
        books: dict[str, Watched[Portfolio]] = {}
        for path in config.portfolio_files:
            account = load_portfolio(path).account
            if account in books:
                raise ValueError(f"{path}: a second book for account {account}")
            books[account] = Watched(
                path, _same_account(account), interval=every, on_error=on_error
            )
        replay = config.replay_now
        sender = None if config.audit_anchor is None else _anchor_sender(config, secrets)
        audit = AuditLog(config.audit_db, checkpoint_every=config.audit_checkpoint_every,
                         checkpoint_seconds=config.audit_checkpoint_seconds,
                         on_checkpoint=None if sender is None else sender.submit_checkpoint)  # fmt: skip
        if sender is not None:
            sender.attach(audit)  # proves each checkpoint from the log, records it there
        return cls(
            engine=engine,
            prices=Watched(config.prices_file, load_prices, interval=every, on_error=on_error),
            books=books,
            signer=ApprovalSigner(secrets.signer_key, config.signing),
            audit=audit,
            state=ServiceState(config.state_db),
            keys=KeyRing(
                [(k.sha256, Client(k.name, frozenset(k.accounts))) for k in config.api_keys]
            ),
            kill_switch_token=secrets.kill_switch_token,
            approval_ttl_seconds=config.signing.approval_ttl_seconds,
            trading_state=config.trading_state,
            clock=None if replay is None else (lambda: replay),
            metrics=metrics,
            max_body_bytes=config.max_body_bytes,
            max_json_depth=config.max_json_depth,
            anchor_sender=sender,
            trader_wallets=frozenset(config.trader_wallets),
        )

    # -- checks ---------------------------------------------------------------------------------

    def check(self, request: CheckRequest, client: Client) -> Decision:
        """Decide one order for `client`; never raises, never approves on an error."""
        started = time.perf_counter()
        try:
            decision, kind = self._decide(request, client)
        except Exception:
            log.exception("check %s failed: answering REJECT", request.order.client_order_id)
            self.metrics.errors.inc()
            decision, kind = self._internal_error(request, client), VerdictKind.REJECT
        self.metrics.check_latency.observe(time.perf_counter() - started)
        self.metrics.checks.labels(verdict=kind.value).inc()
        return decision

    def _decide(self, request: CheckRequest, client: Client) -> tuple[Decision, VerdictKind]:
        intent = request.order
        now = self.clock()
        policy = self.engine.policy
        account, desk, problem = self._desk(request.account, client)
        if problem is None and request.transaction is not None:
            problem = self._wallet_problem(request.transaction.wallet)
        status = (
            200 if problem is None or problem.code != ServiceReason.ACCOUNT_NOT_PERMITTED else 403
        )
        prices = None
        if desk is None or problem is not None:
            verdict = Verdict(kind=VerdictKind.REJECT, reasons=() if problem is None else (problem,),
                              client_order_id=intent.client_order_id, policy_id=policy.policy_id)  # fmt: skip
        else:
            covered = "" if request.transaction is None else request.transaction.model_dump_json()
            mark = fingerprint(account, intent.model_dump_json() + covered)
            prior = self.state.issued(account, intent.client_order_id)
            if prior is not None and prior.fingerprint == mark and not self.kill.engaged:
                return self._replay(request, client, prior), VerdictKind.APPROVE
            if prior is not None and prior.fingerprint != mark:
                status = 409
                verdict = Verdict(kind=VerdictKind.REJECT, reasons=(Reason(
                    code=ServiceReason.DUPLICATE_CLIENT_ORDER_ID,
                    message=f"Client order id {intent.client_order_id!r} was already approved for "
                    f"a different order (decision {prior.decision_id}); use a new id."),),
                    client_order_id=intent.client_order_id, policy_id=policy.policy_id)  # fmt: skip
            else:
                prices = self.prices.get()
                state = CheckState(
                    trading_state=self.trading_state,
                    now=now,
                    recent_order_times=desk.recent(now, policy.rate_window_seconds),
                )
                verdict = self.engine.check(intent, desk.book.get(), prices, state)
        if self.kill.engaged:
            verdict = _reject(verdict, self._kill_reason())
        seq = self.audit.reserve()
        approval = None
        # Read the switch again right before signing (cheap; guards callers on other threads).
        if verdict.kind is VerdictKind.APPROVE and not self.kill.engaged and prices is not None:
            message = approval_message(
                intent,
                account=account,
                policy_id=policy.policy_id,
                snapshot_id=prices.snapshot_id,
                nonce=seq,
                expiry=now + self.ttl,
                transaction=request.transaction,
            )
            approval = self.signer.sign(message)
        body = CheckResponse(decision_id=seq, verdict=verdict, approval=approval).model_dump_json()
        if approval is not None and desk is not None:
            # Bound before it is audited and released: a crash after this line leaves an id
            # whose retry replays this approval (auditing it then), never a second approval.
            self.state.record(account, intent.client_order_id,
                              Issued(mark, seq, body), now)  # fmt: skip
            desk.approved_at.append(now)
        # The audit row is written before the approval is released; a failure here raises.
        self.audit.append("check", intent.client_order_id, verdict.kind.value,
                          _audited(request, client), body, seq=seq)  # fmt: skip
        return Decision(status, body), verdict.kind

    def _wallet_problem(self, wallet: str) -> Reason | None:
        """A check's transaction must come from a wallet on `trader_wallets`."""
        if wallet.lower() in self.trader_wallets:
            return None
        return Reason(code=ServiceReason.WALLET_NOT_ALLOWED,
            message=f"Wallet {wallet} is not on the service's trader_wallets: add it to the "
            "config, or send the order from an allowed wallet.")  # fmt: skip

    def _desk(self, account: str | None, client: Client) -> tuple[str, _Desk | None, Reason | None]:
        """The book to check against, or the reason there is none."""
        if account is None:
            if len(self.desks) != 1:
                return "", None, Reason(code=ServiceReason.ACCOUNT_REQUIRED,
                    message=f"The service holds {len(self.desks)} books: name the account.")  # fmt: skip
            account = next(iter(self.desks))
        desk = self.desks.get(account.lower())
        if desk is None:
            return "", None, Reason(code=ServiceReason.UNKNOWN_ACCOUNT,
                message=f"No book is loaded for account {account}.")  # fmt: skip
        if not client.may_use(account):
            return "", None, Reason(code=ServiceReason.ACCOUNT_NOT_PERMITTED,
                message=f"The API key of {client.name!r} may not check orders for {account}.")  # fmt: skip
        return account.lower(), desk, None

    def _restore_desk(self, account: str, book: Watched[Portfolio]) -> _Desk:
        # The rate window counts approvals issued before a restart too.
        policy = self.engine.policy
        cap = policy.max_orders_per_window
        since = self.clock() - policy.rate_window_seconds
        times = self.state.recent_approvals(account, since, cap)
        return _Desk(book, deque(times, maxlen=cap))

    def _replay(self, request: CheckRequest, client: Client, prior: Issued) -> Decision:
        """The same order again (a client retry): the original response, byte for byte."""
        self.audit.append("check", request.order.client_order_id, VerdictKind.APPROVE.value,
                          _audited(request, client), prior.response)  # fmt: skip
        return Decision(200, prior.response, {"Idempotent-Replayed": "true"})

    def _internal_error(self, request: CheckRequest, client: Client) -> Decision:
        reason = Reason(code=ServiceReason.INTERNAL_ERROR,
                        message="The risk service failed internally; failing closed.")  # fmt: skip
        verdict = Verdict(kind=VerdictKind.REJECT, reasons=(reason,),
                          client_order_id=request.order.client_order_id,
                          policy_id=self.engine.policy.policy_id)  # fmt: skip
        seq = 0
        try:
            seq = self.audit.reserve()
            body = CheckResponse(decision_id=seq, verdict=verdict).model_dump_json()
            self.audit.append("check", request.order.client_order_id, verdict.kind.value,
                              _audited(request, client), body, seq=seq)  # fmt: skip
        except Exception:
            log.exception("could not audit the failed check")
            body = CheckResponse(decision_id=seq, verdict=verdict).model_dump_json()
        return Decision(500, body)

    # -- kill switch ----------------------------------------------------------------------------

    def _kill_reason(self) -> Reason:
        since = (
            ""
            if self.kill.changed_at is None
            else f" at {datetime.fromtimestamp(self.kill.changed_at, UTC):%Y-%m-%d %H:%M:%S} UTC"
        )
        why = f" ({self.kill.reason})" if self.kill.reason else ""
        return Reason(code=ServiceReason.KILL_SWITCH,
                      message=f"Kill switch engaged{since}{why}: every approval is halted.")  # fmt: skip

    def set_kill_switch(self, request: KillSwitchRequest, actor: str) -> KillSwitchStatus:
        """Engage or release; takes effect for the very next check, and is audited."""
        self.kill = KillSwitchState(request.engaged, int(time.time()), request.reason)
        self.metrics.kill_switch.set(1 if request.engaged else 0)
        status = self.kill_switch_status()
        log.warning("kill switch %s by %s: %s", "ENGAGED" if request.engaged else "RELEASED",
                    actor, request.reason)  # fmt: skip
        self.audit.append("killswitch", actor, "ENGAGED" if request.engaged else "RELEASED",
                          request.model_dump_json(), status.model_dump_json())  # fmt: skip
        return status

    def kill_switch_status(self) -> KillSwitchStatus:
        return KillSwitchStatus(
            engaged=self.kill.engaged, changed_at=self.kill.changed_at, reason=self.kill.reason
        )

    def _restore_kill_switch(self) -> KillSwitchState:
        # A restart must not silently resume trading that an operator halted.
        last = self.audit.last("killswitch")
        if last is None:
            return RELEASED
        status = KillSwitchStatus.model_validate_json(last.response)
        return KillSwitchState(status.engaged, status.changed_at, status.reason)

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> Health:
        prices = self.prices.get()
        oldest = min((p.timestamp for p in prices.prices.values()), default=prices.taken_at)
        return Health(
            status="ok",
            kill_switch_engaged=self.kill.engaged,
            trading_state=self.trading_state.value,
            policy_id=self.engine.policy.policy_id,
            signer=self.signer.address,
            snapshot_id=prices.snapshot_id,
            price_age_seconds=max(self.clock() - oldest, 0),
            accounts=sorted(self.desks),
        )

    def close(self) -> None:
        self._checkpointer.close()
        if self.anchor_sender is not None:  # the last checkpoint, anchored before the log closes
            self.audit.checkpoint()
            self.anchor_sender.close()
        self.audit.close()
        self.state.close()


def _anchor_sender(config: ServeConfig, secrets: Secrets) -> AnchorSender:
    """The thread that anchors the audit log's checkpoints (`[audit_anchor]`)."""
    from ..chain.audit_anchor import AnchorSender, AuditAnchor
    from ..chain.client import ChainClient

    anchor = config.audit_anchor
    assert anchor is not None and secrets.anchor_key is not None  # read_secrets checked both
    client = ChainClient.connect(anchor.rpc_url, secrets.anchor_key)
    return AnchorSender(AuditAnchor.at(client, anchor.address))


def _audited(request: CheckRequest, client: Client) -> str:
    """The request as audited: who sent it (the API key's client name), then the request."""
    return '{"client":' + json.dumps(client.name) + "," + request.model_dump_json()[1:]
