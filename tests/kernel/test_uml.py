"""Host side of the kernel tests: boot User-Mode Linux and run ``guest/`` inside it.

Skipped only where ``linux.uml`` is absent, and never in CI (``CI=true``
fails instead: ``.ci/run`` installs user-mode-linux). docs/kernel-tests.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from run_uml import GUEST_TESTS, run

from tests.conftest import require_tool


def test_guest_suite_passes_in_user_mode_linux(tmp_path: Path) -> None:
    require_tool(shutil.which("linux.uml"), "linux.uml", "user-mode-linux")
    result = run(list(GUEST_TESTS), tmp_path / "out")
    assert result.rc == 0, result.report()
    assert " passed" in result.guest_log, result.report()
