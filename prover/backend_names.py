"""The proving backends' names, apart from the backends (which load the prover) so that a
command line can offer them as choices cheaply; `zkrisk.prover.backends` re-exports them."""

from __future__ import annotations

#: Every backend, fastest first (Health(16) medians in the README's benchmark table).
BACKEND_NAMES = ("multicore", "native", "worker", "snarkjs-cli")
#: What a config or --backend flag may say; "best" is the fastest available backend, or the
#: prover pool when $ZKRISK_PROVER_POOL names one; "pool" is the pool (zkrisk prover worker).
CHOICES = (*BACKEND_NAMES, "best", "pool")
