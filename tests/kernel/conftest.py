"""Kernel tests: ``guest/`` runs only inside User-Mode Linux (``IMS_IN_UML=1``, set by inner.sh).

On the host, ``test_uml.py`` boots the guest and runs ``guest/`` there; a
plain ``pytest tests`` never collects ``guest/`` on the host kernel.
"""

from __future__ import annotations

import os

collect_ignore = [] if os.environ.get("IMS_IN_UML") == "1" else ["guest"]
if os.environ.get("IMS_IN_UML") == "1":
    collect_ignore.append("test_uml.py")
