"""pip-audit of the locked dependencies, with an honest verdict.

    .venv/bin/python scripts/audit.py            # exit 0 clean, 1 advisories found, 3 nothing could be audited

pip-audit reports "No known vulnerabilities found" even when it could not look a single package
up (no advisory service reachable, as on machines whose PyPI is a mirror without the JSON
vulnerability API). This wrapper counts what was actually audited and says so.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    lock = ROOT / "requirements.lock"
    cmd = [sys.executable, "-m", "pip_audit", "--progress-spinner", "off", "-f", "json", "-r", str(lock), "--no-deps",
           "--disable-pip"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    try:
        data = json.loads(p.stdout)
    except json.JSONDecodeError:
        print(f"audit: pip-audit failed: {(p.stderr or p.stdout).strip().splitlines()[-1:]}", file=sys.stderr)
        return 3
    deps = data.get("dependencies", [])
    audited = [d for d in deps if "skip_reason" not in d]
    vulns = [(d["name"], d["version"], v["id"], v.get("fix_versions")) for d in audited for v in d.get("vulns", [])]
    print(f"audit: {len(audited)} of {len(deps)} locked dependencies audited, {len(vulns)} known advisories")
    for name, version, vid, fixes in vulns:
        print(f"  {name} {version}: {vid} (fixed in {', '.join(fixes) or 'no release yet'})")
    if vulns:
        return 1
    if not audited:
        print("audit: no advisory service could be reached from this machine; nothing was checked", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
