"""The rich consoles every printer writes to."""

from __future__ import annotations


def console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)
