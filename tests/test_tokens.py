import hashlib

import pytest

from copilot import tokens
from copilot.errors import ConfigError

pytestmark = pytest.mark.unit


def test_seed_cache_writes_the_file_tiktoken_looks_for(tmp_path, monkeypatch):
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    cache = tokens.seed_cache("o200k_base", tmp_path)
    url = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"
    f = cache / hashlib.sha1(url.encode()).hexdigest()
    assert hashlib.sha256(f.read_bytes()).hexdigest() == tokens._SHIPPED["o200k_base"][2]


def test_damaged_cache_file_is_replaced(tmp_path):
    url = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken"
    f = tmp_path / hashlib.sha1(url.encode()).hexdigest()
    f.write_bytes(b"garbage")
    tokens.seed_cache("cl100k_base", tmp_path)
    assert hashlib.sha256(f.read_bytes()).hexdigest() == tokens._SHIPPED["cl100k_base"][2]


def test_count_tokens_offline():
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("パスワードを忘れました") > 2


def test_unknown_encoding_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not available offline"):
        tokens.seed_cache("p50k_base", tmp_path)
