"""A local OpenAI-compatible chat server for tests: queued replies, recorded requests.

    server = FakeOpenAI(["Reply text [1]"]).start()   # real uvicorn on 127.0.0.1
    ... COPILOT_LLM=openai:fake COPILOT_LLM_BASE_URL=server.url ...
    server.requests  # every JSON body it received
    server.stop()

A queued item may be a string (the assistant message), an int (that HTTP status), the
string "<garbage>" (a body that is not JSON) or ("sleep", seconds, text).
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse


class FakeOpenAI:
    def __init__(self, replies=None, default: str = "", responder=None) -> None:
        """responder(body) -> item, when given, answers every request (the queue is ignored)."""
        self.responder = responder
        self.queue = deque(replies or [])
        self.default = default
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.app = self._build()
        self._server = None
        self._thread = None
        self.url = ""

    def _build(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            self.requests.append(body)
            self.headers.append(dict(request.headers))
            if self.responder is not None:
                item = self.responder(body)
            else:
                item = self.queue.popleft() if self.queue else self.default
            if isinstance(item, tuple) and item[0] == "sleep":
                time.sleep(item[1])
                item = item[2]
            if isinstance(item, int):
                return JSONResponse({"error": {"message": f"fake status {item}", "type": "fake"}}, status_code=item)
            if item == "<garbage>":
                return PlainTextResponse("this is not json {", status_code=200)
            return {
                "id": f"chatcmpl-fake-{len(self.requests)}", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake"),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": item}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }

        return app

    def start(self) -> FakeOpenAI:
        import uvicorn

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        config = uvicorn.Config(self.app, host="127.0.0.1", port=port, log_level="warning")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.time() + 10
        while not self._server.started and time.time() < deadline:
            time.sleep(0.02)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=5)
