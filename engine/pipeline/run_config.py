"""The run config (`zkrisk run --config run.toml`): one file names everything a bot run needs.

Paths are relative to the config file. The tables are the stages' own config models (ingest,
signal, monitor), so a field means the same here as in the stage that reads it; `[run]` and
`[pretrade]` hold what only the runner needs. Bad input is reported with the field's path and
what to write instead, like every other input file (engine/files.py).
"""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..files import load_assets, load_model, load_policy_file, load_scenarios
from ..risk.checks import RiskEngine
from ..risk.models import Asset, ExactDecimal, RiskPolicy, ScenarioSet
from .ingest_config import IngestConfig
from .monitor import MonitorConfig
from .orders import OrderSendConfig
from .signal import SignalConfig

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class RunSection(_Frozen):
    journal: Path = Path("../build/run/journal.db")
    """The journal file (created on first run; a restart continues it)."""
    account: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$")
    """The desk's account (its vault address): the pre-trade book is this account's."""
    heartbeat_ms: Annotated[int, Field(ge=10, le=60_000)] = 1_000
    """How often each component journals a heartbeat."""
    snapshot_every: Annotated[int, Field(ge=1)] = 5_000
    """Save the stages' snapshot every this many processed records (and at a clean stop)."""
    poll_ms: Annotated[int, Field(ge=1, le=10_000)] = 50
    """How often the runner looks for records other processes appended (kill switch)."""


class PreTradeSection(_Frozen):
    policy: Path
    """The risk policy (TOML or YAML) `RiskEngine.check` applies to every intent."""
    assets: Path
    """The asset list (lending parameters) the policy's checks value the book with."""
    scenarios: Path | None = None
    """Optional VaR scenario set; without it the policy's VaR / ES limits reject every order
    (fail closed)."""
    quote_price_usd: ExactDecimal = Field(default=Decimal(1), gt=0)
    """Price of the policy's quote asset (the paper cash), USD."""


class SimexSection(_Frozen):
    """The shipped simulated exchange (`zkrisk simex serve`): a stand-in for a centralised
    venue, which cannot be reached from here."""

    url: str = Field(default="ws://127.0.0.1:8790", pattern=r"^wss?://")
    """Its WebSocket endpoint."""
    account: str = Field(default="desk", min_length=1, max_length=64)
    """The account the bot trades (the exchange keeps positions and cash per account)."""
    token_env: str | None = None
    """Environment variable holding the account's API token, when the exchange wants one."""


class UniswapSection(_Frozen):
    """Uniswap v2 pools on an EVM node (a local Anvil, or one forked from another chain with
    `zkrisk run --fork-url`): the tokens, router and pools are the addresses file's."""

    rpc_url: str = Field(default="http://127.0.0.1:8545", pattern=r"^https?://")
    """The node's JSON-RPC endpoint (`--fork-url` overrides it)."""
    backup_rpc_url: str | None = Field(default=None, pattern=r"^https?://")
    """A second endpoint of the same chain, used while the first does not answer."""
    addresses: Path = Path("../build/uniswap/addresses.json")
    """The deployment's addresses file (JSON: chain_id, factory, router, weth, tokens, pairs);
    `--addresses` overrides it. Verified against the node before the run starts."""
    key_env: str = Field(default="ZKRISK_UNISWAP_KEY", pattern=_ENV_NAME)
    """Environment variable holding the trading wallet's private key (never written in a file);
    unused (and refused if set) with a signer."""
    signer_url: str | None = Field(default=None, pattern=r"^https?://")
    """The signer process (`zkrisk signer serve`, http://127.0.0.1:PORT): the runner then holds
    no key; each swap is approved by `risk_service_url` and signed there."""
    signer_token_env: str = Field(default="ZKRISK_SIGNER_TOKEN", pattern=_ENV_NAME)
    """Environment variable holding the signer's bearer token."""
    wallet: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    """The trading wallet's address (its key is the signer's), with `signer_url`."""
    risk_service_url: str | None = Field(default=None, pattern=r"^https?://")
    """The risk service (`zkrisk serve`) that approves each swap for the signer."""
    risk_service_key_env: str = Field(default="ZKRISK_RISK_API_KEY", pattern=_ENV_NAME)
    """Environment variable holding the risk service's API key."""
    risk_account: str | None = Field(default=None, pattern=r"^0x[0-9a-fA-F]{40}$")
    """The book the risk service checks against (omit when it holds one)."""
    baseline: Path | None = None
    """The wallet's holdings before the bot's first trade (JSON, written at the first connect
    when missing): reconciliation compares the fills' positions with the balances' change since
    then. Default: beside the journal, `<journal>.uniswap-baseline.json`."""
    default_slippage_bps: int = Field(default=50, ge=0, le=10_000)
    """The bound of an order with neither limit price nor slippage."""
    deadline_s: int = Field(default=300, gt=0)
    """The swap's router deadline, from the chain's time at submit."""
    replace_after_s: float = Field(default=12.0, gt=0)
    """A transaction not mined this long is re-sent with higher fees (or the order abandoned)."""
    max_replacements: int = Field(default=2, ge=0)
    fee_bump_percent: int = Field(default=15, ge=10)
    priority_fee_wei: int = Field(default=10**9, ge=0)

    @model_validator(mode="after")
    def _signer_fields_together(self) -> UniswapSection:
        if self.signer_url is not None and (self.wallet is None or self.risk_service_url is None):
            raise ValueError("signer_url needs wallet (the trading address) and risk_service_url "
                             "(the service approving each swap)")  # fmt: skip
        if self.signer_url is None and (self.wallet or self.risk_service_url or self.risk_account):
            raise ValueError("wallet, risk_service_url and risk_account are for a signer: set "
                             "signer_url too, or remove them (the key comes from key_env)")  # fmt: skip
        return self


class VenueSection(_Frozen):
    """Where approved intents go: `paper` fills them at the quote (no venue), `simex` sends them
    to the simulated exchange (`[venue.simex]`), `uniswap` swaps on Uniswap v2 pools
    (`[venue.uniswap]`)."""

    kind: Literal["paper", "simex", "uniswap"] = "paper"
    simex: SimexSection = SimexSection()
    uniswap: UniswapSection = UniswapSection()
    reconcile_every_s: Annotated[float, Field(gt=0)] = 30.0
    """Compare the book with the venue's balances this often (and at start-up)."""
    reconcile_tolerance: ExactDecimal = Field(default=Decimal("0.00000001"), ge=0)
    """A position difference above this (asset units) is a mismatch: an alert, and REDUCING."""
    cancel_on_stop: bool = True
    """At a clean stop, cancel the orders still working at the venue (journaled first): a resting
    order left behind keeps filling with no run journaling it."""
    orders: OrderSendConfig = OrderSendConfig()
    """Timeouts, retries and routing of order send."""


class RunConfig(_Frozen):
    run: RunSection
    pretrade: PreTradeSection
    ingest: IngestConfig
    signal: SignalConfig = SignalConfig()
    monitor: MonitorConfig
    venue: VenueSection = VenueSection()

    @model_validator(mode="after")
    def _strategies_trade_known_symbols(self) -> RunConfig:
        known = set(self.ingest.symbols)
        for s in self.signal.strategies:
            unknown = sorted(set(s.symbols) - known)
            if unknown:
                raise ValueError(
                    f"strategy {s.id!r} trades {', '.join(unknown)}, which [ingest] symbols "
                    f"does not list: add them there or remove them from the strategy"
                )
        return self


class LoadedRun:
    """A run config with its files read: the policy, assets and scenarios, resolved paths."""

    def __init__(self, path: Path, config: RunConfig) -> None:
        # The gate judges an intent's counterparty against the policy: it is the venue the
        # approval goes to ('paper' in paper mode), whatever a strategy would say.
        kind = config.venue.kind
        strategies = tuple(s.model_copy(update={"counterparty": kind})
                           for s in config.signal.strategies)  # fmt: skip
        signal = config.signal.model_copy(update={"strategies": strategies})
        config = config.model_copy(update={"signal": signal})
        base = path.parent
        self.journal_path = (base / config.run.journal).resolve()
        config = _resolve_uniswap_paths(config, base, self.journal_path)
        self.path, self.config = path, config
        self.policy: RiskPolicy = load_policy_file(base / config.pretrade.policy)
        self.assets: tuple[Asset, ...] = load_assets(base / config.pretrade.assets)
        self.scenarios: ScenarioSet | None = (
            None if config.pretrade.scenarios is None
            else load_scenarios(base / config.pretrade.scenarios)
        )  # fmt: skip
        self.ingest = config.ingest.model_copy(
            update={"sources": tuple(
                s.model_copy(update={"path": base / s.path}) if s.path is not None else s
                for s in config.ingest.sources
            )}
        )  # fmt: skip
        missing = sorted(set(config.ingest.symbols) - set(self.policy.instruments))
        if missing:
            raise ValueError(
                f"{path}: [ingest] symbols {', '.join(missing)} are not instruments of policy "
                f"{self.policy.policy_id!r}: add them to its instruments or drop them here"
            )

    def with_journal(self, path: Path) -> LoadedRun:
        """This run journaling to `path` instead of its [run] journal (`zkrisk run --journal`)."""
        moved = copy.copy(self)
        moved.journal_path = path.resolve()
        return moved

    def with_venue(self, kind: str) -> LoadedRun:
        """This run with `[venue] kind` replaced (`zkrisk run --venue`)."""
        venue = self.config.venue.model_copy(update={"kind": kind})
        return LoadedRun(self.path, self.config.model_copy(update={"venue": venue}))

    def with_uniswap(self, *, rpc_url: str | None, addresses: Path | None) -> LoadedRun:
        """This run with `[venue.uniswap]` rpc_url / addresses replaced (`zkrisk run
        --fork-url / --addresses`: fork mode); `addresses` is relative to the working directory."""
        changes: dict[str, object] = {}
        if rpc_url is not None:
            changes["rpc_url"] = rpc_url
        if addresses is not None:
            changes["addresses"] = addresses.resolve()
        venue = self.config.venue
        uniswap = UniswapSection.model_validate(venue.uniswap.model_dump() | changes)
        config = self.config.model_copy(
            update={"venue": venue.model_copy(update={"uniswap": uniswap})}
        )
        return LoadedRun(self.path, config)

    def engine(self) -> RiskEngine:
        return RiskEngine(self.policy, self.assets, self.scenarios)


def _resolve_uniswap_paths(config: RunConfig, base: Path, journal: Path) -> RunConfig:
    """[venue.uniswap]'s paths made absolute (relative to the config file; the baseline
    defaults to the journal's side)."""
    u = config.venue.uniswap
    baseline = journal.with_name(journal.stem + ".uniswap-baseline.json")
    uniswap = u.model_copy(update={
        "addresses": (base / u.addresses).resolve(),
        "baseline": baseline if u.baseline is None else (base / u.baseline).resolve(),
    })  # fmt: skip
    return config.model_copy(update={"venue": config.venue.model_copy(update={"uniswap": uniswap})})


def load_run_config(path: str | Path) -> LoadedRun:
    """Read and validate a run config and the files it names."""
    p = Path(path)
    return LoadedRun(p, load_model(p, RunConfig))
