"""A progress bar on stderr: redrawn in place on a terminal, a line per 10 % in a log."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable


class Progress:
    def __init__(self, total: float, width: int = 30, quiet: bool = False) -> None:
        self.quiet = quiet      # several runs at once (--seeds): each says only when done
        self.total = max(total, 1e-9)
        self.width = width
        self.done_units = 0.0
        self.label = ""
        self._started = time.monotonic()
        self._last_decile = -1

    def tick(self, units: float = 1.0) -> None:
        self.done_units += units
        self.draw()

    def tick_scaled(self, scale: float) -> Callable[[], None]:
        return lambda: self.tick(scale)

    def draw(self) -> None:
        if self.quiet:
            return
        share = min(1.0, self.done_units / self.total)
        filled = int(self.width * share)
        text = (f"[{'#' * filled}{'.' * (self.width - filled)}] {100 * share:5.1f} %  "
                f"{time.monotonic() - self._started:6.0f} s  {self.label}")
        if sys.stderr.isatty():
            sys.stderr.write("\r" + text.ljust(90))
        elif int(share * 10) != self._last_decile:
            self._last_decile = int(share * 10)
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        self.done_units = self.total
        self.label = "done"
        self.draw()
        if sys.stderr.isatty():
            sys.stderr.write("\n")
