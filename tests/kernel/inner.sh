#!/bin/sh
# Runs inside the guest (started by guest-init.sh): the guest pytest suite.
# Arguments for pytest come from $KOUT/args, one per line (written by run_uml.py).
cd "$KREPO" || exit 97
export IMS_IN_UML=1
echo "guest kernel: $(uname -r)"
# shellcheck disable=SC2046
set -- $(cat "$KOUT/args")
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
