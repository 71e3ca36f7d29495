"""Read pip-audit's JSON: fail on a known vulnerability, and say plainly when nothing could be
checked because the advisory database was out of reach."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(report: Path, audit_failed: bool) -> int:
    if not report.is_file():
        print("pip-audit: skipped, it wrote no report (see its message above)")
        return 0
    deps = json.loads(report.read_text())["dependencies"]
    vulnerable = [d for d in deps if d.get("vulns")]
    unchecked = [d for d in deps if "skip_reason" in d]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"pip-audit: {dep['name']} {dep.get('version', '')} has {ids}")
    if vulnerable:
        return 1
    if deps and len(unchecked) == len(deps):
        print(f"pip-audit: skipped, the advisory database is not reachable from here "
              f"(none of {len(deps)} packages could be looked up)")
    elif audit_failed and not unchecked:
        print("pip-audit failed without finding a vulnerability; see its message above")
        return 1
    else:
        print(f"pip-audit: no known vulnerabilities in {len(deps) - len(unchecked)} packages"
              + (f"; {len(unchecked)} could not be looked up" if unchecked else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), sys.argv[2] == "1"))
