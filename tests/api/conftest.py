from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .server_fixtures import Running, config_for, desk_folder, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Running]:
    """The example desk served over real HTTP, fresh for each test."""
    with running_server(config_for(desk_folder(tmp_path))) as running:
        yield running
