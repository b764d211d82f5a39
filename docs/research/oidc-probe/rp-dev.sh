#!/usr/bin/env bash
# openidconnect probe against idp.mjs in devInteractions mode: Python POSTs the login/consent forms.
set -euo pipefail
cd "$(dirname "$0")"
coproc RPP { CALLBACK_FROM_STDIN=1 ./target/debug/oidc-rp-probe "${IDP:-http://127.0.0.1:9001}" http://127.0.0.1:8080/cb 2>&1; }
read -r line <&"${RPP[0]}"; echo "$line"
python3 flow_dev.py "${line#authorization URL: }" >&"${RPP[1]}"
cat <&"${RPP[0]}"
