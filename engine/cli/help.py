"""Plain-text help for every command group: no rich markup, no cut-off command summaries.

Rich markup would read `[health]` in a help text as a style tag and drop it, so the groups use
click's plain formatter (`rich_markup_mode=None`); `FullHelpGroup` lists each command's whole
first sentence, wrapped, where click would cut it at the terminal width with "...".
"""

from __future__ import annotations

from typer import _click  # typer vendors click: its groups take these types, not click's
from typer.core import TyperGroup

#: Long enough for any first sentence: click cuts short help at this many characters.
_NO_LIMIT = 10_000


class FullHelpGroup(TyperGroup):
    """A Typer group whose command list shows every summary in full."""

    def format_commands(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=_NO_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)
