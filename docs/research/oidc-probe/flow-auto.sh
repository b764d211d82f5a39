#!/usr/bin/env bash
# Authorization code + PKCE S256 against idp.mjs (IDP_INTERACTIONS=auto) with curl only.
set -euo pipefail
IDP=${IDP:-http://127.0.0.1:9000}; RP=${RP:-http://127.0.0.1:8080}
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
VERIFIER=$(openssl rand 32 | b64url)
CHALLENGE=$(printf %s "$VERIFIER" | openssl dgst -sha256 -binary | b64url)
STATE=$(openssl rand 16 | b64url); NONCE=$(openssl rand 16 | b64url)
JAR=$(mktemp)
AUTH="$IDP/auth?client_id=roster&response_type=code&scope=openid%20email&redirect_uri=$RP/cb&state=$STATE&nonce=$NONCE&code_challenge=$CHALLENGE&code_challenge_method=S256"
# Follow the IdP's redirects ourselves, stopping at the redirect_uri (nothing listens there).
URL=$AUTH
for i in $(seq 1 10); do
  LOC=$(curl -s -o /dev/null -b "$JAR" -c "$JAR" -w '%{redirect_url}' "$URL")
  echo "hop $i: $URL -> $LOC" >&2
  case "$LOC" in "$RP/cb"*) break;; esac
  URL=$LOC
done
CODE=$(python3 -c 'import sys,urllib.parse as u;q=u.parse_qs(u.urlsplit(sys.argv[1]).query);assert q["state"][0]==sys.argv[2];print(q["code"][0])' "$LOC" "$STATE")
TOKENS=$(curl -s -u roster:roster-secret -d grant_type=authorization_code -d "code=$CODE" \
  --data-urlencode "redirect_uri=$RP/cb" -d "code_verifier=$VERIFIER" "$IDP/token")
echo "$TOKENS" | python3 -m json.tool >&2
IDT=$(echo "$TOKENS" | python3 -c 'import sys,json;print(json.load(sys.stdin)["id_token"])')
echo "id_token: $IDT"
echo "$IDT" | cut -d. -f1 | python3 -c 'import sys,base64,json;s=sys.stdin.read().strip();print("header:",json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4))))'
echo "$IDT" | cut -d. -f2 | python3 -c 'import sys,base64,json;s=sys.stdin.read().strip();print("claims:",json.loads(base64.urlsafe_b64decode(s+"="*(-len(s)%4))))'
echo "expected nonce: $NONCE"
rm -f "$JAR"
