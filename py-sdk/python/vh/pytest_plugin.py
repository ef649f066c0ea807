"""pytest fixtures for testing vh scripts (registered as the ``vh``
plugin through the ``pytest11`` entry point; the logic is in
``vh.testing``).

Fixtures:

``vh_hub``
    A fresh :class:`vh.testing.FakeHub` (cp1252, plugin generation A);
    its script is unloaded and the process state restored after the test.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from vh.testing import FakeHub


@pytest.fixture
def vh_hub() -> Iterator[FakeHub]:
    """A :class:`vh.testing.FakeHub`, closed after the test."""
    with FakeHub() as hub:
        yield hub
