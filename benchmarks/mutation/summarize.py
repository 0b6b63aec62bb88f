"""Summarise a mutmut 3.x run of benchmarks/mutation/run_mutmut.sh: counts by status and by file, the raw score
(killed over all mutants tested), and every surviving mutant's diff (``mutmut show``), for
benchmarks/CHECKING.md.

    python benchmarks/mutation/summarize.py /tmp/minirnn-mutation [--diffs]
"""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    work = Path(argv[0] if argv else "/tmp/minirnn-mutation")
    # the mutmut beside this interpreter when the environment is not activated (PATH lacks its bin/)
    mutmut = shutil.which("mutmut") or str(Path(sys.executable).with_name("mutmut"))
    out = subprocess.run([mutmut, "results", "--all", "true"], cwd=work, capture_output=True, text=True).stdout
    rows = [line.strip().rsplit(": ", 1) for line in out.splitlines() if ": " in line]
    by_status = collections.Counter(status for _, status in rows)
    by_file: dict = collections.defaultdict(collections.Counter)
    for name, status in rows:
        module = name.split(".x")[0] if ".x" in name else name.rsplit(".", 1)[0]
        by_file[module][status] += 1
    tested = sum(n for s, n in by_status.items() if s in ("killed", "survived", "timeout", "suspicious"))
    killed = by_status.get("killed", 0) + by_status.get("timeout", 0)
    print(f"mutants: {len(rows)}; by status: {dict(by_status)}")
    if tested:
        print(f"raw score (killed + timeout over tested): {killed}/{tested} = {100 * killed / tested:.1f}%")
    for module, counts in sorted(by_file.items()):
        print(f"  {module}: {dict(counts)}")
    survivors = [name for name, status in rows if status == "survived"]
    print(f"survivors: {len(survivors)}")
    for name in survivors:
        print(f"--- {name}")
        if "--diffs" in argv:
            diff = subprocess.run([mutmut, "show", name], cwd=work, capture_output=True, text=True).stdout
            print("\n".join(line for line in diff.splitlines() if line.startswith(("+", "-")) and
                            not line.startswith(("+++", "---"))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
