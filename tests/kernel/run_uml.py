"""Boot User-Mode Linux with the host's ``/`` as a read-only root and run guest tests in it.

docs/kernel-tests.md ("Recipe"): ``linux.uml`` (Debian ``user-mode-linux``)
boots in about 2 s as an ordinary process; ``guest-init.sh`` is its PID 1,
mounts what the tests need, runs ``inner.sh`` (pytest on the given paths,
``IMS_IN_UML=1``), writes the exit status to ``OUT/rc`` and powers off.
Reusable by any kernel test (SCTP now, ESP/XFRM later): pass other pytest
arguments.

Usage: ``python tests/kernel/run_uml.py [--out DIR] [--timeout S] [pytest args ...]``
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
GUEST_TESTS = ("tests/kernel/guest/",)
#: Seconds the whole run (boot, tests, power-off) may take.
TIMEOUT = 600


@dataclass(frozen=True)
class GuestRun:
    """What one boot produced."""

    rc: int | None
    """Exit status of pytest in the guest (None: the guest never wrote one)."""
    uml_rc: int
    """Exit status of linux.uml (124: killed by the timeout)."""
    guest_log: str
    """pytest's output in the guest."""
    console: str
    """The guest kernel's console."""

    def report(self) -> str:
        """Everything worth showing when the run failed."""
        return (f"guest rc={self.rc} linux.uml rc={self.uml_rc}\n"
                f"--- guest.log ---\n{self.guest_log}\n--- console (tail) ---\n"
                f"{self.console[-4000:]}")


def uml_command(uml: str, out: Path, timeout: int) -> list[str]:
    """The host command line (``timeout`` stops a hung guest cleanly)."""
    return ["timeout", str(timeout), uml, "mem=1G", "root=/dev/root", "rootfstype=hostfs",
            "rootflags=/", "ro", "con=null", "con0=null,fd:2", "quiet",
            f"init={HERE / 'guest-init.sh'}", f"KTEST={HERE / 'inner.sh'}", f"KOUT={out}",
            f"KREPO={REPO}"]


def run(pytest_args: list[str], out: Path, timeout: int = TIMEOUT,
        uml: str = "linux.uml") -> GuestRun:
    """Boot the guest once, run pytest there with ``pytest_args``, collect the results.

    Raises:
        FileNotFoundError: ``uml`` is not installed.
    """
    binary = shutil.which(uml)
    if binary is None:
        raise FileNotFoundError(f"{uml} not found: install the Debian package user-mode-linux")
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("rc", "guest.log", "console.log"):
        (out / stale).unlink(missing_ok=True)
    (out / "args").write_text("\n".join(pytest_args or GUEST_TESTS) + "\n")
    with (out / "console.log").open("wb") as console:
        finished = subprocess.run(uml_command(binary, out.resolve(), timeout),
                                  stdin=subprocess.DEVNULL, stdout=console,
                                  stderr=subprocess.STDOUT, timeout=timeout + 30, check=False)
    rc_text = _read(out / "rc").strip()
    return GuestRun(rc=int(rc_text) if rc_text.isdigit() else None, uml_rc=finished.returncode,
                    guest_log=_read(out / "guest.log"), console=_read(out / "console.log"))


def _read(path: Path) -> str:
    return path.read_text(errors="replace") if path.exists() else ""


def main(argv: list[str] | None = None) -> int:
    """Run and print the guest log; exit with the guest's status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: temp)")
    parser.add_argument("--timeout", type=int, default=TIMEOUT)
    options, pytest_args = parser.parse_known_args(argv)
    out = options.out or Path(tempfile.mkdtemp(prefix="ims-uml-"))
    result = run(pytest_args, out, options.timeout)
    print(result.guest_log)
    if result.rc != 0:
        print(result.report(), file=sys.stderr)
    return 1 if result.rc is None else result.rc


if __name__ == "__main__":
    sys.exit(main())
