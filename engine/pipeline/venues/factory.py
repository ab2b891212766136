"""The venue a run config names, built (the one place that knows every venue's settings)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from .base import Venue

if TYPE_CHECKING:
    from ..run_config import UniswapSection, VenueSection
    from .signer_client import RemoteSigner
    from .uniswap import TxSigner


class VenueConfigError(ValueError):
    """The run config's [venue] cannot be used as written (the message says the fix)."""


def make_venue(section: VenueSection) -> Venue:
    """The venue of `[venue]` (paper mode has none: the caller does not ask)."""
    if section.kind == "simex":
        from .simex import SimexVenue

        s = section.simex
        token = None
        if s.token_env is not None:
            token = os.environ.get(s.token_env, "").strip()
            if not token:
                raise VenueConfigError(f"[venue.simex] token_env: set ${s.token_env} to the "
                                       f"account's API token (or remove token_env)")  # fmt: skip
        return SimexVenue(s.url, name="simex", token=token, account=s.account)
    if section.kind == "uniswap":
        return _uniswap(section.uniswap)
    raise VenueConfigError(f"[venue] kind {section.kind!r} has no order send: use 'simex', "
                           "'uniswap' or 'paper'")  # fmt: skip


def _uniswap(s: UniswapSection) -> Venue:
    """The Uniswap venue of `[venue.uniswap]`, its addresses file checked against the node first
    (fork mode trades contracts someone else deployed: a wrong one must stop the run, named)."""
    from pydantic import ValidationError
    from web3 import Web3

    from ...chain.uniswap_deploy import UniswapAddressError, load_addresses, verify_addresses
    from .uniswap import UniswapSettings, UniswapVenue
    from .uniswap_baseline import read_baseline

    signer = _remote_signer(s) if s.signer_url is not None else _local_signer(s)
    try:
        addresses = load_addresses(s.addresses)
    except FileNotFoundError:
        raise VenueConfigError(
            f"[venue.uniswap] addresses: no file at {s.addresses}: write the deployment's "
            "addresses there (deploy_uniswap(..., save_to=PATH) writes one) or pass "
            "--addresses FILE"
        ) from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise VenueConfigError(f"{s.addresses}: {where}: {first['msg']} (fix the addresses "
                               "file)") from None  # fmt: skip
    w3 = Web3(Web3.HTTPProvider(s.rpc_url, request_kwargs={"timeout": 10}))
    try:
        verify_addresses(w3, addresses, where=str(s.addresses))
    except UniswapAddressError as exc:
        raise VenueConfigError(str(exc)) from None
    except (OSError, ValueError) as exc:  # no node there (requests' errors are OSErrors)
        raise VenueConfigError(f"[venue.uniswap] rpc_url {s.rpc_url}: the node did not answer "
                               f"({type(exc).__name__}): start it or fix the URL") from None  # fmt: skip
    assert s.baseline is not None  # LoadedRun resolves it
    if s.baseline.is_file():  # checked now: a wrong one would fail every connect
        from .base import VenueError

        try:
            read_baseline(s.baseline, chain_id=addresses.chain_id, wallet=signer.address)
        except VenueError as exc:
            raise VenueConfigError(str(exc)) from None
    settings = UniswapSettings(**s.model_dump(include=_SETTINGS))
    urls = [s.rpc_url] + ([s.backup_rpc_url] if s.backup_rpc_url else [])
    return UniswapVenue(addresses, signer, urls, settings, baseline=s.baseline)


def _local_signer(s: UniswapSection) -> TxSigner:
    from .uniswap import LocalKeySigner

    key = os.environ.get(s.key_env, "").strip()
    if not key:
        raise VenueConfigError(f"[venue.uniswap] key_env: set ${s.key_env} to the trading "
                               "wallet's private key (0x + 64 hex digits), or trade through a "
                               "signer (signer_url)")  # fmt: skip
    try:
        return LocalKeySigner(key)
    except (ValueError, TypeError):
        raise VenueConfigError(f"${s.key_env} is not a private key: write 0x and 64 hex "
                               "digits") from None  # fmt: skip


def _remote_signer(s: UniswapSection) -> RemoteSigner:
    """The keyless signer of `signer_url`: refused while a key is in the environment too (with a
    signer the runner must hold none)."""
    from .signer_client import RemoteSigner

    if os.environ.get(s.key_env, "").strip():
        raise VenueConfigError(f"[venue.uniswap] both a key (${s.key_env}) and a signer "
                               f"(signer_url) are configured: unset ${s.key_env} (the signer "
                               "holds the wallet's key; the runner must not)")  # fmt: skip
    secrets = {}
    for field, name in (("signer_token_env", s.signer_token_env),
                        ("risk_service_key_env", s.risk_service_key_env)):  # fmt: skip
        secrets[field] = os.environ.get(name, "").strip()
        if not secrets[field]:
            raise VenueConfigError(f"[venue.uniswap] {field}: set ${name} (the "
                                   f"{'signer token' if field.startswith('signer') else 'risk service API key'})")  # fmt: skip
    assert s.wallet is not None and s.signer_url is not None and s.risk_service_url is not None
    return RemoteSigner(s.wallet, signer_url=s.signer_url,
                        signer_token=secrets["signer_token_env"],
                        risk_service_url=s.risk_service_url,
                        risk_service_key=secrets["risk_service_key_env"],
                        account=s.risk_account)  # fmt: skip


_SETTINGS = {"default_slippage_bps", "deadline_s", "replace_after_s", "max_replacements",
             "fee_bump_percent", "priority_fee_wei"}  # fmt: skip
