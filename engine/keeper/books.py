"""Books a desk or a keeper can see: a portfolio plus the salt of its on-chain commitment.

A book file (TOML, YAML or JSON) holds `salt` (0x-hex or decimal, the commitment's secret) and a
`[portfolio]` table in the engine's Portfolio format. A keeper reads every book file in a folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, field_validator

from ..files import InputError, load_model
from ..risk.models import Portfolio
from ..risk.policy import PolicyIssue

BOOK_SUFFIXES = (".toml", ".yaml", ".yml", ".json")


class BookFile(BaseModel):
    """A private book with the salt of its commitment."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    salt: int
    """The commitment salt (≥ 128 bits of entropy); written as 0x-hex or decimal."""
    portfolio: Portfolio
    """The book (account, positions; its margin is the vault's escrow, not this file's)."""

    @field_validator("salt", mode="before")
    @classmethod
    def _parse_salt(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                return int(value, 0)
            except ValueError:
                raise ValueError(f"{value!r} is not an integer (0x-hex or decimal)") from None
        return value


def load_book(path: str | Path) -> BookFile:
    return load_model(path, BookFile)


def load_books(path: str | Path) -> list[BookFile]:
    """One book file, or every book file in a folder (sorted by name)."""
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() in BOOK_SUFFIXES)
        return [load_book(f) for f in files]
    if not p.exists():
        raise InputError(str(p), [PolicyIssue("", None, "file or folder not found")])
    return [load_book(p)]


def book_toml(book: BookFile) -> str:
    """A book file's text (TOML), e.g. for a desk to hand its keeper view access."""
    lines = [f'salt = "{book.salt:#x}"', "", "[portfolio]", f'account = "{book.portfolio.account}"']
    if book.portfolio.margin:
        lines += [
            f"margin = {book.portfolio.margin}",
            f'margin_symbol = "{book.portfolio.margin_symbol}"',
        ]
    for position in book.portfolio.positions:
        lines += ["", "[[portfolio.positions]]", f'symbol = "{position.symbol}"',
                  f"quantity = {position.quantity}"]  # fmt: skip
    return "\n".join(lines) + "\n"
