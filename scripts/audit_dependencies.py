"""Dependency vulnerability audit for ``make test`` (pip-audit over the project's venv).

Known vulnerabilities fail the run. When the advisory service cannot answer (no network, or a
package mirror without PyPI's vulnerability data, which makes pip-audit skip every package),
the audit did not happen: say so loudly, but do not fail the tests on it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PIP_AUDIT = Path(sys.executable).with_name("pip-audit")


def main() -> int:
    run = subprocess.run(
        [str(PIP_AUDIT), "--skip-editable", "--progress-spinner", "off", "-f", "json"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    try:
        deps = json.loads(run.stdout)["dependencies"]
    except (json.JSONDecodeError, KeyError):
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        print(f"WARNING: dependency audit could not run (advisory service unreachable): {last}")
        return 0
    vulnerable = [d for d in deps if d.get("vulns")]
    audited = [d for d in deps if "skip_reason" not in d]
    for dep in vulnerable:
        ids = ", ".join(v["id"] for v in dep["vulns"])
        print(f"VULNERABLE: {dep['name']} {dep['version']}: {ids}")
    if vulnerable:
        return 1
    if not audited:
        print(f"WARNING: dependency audit skipped all {len(deps)} packages (no advisory data).")
        return 0
    print(f"Dependency audit: {len(audited)} packages, no known vulnerability "
          f"({len(deps) - len(audited)} not audited).")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
