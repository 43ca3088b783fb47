"""What `copilot serve` prints once it is listening: the URLs and, on a first start, the admin key.

Printed last, in a box, once the port accepts connections: after the models have loaded and
the server has started, so no install or start-up line buries them (issue 27).
"""

from __future__ import annotations

import socket
import sys
import threading
import time


def _local(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def ready_box(host: str, port: int, key: str | None, *, ui: bool = True, workers: int = 1) -> str:
    base = f"http://{_local(host)}:{port}"
    lines = ["Support Copilot is ready" + (f" ({workers} worker processes)" if workers > 1 else "")]
    if ui:
        lines.append(f"  agent panel   {base}/ui")
    lines.append(f"  REST API      {base}/v1   (OpenAPI docs: {base}/docs)")
    if key:
        lines += [f"  admin key     {key}",
                  "                shown once: store it now. Sign in to the panel with any name and",
                  "                this key, or send 'Authorization: Bearer <key>' (`copilot keys` manages keys)."]
    else:
        lines.append("  API keys      the ones already created (`copilot keys list`)")
    lines.append("  stop          Ctrl+C")
    width = max(len(x) for x in lines) + 2
    rule = "+" + "-" * width + "+"
    return "\n".join(["", rule, *[f"| {x.ljust(width - 2)} |" for x in lines], rule, ""]) + "\n"


def announce_when_listening(host: str, port: int, key: str | None, *, ui: bool = True, workers: int = 1,
                            timeout: float = 600.0, after: threading.Thread | None = None) -> threading.Thread:
    """Print `ready_box` to stderr from a background thread as soon as the port answers, and
    after `after` (the evidence warm-up, whose log line would otherwise follow the box) ends or
    a minute has passed."""

    def wait_then_print() -> None:
        if after is not None:
            after.join(timeout=60)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((_local(host), port), timeout=0.5):
                    sys.stderr.write(ready_box(host, port, key, ui=ui, workers=workers))
                    sys.stderr.flush()
                    return
            except OSError:
                time.sleep(0.2)
        sys.stderr.write(f"copilot serve: nothing answered on {host}:{port} after {timeout:.0f} s\n")

    thread = threading.Thread(target=wait_then_print, name="announce-ready", daemon=True)
    thread.start()
    return thread
