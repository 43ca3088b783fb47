"""A progress bar on stderr for the CLI's long work (index, eval).

On a terminal it redraws one line; in a log (CI, `make eval | tee`) it writes a line when the
stage changes and at most every LOG_EVERY_S seconds, so a run of minutes is never silent and a
log never fills with redraws. stdout stays the command's result (--json included).
"""

from __future__ import annotations

import sys
import time

LOG_EVERY_S = 10.0
WIDTH = 28


class Bar:
    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.label: str | None = None
        self.started = time.monotonic()
        self.stage_started = self.started
        self.last = 0.0
        self.drawn = False

    def update(self, label: str, done: int, total: int) -> None:
        now = time.monotonic()
        changed = label != self.label
        if changed:
            self._end_line()
            self.label, self.stage_started = label, now
        finished = total > 0 and done >= total
        if self.tty:
            if changed or finished or now - self.last >= 0.1:
                self.stream.write("\r" + self._line(done, total, now))
                self.drawn = True
                self.last = now
                if finished:
                    self._end_line()
        elif changed or finished or now - self.last >= LOG_EVERY_S:
            self.stream.write(self._line(done, total, now) + "\n")
            self.last = now
        self.stream.flush()

    def _line(self, done: int, total: int, now: float) -> str:
        secs = int(now - self.stage_started)
        if total <= 0:
            return f"{self.label}: {done} … {secs}s"
        frac = min(1.0, done / total)
        fill = int(frac * WIDTH)
        eta = ""
        if 0 < done < total:
            eta = f", ~{int((now - self.stage_started) / done * (total - done))}s left"
        return f"{self.label} [{'#' * fill}{'.' * (WIDTH - fill)}] {done}/{total} ({frac:.0%}, {secs}s{eta})"

    def _end_line(self) -> None:
        if self.tty and self.drawn:
            self.stream.write("\n")
            self.drawn = False

    def close(self) -> None:
        self._end_line()
        self.stream.flush()

    # the callbacks the copilot's long operations take
    def index(self, stage: str, done: int, total: int) -> None:
        self.update(f"index: {stage}", done, total)

    def cases(self, name: str):
        return lambda done, total: self.update(f"eval {name}", done, total)
