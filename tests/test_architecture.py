"""The architecture's rules, checked on the source (issue 18): no upward import, concrete
adapters only in adapters/ and the composition root, small modules and functions."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "copilot"
MODULES = sorted(SRC.rglob("*.py"))
SURFACES = ("copilot.api", "copilot.ui", "copilot.cli", "copilot.__main__")
ROOT = "copilot.service"  # the composition root
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every copilot module a file imports, at any depth (lazy imports inside functions too)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("copilot")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("copilot"):
                out.add(target)
                out |= {f"{target}.{a.name}" for a in node.names}  # `from . import gate`
    return out


def _under(mod: str, prefix: str) -> bool:
    return mod == prefix or mod.startswith(prefix + ".")


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_no_upward_import(path):
    """Only the surfaces (and the composition root itself) may import the composition root or
    another surface; nothing imports a surface."""
    me = module_name(path)
    if any(_under(me, s) for s in SURFACES) or me in (ROOT, "copilot"):
        return
    bad = [m for m in imports(path) if _under(m, ROOT) or any(_under(m, s) for s in SURFACES)]
    assert not bad, f"{me} imports {bad}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_concrete_adapters_only_in_adapters_and_the_composition_root(path):
    me = module_name(path)
    if _under(me, "copilot.adapters") or me == ROOT or _under(me, "copilot.testing"):
        return
    bad = sorted(m for m in imports(path) if _under(m, "copilot.adapters"))
    assert not bad, f"{me} imports the concrete adapters {bad}: depend on copilot.ports, let service.py build them"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_modules_and_functions_are_small(path):
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") <= MAX_MODULE_LINES, f"{module_name(path)} has {text.count(chr(10))} lines"
    long = [(n.name, n.end_lineno - n.lineno + 1) for n in ast.walk(ast.parse(text))
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.end_lineno - n.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{module_name(path)}: functions over {MAX_FUNCTION_LINES} lines: {long}"


def test_the_checks_see_imports():
    """The import reader finds relative, absolute and lazy imports (else the rules above prove nothing)."""
    found = imports(SRC / "service.py")
    assert "copilot.adapters.chroma" in found and "copilot.drafting.pipeline" in found
    assert "copilot.evals.gate" in imports(SRC / "evals" / "suites.py")


def test_tests_mirror_the_source():
    tests = Path(__file__).resolve().parent
    folders = [d.name for d in tests.iterdir() if d.is_dir() and d.name not in ("snapshots", "__pycache__")]
    assert folders, "tests are grouped by package"
    for name in folders:
        assert (SRC / name).is_dir(), f"tests/{name}/ has no src/copilot/{name}/"
        for t in (tests / name).glob("test_*.py"):
            assert not (tests / t.name).exists(), f"{t.name} exists twice"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: module_name(p))
def test_test_doubles_are_used_only_by_the_red_team(path):
    """copilot.testing holds fakes (a fake OpenAI server, a model that obeys attacks): only the
    red team (evals/injection.py), which measures the defences against them, may use them."""
    me = module_name(path)
    if _under(me, "copilot.testing") or me == "copilot.evals.injection":
        return
    bad = sorted(m for m in imports(path) if _under(m, "copilot.testing"))
    assert not bad, f"{me} imports the test doubles {bad}"


# what a surface may import besides the composition root: vocabulary (types, errors, settings, the
# access policy), the other surfaces, the progress bar and the process's log redaction
SURFACE_MAY_USE = ("copilot.service", "copilot.access", "copilot.domain", "copilot.errors", "copilot.config",
                   "copilot.progress", "copilot.pii", "copilot.api", "copilot.ui", "copilot.cli")


@pytest.mark.parametrize("path", [p for p in MODULES if any(_under(module_name(p), s) for s in SURFACES)],
                         ids=lambda p: module_name(p))
def test_surfaces_call_only_the_composition_root(path):
    me = module_name(path)
    bad = sorted(m for m in imports(path) if m != "copilot" and not m.startswith("copilot.__")
                 and not any(_under(m, ok) for ok in SURFACE_MAY_USE))
    assert not bad, f"{me} imports {bad}: go through Copilot (service.py)"
