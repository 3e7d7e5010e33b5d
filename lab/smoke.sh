#!/usr/bin/env bash
# Lab smoke test: against a running core, provision a subscriber and register
# it with the emulated UE, then show it and deregister it. Uses only the
# CLI, so it runs from any machine that can reach the P-CSCF and the REST API.
#
#   lab/smoke.sh [--config lab/ims-lab.toml]
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=".venv/bin/ims-cli"
CONFIG_ARGS=("$@")

# TS 35.208 test set 1 keys: a lab-only subscriber, never for real SIMs.
IMSI=001010000000099
MSISDN=10000099
K=465b5ce8b199b49faa5f0a2ee238a6bc
OPC=cd63cb71954a9f4e48a5994e37a02baf

"$CLI" subscriber add "${CONFIG_ARGS[@]}" --imsi "$IMSI" --msisdn "$MSISDN" \
    --k "$K" --opc "$OPC" || echo "(subscriber may already exist; continuing)"
DOMAIN=ims.mnc001.mcc001.3gppnetwork.org
"$CLI" ue register "${CONFIG_ARGS[@]}" --impi "$IMSI@$DOMAIN" \
    --impu "sip:$IMSI@$DOMAIN" --k "$K" --opc "$OPC" --deregister-after 2
"$CLI" status "${CONFIG_ARGS[@]}"
