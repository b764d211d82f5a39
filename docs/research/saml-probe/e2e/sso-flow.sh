#!/bin/bash
# SP-initiated SSO against SimpleSAMLphp on 127.0.0.1:8081, driven with curl; samael verifies.
set -euo pipefail
W=/tmp/saml-probe/e2e; BIN=/tmp/saml-probe/target/debug/sso
USER=${1:-alice}; PASS=${2:-alicepass}
rm -f $W/cookies.txt
curl -sS -o $W/idp-metadata.xml http://127.0.0.1:8081/saml2/idp/metadata.php
{ read -r REQ_ID; read -r URL; } < <($BIN request $W/idp-metadata.xml)
echo "AuthnRequest ID: $REQ_ID"
# 1. follow the redirect to the login form
curl -sS -c $W/cookies.txt -b $W/cookies.txt -L -o $W/login.html -w 'login page: %{http_code} %{url_effective}\n' "$URL"
AUTHSTATE=$(python3 -c 'import re,html,sys; print(html.unescape(re.search(r"name=\"AuthState\" value=\"([^\"]+)\"", open(sys.argv[1]).read()).group(1)))' $W/login.html)
# 2. post the credentials; the IdP answers with an auto-submitting HTML form carrying SAMLResponse
curl -sS -c $W/cookies.txt -b $W/cookies.txt -o $W/post.html -w 'after login: %{http_code}\n' \
  --data-urlencode "username=$USER" --data-urlencode "password=$PASS" --data-urlencode "AuthState=$AUTHSTATE" \
  "http://127.0.0.1:8081/module.php/core/loginuserpass.php"
python3 - $W/post.html $W/samlresponse.b64 <<'PY'
import re, html, sys, base64
t = open(sys.argv[1]).read()
m = re.search(r'name="SAMLResponse" value="([^"]+)"', t)
if not m:
    print(t[:2000]); sys.exit("no SAMLResponse in page")
v = html.unescape(m.group(1)); open(sys.argv[2], 'w').write(v)
print("form action:", re.search(r'action="([^"]+)"', t).group(1))
open(sys.argv[2][:-4] + '.xml', 'wb').write(base64.b64decode(v))
PY
$BIN verify $W/idp-metadata.xml "$REQ_ID" $W/samlresponse.b64
