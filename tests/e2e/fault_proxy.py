#!/usr/bin/python3
"""A fault-injecting HTTP/1.1 reverse proxy for the end-to-end push tests.

    fault_proxy.py --upstream 127.0.0.1:PORT --port-file FILE --log FILE [--rules FILE]

Listens on 127.0.0.1 (the kernel picks the port, written to --port-file once
listening) and forwards every request to the registry at --upstream: HTTP/1.1
with keep-alive on both sides, request bodies framed by Content-Length or
Transfer-Encoding: chunked (stowage streams a layer as ONE chunked PATCH) and
forwarded as they arrive, chunk by chunk. Nothing is rewritten except an
absolute Location header that points at the upstream (http://UPSTREAM/...),
which is made to point at the proxy; relative ones pass as they are. (The
Host header is passed unchanged, so distribution, which builds its Location
URLs from Host, normally names the proxy already.)

--rules FILE, a JSON list read at start; each rule:

  {"method": "PATCH",            regex, matched in full against the method (omit: any)
   "path": "/blobs/uploads/",    regex, searched in the path (without the query; omit: any)
   "nth": 1,                     the Nth matching request, counting from 1; or a list [1, 2, 5]
   "min_body": 2000000,          (reset_after_bytes only, optional) count only requests whose
                                 body reaches this many bytes, when it does (so "nth": 1 picks
                                 the first big PATCH, whatever ran in parallel)
   "fault": ...}

  faults:
  "status", "status": 503 [, "retry_after": 1]
        read (and drop) the request body, answer STATUS with a registry-style
        JSON error (+ Retry-After), keep the connection; nothing is forwarded
  "stall", "seconds": 2
        wait, then forward as usual
  "reset_after_bytes", "bytes": N
        forward the head and the first N body bytes upstream (re-chunked as
        they arrive, so the registry reads exactly N bytes), wait until the
        registry has taken them (the socket's send queue is empty, then
        0.3 s), then reset both connections (SO_LINGER 0) without answering.
        A body shorter than N is forwarded whole, the registry's answer is
        awaited and dropped, and both connections are reset: the answer is
        lost.
  "answer", "status": 200 [, "headers": {"Name": "value"}, "body": "text",
            "repeat": N, "no_length": true]
        a made-up answer (hostile registry): read (and drop) the request body,
        send STATUS, the headers and BODY repeated N times (default 1;
        streamed, so it may be huge), framed by Content-Length, or with
        no_length by the end of the connection; nothing is forwarded
  "redirect", "to": "http://127.0.0.1:PORT" [, "status": 307]
        answer STATUS with Location: TO + the request target (path and query)
  "truncate_answer", "bytes": N
        forward; relay the answer's head and only N bytes of its body, then
        close the client connection (FIN): a short, truncated answer
  "corrupt_answer" [, "offset": N]
        forward; relay the answer (Content-Length framed, up to 64 MiB) with
        the body byte at OFFSET (default: the middle) changed: the digest of
        what arrives no longer matches

Each rule counts its own matches; when several fire on one request the first
in the file wins. --log gets one JSON object per request when it is done:
  {"t": arrival (unix s), "conn": N, "method": .., "target": .., "content_length": ..,
   "chunked": bool, "content_range": .. (request header, or null), "body_bytes": bytes of the
   body received (and forwarded unless a status fault dropped them), "status": the answer sent
   (null: none), "range": the answer's Range header, "location": the answer's Location
   (after rewriting), "rewrote_location": bool, "fault": null or a description, "ms": duration,
   "authorization": the scheme of the request's Authorization header ("Bearer", "Basic") or
   null (never its value)}
Standard library only; every socket has a timeout; --lifetime bounds the run.
"""
import argparse
import fcntl
import json
import os
import re
import socket
import struct
import sys
import termios
import threading
import time

MAX_HEAD = 64 * 1024
MAX_HEADERS = 100
PIECE = 64 * 1024
IO_TIMEOUT = 120
REASONS = {400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
           504: "Gateway Timeout"}
CODES = {429: "TOOMANYREQUESTS", 503: "UNAVAILABLE"}


class Closed(Exception):
    """The peer went away (or sent something we cannot frame)."""


class Reader:
    """Buffered reads from a socket: lines for heads, pieces for bodies."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _fill(self):
        data = self.sock.recv(PIECE)
        if not data:
            raise Closed("connection closed")
        self.buf += data

    def at_eof(self):
        """True when the peer closed before sending anything more."""
        if self.buf:
            return False
        try:
            self._fill()
        except Closed:
            return True
        return False

    def line(self, limit=MAX_HEAD):
        while b"\n" not in self.buf:
            if len(self.buf) > limit:
                raise Closed("line too long")
            self._fill()
        line, _, self.buf = self.buf.partition(b"\n")
        return line.rstrip(b"\r")

    def some(self, n):
        """Up to n bytes (at least 1)."""
        if not self.buf:
            self._fill()
        piece, self.buf = self.buf[:n], self.buf[n:]
        return piece

    def exactly(self, n):
        out = []
        while n:
            p = self.some(min(n, PIECE))
            out.append(p)
            n -= len(p)
        return b"".join(out)


class Head:
    def __init__(self, first, headers):
        self.first, self.headers = first, headers  # headers: [(name, value)] as received

    def get(self, name):
        name = name.lower()
        for k, v in self.headers:
            if k.lower() == name:
                return v
        return None

    def set(self, name, value):
        for i, (k, _) in enumerate(self.headers):
            if k.lower() == name.lower():
                self.headers[i] = (k, value)

    def chunked(self):
        te = self.get("transfer-encoding")
        return bool(te and "chunked" in te.lower())

    def length(self):
        cl = self.get("content-length")
        if cl is None:
            return None
        if not cl.strip().isdigit():
            raise Closed("bad Content-Length")
        return int(cl)

    def wants_close(self):
        c = (self.get("connection") or "").lower()
        return "close" in c or (self.first.endswith("HTTP/1.0") and "keep-alive" not in c)

    def encode(self):
        return (self.first + "\r\n" + "".join("%s: %s\r\n" % kv for kv in self.headers) + "\r\n").encode("latin-1")


def read_head(reader):
    first = reader.line().decode("latin-1")
    headers = []
    while True:
        line = reader.line().decode("latin-1")
        if not line:
            return Head(first, headers)
        if len(headers) >= MAX_HEADERS:
            raise Closed("too many headers")
        k, sep, v = line.partition(":")
        if not sep:
            raise Closed("bad header line")
        headers.append((k.strip(), v.strip()))


def reset(sock):
    """Close with SO_LINGER 0: the peer gets a RST, not a FIN."""
    if sock is None:
        return
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    try:
        sock.close()
    except OSError:
        pass


def drained(sock, limit_s=5.0):
    """Waits (bounded) until the kernel has no unacknowledged bytes for sock."""
    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        try:
            left = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        except OSError:
            return
        if left == 0:
            return
        time.sleep(0.01)


class Rule:
    def __init__(self, i, spec):
        if not isinstance(spec, dict):
            raise ValueError("rule %d is not an object" % i)
        self.index, self.spec = i, spec
        self.method = re.compile(spec.get("method") or ".*", re.I)
        self.path = re.compile(spec.get("path") or "")
        nth = spec.get("nth", 1)
        self.nth = set(nth) if isinstance(nth, list) else {nth}
        if not all(isinstance(n, int) and n >= 1 for n in self.nth):
            raise ValueError("rule %d: nth must be a positive integer or a list of them" % i)
        self.fault = spec.get("fault")
        self.min_body = spec.get("min_body")
        if self.fault == "status":
            if not isinstance(spec.get("status"), int):
                raise ValueError("rule %d: status needs an integer 'status'" % i)
        elif self.fault == "stall":
            if not isinstance(spec.get("seconds", 0), (int, float)):
                raise ValueError("rule %d: stall needs a number 'seconds'" % i)
        elif self.fault in ("reset_after_bytes", "truncate_answer"):
            if not isinstance(spec.get("bytes"), int) or spec["bytes"] < 0:
                raise ValueError("rule %d: %s needs 'bytes' >= 0" % (i, self.fault))
        elif self.fault == "answer":
            if not isinstance(spec.get("status"), int) or not isinstance(spec.get("headers", {}), dict):
                raise ValueError("rule %d: answer needs an integer 'status' (and 'headers' an object)" % i)
        elif self.fault == "redirect":
            if not str(spec.get("to", "")).startswith("http://127.0.0.1:"):
                raise ValueError("rule %d: redirect needs 'to': http://127.0.0.1:PORT" % i)
        elif self.fault == "corrupt_answer":
            pass
        else:
            raise ValueError("rule %d: unknown fault %r" % (i, self.fault))
        if self.min_body is not None and (self.fault != "reset_after_bytes" or not isinstance(self.min_body, int)
                                          or not 0 < self.min_body <= spec["bytes"]):
            raise ValueError("rule %d: min_body (an integer, 0 < min_body <= bytes) only goes with reset_after_bytes" % i)
        self.count = 0
        self.lock = threading.Lock()

    def matches(self, method, path):
        return self.method.fullmatch(method) is not None and self.path.search(path) is not None

    def hit(self):
        """Counts one match; True when this one is to get the fault."""
        with self.lock:
            self.count += 1
            return self.count in self.nth, self.count

    def describe(self, n):
        s = self.spec
        what = {"status": lambda: "status %d%s" % (s["status"], " retry_after %s" % s["retry_after"] if "retry_after" in s else ""),
                "stall": lambda: "stall %ss" % s.get("seconds", 0),
                "reset_after_bytes": lambda: "reset_after_bytes %d" % s["bytes"],
                "answer": lambda: "answer %d" % s["status"],
                "redirect": lambda: "redirect to %s" % s["to"],
                "truncate_answer": lambda: "truncate_answer %d" % s["bytes"],
                "corrupt_answer": lambda: "corrupt_answer"}[self.fault]()
        return "rule %d (#%d match): %s" % (self.index, n, what)


class Proxy:
    def __init__(self, args, rules):
        host, _, port = args.upstream.rpartition(":")
        self.upstream = (host, int(port))
        self.upstream_name = args.upstream
        self.rules = rules
        self.log_path = args.log
        self.log_lock = threading.Lock()
        self.conn_seq = 0
        self.listen = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listen.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listen.bind(("127.0.0.1", args.port))
        self.listen.listen(64)
        self.name = "127.0.0.1:%d" % self.listen.getsockname()[1]

    def log(self, entry):
        with self.log_lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")

    def serve(self):
        while True:
            client, _ = self.listen.accept()
            self.conn_seq += 1
            threading.Thread(target=Connection(self, client, self.conn_seq).run, daemon=True).start()


class Connection:
    def __init__(self, proxy, client, n):
        self.p, self.client, self.n = proxy, client, n
        self.client.settimeout(IO_TIMEOUT)
        self.creader = Reader(client)
        self.up = self.ureader = None
        self.answer_fault = None  # truncate_answer/corrupt_answer spec for the answer being relayed

    # --- upstream ---
    def upstream(self):
        if self.up is not None:
            try:  # a kept-alive connection the registry closed meanwhile: reconnect
                self.up.setblocking(False)
                try:
                    gone = self.up.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    gone = False
                self.up.setblocking(True)
                self.up.settimeout(IO_TIMEOUT)
            except OSError:
                gone = True
            if not gone:
                return
            self.close_upstream()
        self.up = socket.create_connection(self.p.upstream, timeout=IO_TIMEOUT)
        self.up.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.ureader = Reader(self.up)

    def close_upstream(self):
        if self.up is not None:
            try:
                self.up.close()
            except OSError:
                pass
        self.up = self.ureader = None

    # --- one connection, many requests ---
    def run(self):
        try:
            while not self.creader.at_eof():
                if not self.one_request():
                    break
        except (Closed, OSError):
            pass
        finally:
            self.close_upstream()
            try:
                self.client.close()
            except OSError:
                pass

    def one_request(self):
        """Handles one request; False when the connection is to end."""
        t0 = time.time()
        head = read_head(self.creader)
        parts = head.first.split(" ")
        if len(parts) != 3:
            raise Closed("bad request line")
        method, target = parts[0], parts[1]
        path = target.split("?", 1)[0]
        entry = {"t": round(t0, 3), "conn": self.n, "method": method, "target": target,
                 "content_length": head.length(), "chunked": head.chunked(),
                 "content_range": head.get("content-range"), "body_bytes": 0, "status": None,
                 "range": None, "location": None, "rewrote_location": False, "fault": None,
                 "authorization": (head.get("authorization") or "").split(" ", 1)[0] or None}
        fault = None
        late = []  # min_body rules: decided while the body streams
        for r in self.p.rules:
            if not r.matches(method, path):
                continue
            if r.min_body is not None:
                late.append(r)
                continue
            fire, n = r.hit()
            if fire and fault is None:
                fault = (r, n)
        keep = not head.wants_close()
        try:
            if fault and fault[0].fault == "status":
                entry["fault"] = fault[0].describe(fault[1])
                return self.answer_status(head, method, fault[0].spec, entry) and keep
            if fault and fault[0].fault in ("answer", "redirect"):
                entry["fault"] = fault[0].describe(fault[1])
                return self.answer_made_up(head, method, target, fault[0].spec, entry) and keep
            if fault and fault[0].fault in ("truncate_answer", "corrupt_answer"):
                entry["fault"] = fault[0].describe(fault[1])
                self.answer_fault = fault[0].spec
            if fault and fault[0].fault == "stall":
                entry["fault"] = fault[0].describe(fault[1])
                time.sleep(float(fault[0].spec.get("seconds", 0)))
            budget = None
            if fault and fault[0].fault == "reset_after_bytes":
                entry["fault"] = fault[0].describe(fault[1])
                budget = fault[0].spec["bytes"]
            return self.forward(head, method, entry, budget, late) and keep
        finally:
            entry["ms"] = round((time.time() - t0) * 1000)
            self.p.log(entry)

    # --- request bodies ---
    def body_pieces(self, head):
        """Yields the request body as it arrives, in pieces of at most PIECE bytes."""
        if head.chunked():
            while True:
                size_line = self.creader.line().split(b";", 1)[0].strip()
                try:
                    size = int(size_line, 16)
                except ValueError:
                    raise Closed("bad chunk size")
                if size == 0:
                    while self.creader.line():  # trailers
                        pass
                    return
                while size:
                    piece = self.creader.some(min(size, PIECE))
                    size -= len(piece)
                    yield piece
                if self.creader.line():
                    raise Closed("chunk not followed by CRLF")
        else:
            left = head.length() or 0
            while left:
                piece = self.creader.some(min(left, PIECE))
                left -= len(piece)
                yield piece

    def answer_status(self, head, method, spec, entry):
        for piece in self.body_pieces(head):
            entry["body_bytes"] += len(piece)
        status = spec["status"]
        body = json.dumps({"errors": [{"code": CODES.get(status, "UNKNOWN"),
                                       "message": "injected by fault_proxy", "detail": None}]}).encode()
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Injected")),
                 "Content-Type: application/json; charset=utf-8",
                 "Docker-Distribution-Api-Version: registry/2.0",
                 "Content-Length: %d" % len(body)]
        if "retry_after" in spec:
            lines.append("Retry-After: %s" % spec["retry_after"])
        self.client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + (b"" if method == "HEAD" else body))
        entry["status"] = status
        return True

    def answer_made_up(self, head, method, target, spec, entry):
        for piece in self.body_pieces(head):
            entry["body_bytes"] += len(piece)
        status = spec.get("status", 307)
        headers = dict(spec.get("headers", {}))
        body = spec.get("body", "").encode()
        repeat = int(spec.get("repeat", 1))
        if spec["fault"] == "redirect":
            headers["Location"] = spec["to"] + target
            body, repeat = b"", 1
        lines = ["HTTP/1.1 %d %s" % (status, REASONS.get(status, "Made Up"))]
        lines += ["%s: %s" % kv for kv in headers.items()]
        if not spec.get("no_length"):
            lines.append("Content-Length: %d" % (len(body) * repeat))
        else:
            lines.append("Connection: close")
        self.client.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        entry["status"] = status
        entry["location"] = headers.get("Location")
        if method != "HEAD":
            try:
                for _ in range(repeat):
                    self.client.sendall(body)
            except OSError:  # the client gave up reading (a size cap): fine
                entry["fault"] += " (client closed early)"
                return False
        return not spec.get("no_length")

    def forward(self, head, method, entry, budget, late):
        """Forwards one request and its answer; with a byte budget, resets instead."""
        self.upstream()
        self.up.sendall(head.encode())
        chunked = head.chunked()
        crossed = set()
        cut = False
        for piece in self.body_pieces(head):
            before = entry["body_bytes"]
            for r in late:  # a min_body rule counts a request when its body gets that far
                if r not in crossed and before + len(piece) >= r.min_body:
                    crossed.add(r)
                    fire, n = r.hit()
                    if fire and budget is None:  # min_body <= bytes: the budget is not spent yet
                        budget = r.spec["bytes"]
                        entry["fault"] = r.describe(n)
            if budget is not None and before + len(piece) >= budget:
                piece, cut = piece[:budget - before], True
            if piece:
                self.up.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                entry["body_bytes"] += len(piece)
            if cut:
                break
        if budget is not None:
            if cut:  # the registry reads what it got, then the connections break
                drained(self.up)
                time.sleep(0.3)
            else:  # a short body went whole: let the registry answer, then lose the answer
                if chunked:
                    self.up.sendall(b"0\r\n\r\n")
                try:
                    answer = read_head(self.ureader)
                    entry["fault"] += " (body ended first: the answer %s was dropped)" % answer.first.split(" ")[1]
                except (Closed, OSError):
                    pass
            reset(self.up)
            self.up = self.ureader = None
            reset(self.client)
            entry["fault"] += ", reset after %d body bytes" % entry["body_bytes"]
            return False
        if chunked:
            self.up.sendall(b"0\r\n\r\n")
        return self.relay_answer(method, entry)

    # --- answers ---
    def relay_answer(self, method, entry):
        fault, self.answer_fault = self.answer_fault, None
        while True:
            answer = read_head(self.ureader)
            status = int(answer.first.split(" ")[1])
            if 100 <= status < 200 and status != 101:
                self.client.sendall(answer.encode())
                continue
            break
        entry["status"] = status
        entry["range"] = answer.get("range")
        loc = answer.get("location")
        if loc:
            for prefix in ("http://" + self.p.upstream_name, "//" + self.p.upstream_name):
                if loc.startswith(prefix) and (len(loc) == len(prefix) or loc[len(prefix)] in "/?#"):
                    loc = "http://" + self.p.name + loc[len(prefix):]
                    answer.set("location", loc)
                    entry["rewrote_location"] = True
                    break
            entry["location"] = loc
        if fault and fault["fault"] == "corrupt_answer" and answer.length() and answer.length() <= 64 << 20:
            body = bytearray(self.ureader.exactly(answer.length()))
            at = min(int(fault.get("offset", len(body) // 2)), len(body) - 1)
            body[at] ^= 0x01
            self.client.sendall(answer.encode() + bytes(body))
            return not answer.wants_close()
        if fault and fault["fault"] == "truncate_answer":
            self.client.sendall(answer.encode())
            left = fault["bytes"]
            while left > 0 and method != "HEAD":
                piece = self.ureader.some(min(left, PIECE))
                left -= len(piece)
                self.client.sendall(piece)
            self.close_upstream()
            self.client.shutdown(socket.SHUT_WR)
            time.sleep(0.2)
            return False
        self.client.sendall(answer.encode())
        keep = not answer.wants_close()
        if method == "HEAD" or status in (204, 304):
            pass
        elif answer.chunked():
            while True:
                size_line = self.ureader.line()
                self.client.sendall(size_line + b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip(), 16)
                if size == 0:
                    while True:
                        t = self.ureader.line()
                        self.client.sendall(t + b"\r\n")
                        if not t:
                            break
                    break
                self.client.sendall(self.ureader.exactly(size))
                if self.ureader.line():
                    raise Closed("bad chunk from upstream")
                self.client.sendall(b"\r\n")
        elif answer.length() is not None:
            left = answer.length()
            while left:
                piece = self.ureader.some(min(left, PIECE))
                left -= len(piece)
                self.client.sendall(piece)
        else:  # to the end of the connection
            try:
                while True:
                    self.client.sendall(self.ureader.some(PIECE))
            except Closed:
                pass
            keep = False
        if not keep:
            self.close_upstream()
        return keep


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the registry (127.0.0.1 only)")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--rules", help="JSON list of fault rules")
    ap.add_argument("--port", type=int, default=0, help="listen port (default: one the kernel picks)")
    ap.add_argument("--lifetime", type=float, default=900, help="exit after this many seconds")
    args = ap.parse_args()
    if not args.upstream.startswith("127.0.0.1:"):
        sys.exit("fault_proxy: --upstream must be 127.0.0.1:PORT")
    rules = []
    if args.rules:
        with open(args.rules) as f:
            specs = json.load(f)
        if not isinstance(specs, list):
            sys.exit("fault_proxy: --rules must hold a JSON list")
        try:
            rules = [Rule(i, s) for i, s in enumerate(specs)]
        except ValueError as e:
            sys.exit("fault_proxy: %s" % e)
    proxy = Proxy(args, rules)
    open(args.log, "a").close()
    threading.Timer(args.lifetime, lambda: os._exit(0)).start()
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % proxy.listen.getsockname()[1])
    os.replace(tmp, args.port_file)
    proxy.serve()


if __name__ == "__main__":
    main()
