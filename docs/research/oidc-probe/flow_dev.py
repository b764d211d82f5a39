"""Usage: flow_dev.py [AUTH_URL]. Code flow + PKCE against idp.mjs with IDP_INTERACTIONS=dev: POST the built-in login and consent forms."""
import base64, hashlib, json, os, re, secrets, sys, urllib.parse as up
import requests

IDP = os.environ.get("IDP", "http://127.0.0.1:9001")
RP = os.environ.get("RP", "http://127.0.0.1:8080")
b64u = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()

verifier = b64u(secrets.token_bytes(32))
challenge = b64u(hashlib.sha256(verifier.encode()).digest())
state, nonce = b64u(secrets.token_bytes(16)), b64u(secrets.token_bytes(16))
s = requests.Session()  # cookie jar
auth = IDP + "/auth?" + up.urlencode(dict(client_id="roster", response_type="code", scope="openid email",
    redirect_uri=RP + "/cb", state=state, nonce=nonce, code_challenge=challenge, code_challenge_method="S256"))

def follow(url, method="GET", data=None):
    """Follow redirects by hand until a page (200) or the redirect_uri."""
    while True:
        r = s.request(method, url, data=data, allow_redirects=False)
        method, data = "GET", None
        if r.status_code in (302, 303):
            url = up.urljoin(url, r.headers["location"])
            print("->", url, file=sys.stderr)
            if url.startswith(RP + "/cb"):
                return url, None
            continue
        r.raise_for_status()
        return url, r.text

if len(sys.argv) > 1:  # browser leg only: log in for a given auth URL, print the callback URL
    auth = sys.argv[1]
url, page = follow(auth)
assert 'name="prompt" value="login"' in page
action = up.urljoin(url, re.search(r'<form[^>]*action="([^"]+)"', page).group(1))
url, page = follow(action, "POST", {"prompt": "login", "login": "user-1", "password": "anything"})
assert 'name="prompt" value="consent"' in page
action = up.urljoin(url, re.search(r'<form[^>]*action="([^"]+)"', page).group(1))
cb, _ = follow(action, "POST", {"prompt": "consent"})
if len(sys.argv) > 1:
    print(cb)
    sys.exit(0)
q = up.parse_qs(up.urlsplit(cb).query)
assert q["state"][0] == state, q
tok = requests.post(IDP + "/token", auth=("roster", "roster-secret"), data=dict(grant_type="authorization_code",
    code=q["code"][0], redirect_uri=RP + "/cb", code_verifier=verifier)).json()
idt = tok["id_token"]
claims = json.loads(base64.urlsafe_b64decode(idt.split(".")[1] + "=="))
assert claims["nonce"] == nonce
print("id_token:", idt)
print("claims:", claims)
