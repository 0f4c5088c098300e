"""The configuration reference in docs/ is what the library's registry says."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_configuration_reference_is_current():
    result = subprocess.run([sys.executable, str(ROOT / "scripts/gen-docs"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr + result.stdout
