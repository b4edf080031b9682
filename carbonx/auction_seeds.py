"""The regulator's auction seeds: made, kept in a file only the regulator reads, found again.

An auction with a ``pro_rata`` or ``random`` tie-break publishes SHA-256(seed) when it is
announced and reveals the seed when it clears (docs/AUCTIONS.md "Verifiable randomness"). The
seed must therefore exist before the announcement leaves and survive until the clearing, and
nobody else may read it in between (whoever knew it could place bids that win the draw).

- The seed is 32 bytes from ``secrets`` (the operating system's CSPRNG), written as 64 hex
  characters and a newline into a file of mode 0600 in a directory of mode 0700.
- A seed file is never overwritten: a second announcement with the same ``--seed-file`` is
  refused before anything is sent, so the seed of an announced auction is never lost.
- The default directory is ``auction-seeds`` in the node's data directory (node.toml
  ``data_dir``; ``var/`` is never committed). The file is written as ``pending-<commitment>.seed``
  before the announcement is sent and renamed ``auction-<id>.seed`` once the exchange has given
  the id; ``carbonx auction clear`` finds it by either name (any file there whose SHA-256 is the
  auction's commitment).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from carbonx.errors import CarbonxError
from engine.auction.prng import SEED_BYTES, commitment, parse_seed

SEED_DIR_NAME = "auction-seeds"


class SeedFileError(CarbonxError):
    """A seed file that cannot be written, read or found; one line naming the file."""


def new_seed() -> str:
    """A fresh seed as 64 lowercase hexadecimal characters."""
    return secrets.token_bytes(SEED_BYTES).hex()


def commitment_of(seed_hex: str) -> str:
    seed = parse_seed(seed_hex)
    if seed is None:
        raise SeedFileError(f"not a seed: {len(seed_hex)} characters, not 64 hexadecimal ones")
    return commitment(seed)


def pending_path(directory: Path, seed_commitment: str) -> Path:
    return directory / f"pending-{seed_commitment}.seed"


def auction_path(directory: Path, auction_id: int) -> Path:
    return directory / f"auction-{auction_id}.seed"


def write_seed(path: Path, seed_hex: str) -> None:
    """Write a new seed file, readable by its owner only; an existing file is never overwritten."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SeedFileError(
            f"{path}: a seed file is there already and is never overwritten (it may be an announced "
            "auction's seed): choose another --seed-file"
        ) from None
    except OSError as failed:
        raise SeedFileError(f"{path}: cannot write the seed file: {failed.strerror}") from None
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(seed_hex + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def keep_as(pending: Path, final: Path) -> Path:
    """Rename the pending seed file to its auction's name, unless that name is taken (then it stays)."""
    if final.exists():
        return pending
    pending.rename(final)
    return final


def read_seed(path: Path) -> str:
    """The seed a file holds (64 hex characters, surrounding blanks ignored)."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise SeedFileError(f"{path}: no such seed file") from None
    except (OSError, UnicodeDecodeError) as failed:
        raise SeedFileError(f"{path}: cannot read the seed file: {failed}") from None
    if parse_seed(text) is None:
        raise SeedFileError(f"{path}: not a seed file: it must hold 64 hexadecimal characters")
    return text.lower()


def find_seed(directory: Path, auction_id: int, seed_commitment: str) -> Path | None:
    """The seed file of an auction in ``directory``: ``auction-<id>.seed`` when its SHA-256 is the
    commitment, else any ``*.seed`` there whose SHA-256 is; None when none is."""
    named = auction_path(directory, auction_id)
    candidates = [named] if named.is_file() else []
    if directory.is_dir():
        candidates += sorted(p for p in directory.glob("*.seed") if p != named)
    for path in candidates:
        try:
            if commitment_of(read_seed(path)) == seed_commitment:
                return path
        except SeedFileError:
            continue
    return None


class NewSeed:
    """A seed made for an announcement or an approval, in its file before anything is sent."""

    def __init__(self, text: str, path: Path, named: bool) -> None:
        self.text = text
        self.commitment = commitment_of(text)
        self.path = path
        self.named = named  # the regulator named the file (--seed-file): it keeps that name

    @classmethod
    def write(cls, seed_file: Path | None, directory: Path) -> NewSeed:
        """A new seed in ``seed_file``, or in ``directory`` as ``pending-<commitment>.seed``."""
        text = new_seed()
        path = seed_file if seed_file is not None else pending_path(directory, commitment_of(text))
        write_seed(path, text)
        return cls(text, path, named=seed_file is not None)

    def keep(self, auction_id: int) -> Path:
        """The exchange took it: a file of the seed directory takes the auction's name; where it is now."""
        if not self.named:
            self.path = keep_as(self.path, auction_path(self.path.parent, auction_id))
        return self.path

    def discard(self) -> None:
        """The exchange refused it: the seed commits to nothing, so the file goes."""
        self.path.unlink(missing_ok=True)
