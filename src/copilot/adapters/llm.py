"""The ChatModel port (ports.ChatModel) over any OpenAI-compatible server (OpenAI, vLLM, a
llama.cpp server), through LangChain's chat model. The drafting policy that uses it is
drafting/llm.py."""

from __future__ import annotations

from ..errors import ConfigError

_ROLES = {"system": "SystemMessage", "user": "HumanMessage", "human": "HumanMessage", "assistant": "AIMessage", "ai": "AIMessage"}


class OpenAIChat:
    def __init__(self, model: str, *, base_url: str | None, api_key=None, timeout: float = 30.0) -> None:
        if not model:
            raise ConfigError("COPILOT_LLM=openai:MODEL needs a model name")
        self.model = model
        self.name = f"openai:{model}"
        self.base_url = base_url
        self._key = api_key
        self.timeout = timeout
        self._chat = None

    def _client(self):
        if self._chat is None:
            try:
                from langchain_openai import ChatOpenAI
            except ImportError as exc:
                raise ConfigError("the openai drafter needs the 'llm' extra: pip install 'support-copilot[llm]'") from exc
            secret = self._key
            key = (secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)) if secret else "not-needed"
            self._chat = ChatOpenAI(model=self.model, base_url=self.base_url, api_key=key, timeout=self.timeout,
                                    max_retries=0, temperature=0)
        return self._chat

    def reply(self, messages: list[tuple[str, str]]) -> str:
        from langchain_core import messages as lc

        client = self._client()
        resp = client.invoke([getattr(lc, _ROLES.get(role, "HumanMessage"))(content=text) for role, text in messages])
        return resp.content if isinstance(resp.content, str) else str(resp.content)
