#!/usr/bin/env python
"""
Audit the pinned runtime dependencies (requirements.txt) for known vulnerabilities with
pip-audit, where its vulnerability service is reachable.

Exit 1 if a vulnerability is found. If the service cannot be reached, or answers for
none of the packages (a registry mirror without the JSON API), say so and exit 0: the
audit is skipped, not passed.

    python scripts/audit_dependencies.py
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    command = [
        sys.executable,
        "-m",
        "pip_audit",
        "--disable-pip",
        "--no-deps",
        "--format",
        "json",
        "-r",
        str(ROOT / "requirements.txt"),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        print("pip-audit skipped: the vulnerability service did not answer within 300 s")
        return 0
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"pip-audit skipped: the vulnerability service is unreachable ({last[:200]})")
        return 0
    dependencies = report.get("dependencies", [])
    audited = [dep for dep in dependencies if "skip_reason" not in dep]
    if not audited:
        reason = dependencies[0]["skip_reason"] if dependencies else "no dependencies"
        print(f"pip-audit skipped: no package could be audited here ({reason})")
        return 0
    vulnerable = [dep for dep in audited if dep.get("vulns")]
    for dep in vulnerable:
        ids = ", ".join(vuln["id"] for vuln in dep["vulns"])
        print(f"VULNERABLE {dep['name']} {dep['version']}: {ids}")
    skipped = len(dependencies) - len(audited)
    print(
        f"pip-audit: {len(audited)} packages audited, {skipped} skipped, "
        f"{len(vulnerable)} with known vulnerabilities"
    )
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main())
