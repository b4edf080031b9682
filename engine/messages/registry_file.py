"""The record of a registry file in its own journaled batch: the same file is applied once.

``carbonx registry OP FILE`` journals the file's rows as one atomic batch, and puts a
``RecordRegistryFile`` first in it: the operation, the SHA-256 of the file's bytes, its name and how
many commands follow. The exchange keeps every file it applied (``engine.registry``), so a second
batch with the same operation and content is rejected ``REGISTRY_FILE_ALREADY_APPLIED`` at its first
command, and the atomic batch applies nothing. ``again`` applies such a file once more, on purpose.

The key is the operation and the content, not the content alone: a deposit file and a withdrawal
file may hold the same bytes (the same accounts and amounts), and both are meant to apply.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from engine.messages.base import Command, Event
from engine.messages.limits import Text

# The hex digest: exactly 64 characters, so a wrong one is a bound the wire decoder refuses.
Sha256 = Annotated[str, msgspec.Meta(min_length=64, max_length=64)]
OperationName = Annotated[str, msgspec.Meta(max_length=32)]
CommandCount = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]


class RecordRegistryFile(Command, frozen=True, kw_only=True, tag=True):
    """Regulator: the file whose rows follow in this batch (first in the batch, which is atomic).

    ``again``: apply it even when a file of the same operation and content was applied before.
    """

    operation: OperationName  # the registry operation: allocate, deposit, ...
    sha256: Sha256  # hex digest of the file's bytes
    name: Text  # the file's name, as the regulator will recognise it
    commands: CommandCount  # the registry commands that follow it in the batch
    again: bool = False


class RegistryFileRecorded(Event, frozen=True, kw_only=True, tag=True):
    """A registry file is recorded as applied; ``applications`` counts this one (1: the first)."""

    operation: str
    sha256: str
    name: str
    commands: int
    again: bool
    applications: int
