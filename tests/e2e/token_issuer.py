#!/usr/bin/python3
"""A tiny Docker registry token server for the end-to-end tests (127.0.0.1 only).

Implements the token flow of distribution's docs/spec/auth/token.md closely
enough for CNCF distribution 2.8 (`auth: token`):

  GET  /token?service=S&scope=repository:NAME:pull,push[&scope=...][&account=U]
       Authorization: Basic base64(user:password)   (optional: anonymous)
  POST /token  (OAuth2, auth/oauth.md) form: grant_type=password, username,
       password, service, client_id, scope="space separated scopes"

  -> 200 {"token": JWT, "access_token": JWT, "expires_in": N, "issued_at": RFC3339}
  -> 401 {"errors": [{"code": "UNAUTHORIZED", ...}]} for wrong credentials
  -> 400 for a wrong or missing service

Policy: the one configured user is granted every action it asks for (pull,
push, delete, *) on every repository; anonymous requests get a token with no
access at all (the registry then answers 401 insufficient_scope).

The JWT is RS256 (or ES256 for an EC key), signed with --key; its header
carries the --cert certificate as `x5c`, which distribution verifies against
its `rootcertbundle` (the same self-signed certificate). Claims: iss, sub, aud
(= service), exp, nbf, iat, jti, access.

Every request is logged as one JSON line to --log: time, method, path, user
(the name the client sent, "" when anonymous), auth ("ok", "bad",
"anonymous"), service, scopes (as requested), granted, status. Never the
password or the token.

The port is chosen by the kernel and written to --port-file once listening.
"""
import argparse
import base64
import datetime
import hmac
import json
import os
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt  # python3-jwt (PyJWT), with python3-cryptography
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

ACTIONS = ("pull", "push", "delete", "*")


def parse_scope(scope):
    """'repository:host:5000/name:pull,push' -> ('repository', 'host:5000/name', ['pull', 'push'])."""
    typ, sep, rest = scope.partition(":")
    name, sep2, actions = rest.rpartition(":")
    if not sep or not sep2 or not typ or not name:
        return None
    return typ, name, [a for a in actions.split(",") if a]


class Issuer:
    def __init__(self, args):
        with open(args.key, "rb") as f:
            self.key = serialization.load_pem_private_key(f.read(), password=None)
        with open(args.cert, "rb") as f:
            cert = x509.load_pem_x509_certificate(f.read())
        self.x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
        self.alg = "ES256" if isinstance(self.key, ec.EllipticCurvePrivateKey) else "RS256"
        self.issuer, self.service, self.user = args.issuer, args.service, args.user
        with open(args.password_file, "rb") as f:
            self.password = f.read().rstrip(b"\n")
        self.expires_in = args.expires_in
        self.log_path = args.log
        self.lock = threading.Lock()

    def log(self, **entry):
        entry = {"time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"), **entry}
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def check(self, user, password):
        """'ok', 'bad' or 'anonymous' for the credentials a client sent (None = none sent)."""
        if user is None:
            return "anonymous"
        ok_user = hmac.compare_digest(user.encode(), self.user.encode())
        ok_pass = hmac.compare_digest(password or b"", self.password)
        return "ok" if ok_user and ok_pass else "bad"

    def grant(self, auth, scopes):
        access = []
        if auth != "ok":
            return access
        for s in scopes:
            p = parse_scope(s)
            if p is None:
                continue
            typ, name, actions = p
            allowed = [a for a in actions if a in ACTIONS]
            for a in access:  # merge repeated scopes for one resource
                if a["type"] == typ and a["name"] == name:
                    a["actions"] = sorted(set(a["actions"]) | set(allowed))
                    break
            else:
                access.append({"type": typ, "name": name, "actions": allowed})
        return access

    def token(self, user, access):
        now = int(time.time())
        claims = {
            "iss": self.issuer, "sub": user or "", "aud": self.service,
            "exp": now + self.expires_in, "nbf": now - 10, "iat": now,
            "jti": secrets.token_hex(16), "access": access,
        }
        headers = {"typ": "JWT", "x5c": self.x5c}
        tok = jwt.encode(claims, self.key, algorithm=self.alg, headers=headers)
        if isinstance(tok, bytes):  # PyJWT < 2
            tok = tok.decode()
        issued = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        return {"token": tok, "access_token": tok, "expires_in": self.expires_in, "issued_at": issued}


class Handler(BaseHTTPRequestHandler):
    server_version = "stowage-e2e-token-issuer/1"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # the JSON log is enough; keep stderr quiet
        pass

    def reply(self, status, body, extra=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def basic_auth(self):
        h = self.headers.get("Authorization", "")
        if not h.lower().startswith("basic "):
            return None, None
        try:
            raw = base64.b64decode(h[6:].strip(), validate=True)
        except ValueError:
            return "", b""
        user, _, password = raw.partition(b":")
        return user.decode("utf-8", "replace"), password

    def serve(self, method, params, user, password):
        iss = self.server.issuer
        url = urllib.parse.urlsplit(self.path)
        service = params.get("service", [""])[0]
        scopes = []
        for s in params.get("scope", []):
            scopes.extend(s.split(" ") if method == "POST" else [s])
        scopes = [s for s in scopes if s]
        auth = iss.check(user, password)
        entry = dict(method=method, path=url.path, user=user or "", auth=auth, service=service, scopes=scopes,
                     account=params.get("account", [""])[0], client_id=params.get("client_id", [""])[0])
        if url.path != "/token":
            iss.log(**entry, granted=[], status=404)
            return self.reply(404, {"errors": [{"code": "NOT_FOUND", "message": "no such endpoint"}]})
        if service != iss.service:
            iss.log(**entry, granted=[], status=400)
            return self.reply(400, {"errors": [{"code": "INVALID_SERVICE",
                                                "message": "service must be %r" % iss.service}]})
        if auth == "bad":
            iss.log(**entry, granted=[], status=401)
            return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "authentication failed"}]},
                              {"WWW-Authenticate": 'Basic realm="stowage-e2e-token"'})
        access = iss.grant(auth, scopes)
        body = iss.token(user if auth == "ok" else "", access)
        iss.log(**entry, granted=["%s:%s:%s" % (a["type"], a["name"], ",".join(a["actions"])) for a in access],
                status=200)
        self.reply(200, body)

    def do_GET(self):
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        user, password = self.basic_auth()
        self.serve("GET", params, user, password)

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        params = urllib.parse.parse_qs(self.rfile.read(n).decode("utf-8", "replace")) if n > 0 else {}
        if params.get("grant_type", [""])[0] == "password":
            user = params.get("username", [""])[0]
            password = params.get("password", [""])[0].encode()
        else:  # refresh_token and others: not supported; only Basic auth, if any
            user, password = self.basic_auth()
            if params.get("grant_type", [""])[0] not in ("", "password"):
                self.server.issuer.log(method="POST", path=urllib.parse.urlsplit(self.path).path, user="",
                                       auth="unsupported", service=params.get("service", [""])[0],
                                       scopes=[], granted=[], status=400)
                return self.reply(400, {"error": "unsupported_grant_type"})
        self.serve("POST", params, user, password)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port-file", required=True, help="where to write the port once listening")
    ap.add_argument("--key", required=True, help="PEM private key (RSA -> RS256, EC P-256 -> ES256)")
    ap.add_argument("--cert", required=True, help="PEM certificate of that key (sent as x5c)")
    ap.add_argument("--issuer", required=True)
    ap.add_argument("--service", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password-file", required=True, help="the user's password (kept out of argv)")
    ap.add_argument("--log", required=True, help="JSON-lines request log")
    ap.add_argument("--expires-in", type=int, default=300)
    args = ap.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.issuer = Issuer(args)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.port_file)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
