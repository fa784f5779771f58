"""Progress of long stages: a bar on a terminal, plain log lines elsewhere (CI, pipes).

Stages take a ``progress`` callable and never look at the terminal themselves; the CLI
chooses which one to pass.
"""

from __future__ import annotations

import sys
import time
from typing import Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")


def terminal_progress(stream: TextIO | None = None):
    """A progress callable: ``progress(iterable, label, total=None)`` yields the items."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        def bar(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
            yield from tqdm(items, desc=f"{label:>8}", total=total, unit="session", file=stream,
                            leave=True, dynamic_ncols=True)
        return bar
    return log_progress(stream)


def log_progress(stream: TextIO | None = None, every: float = 10.0):
    """Plain lines: one at the start and end of a stage, one every ``every`` seconds between."""
    stream = stream or sys.stderr

    def lines(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
        items = list(items) if total is None and not hasattr(items, "__len__") else items
        total = total if total is not None else len(items)
        print(f"[{label}] 0/{total}", file=stream, flush=True)
        started = last = time.monotonic()
        done = 0
        for item in items:
            yield item
            done += 1
            if time.monotonic() - last >= every:
                print(f"[{label}] {done}/{total}", file=stream, flush=True)
                last = time.monotonic()
        print(f"[{label}] {done}/{total} done in {time.monotonic() - started:.1f}s", file=stream, flush=True)
    return lines


def no_progress(items: Iterable[T], label: str, total: int | None = None) -> Iterator[T]:
    yield from items
