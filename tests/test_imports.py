import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit


def test_core_import_does_not_load_heavy_vendors():
    code = (
        "import sys, copilot, copilot.cli, copilot.retrieval, copilot.knowledge.indexer;"
        "heavy = [m for m in ('torch', 'chromadb', 'sentence_transformers', 'onnxruntime', 'langchain_core', 'fugashi') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_public_surface():
    import copilot

    assert set(copilot.__all__) >= {"Copilot", "Settings", "CopilotError", "UserError", "Hit", "Chunk"}
    for name in copilot.__all__:
        assert hasattr(copilot, name)
