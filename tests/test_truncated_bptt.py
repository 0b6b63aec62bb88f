import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "truncated_bptt.py"


def test_truncated_bptt_example_quick_mode_runs():
    proc = subprocess.run([sys.executable, str(EXAMPLE), "--quick"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("stateful ") and lines[1].startswith("stateless")
    ratio = float(lines[2].split(":")[1])
    assert ratio > 0
