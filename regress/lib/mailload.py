"""A mail load for postern's load and crash tests (load.t, crash.t).

A load is CLIENTS concurrent SMTP sessions (python smtplib, one thread
each), every session sending its share of messages one after another on
the same connection to MAILBOXES accounts.  Every message carries a
unique token (in its Message-ID, Subject and X-Load-Token header) and a
body made from the token (so the test can rebuild the exact bytes from
the token alone): sizes vary from a few hundred bytes to past the mda's
64 KiB chunk, lines start with dots, some are near
RFC 5321's 1000-octet limit.  What the test
checks is `check_mailboxes`: each token once, in the right mailbox,
byte for byte what was sent (CRLF as LF, after the trace headers the
server prepends), nothing else in new/ cur/ tmp/.
"""

import hashlib
import os
import random
import re
import smtplib
import threading
import time

from postern import Server, hash_password

DOMAIN = "example.org"
SENDER = "loader@remote.test"
TOKEN_RE = re.compile(rb"^X-Load-Token: (\S+)$", re.M)
TRACE = (b"Return-Path:", b"Delivered-To:", b"Received:")


def mailboxes(n):
    return ["box%d@%s" % (i, DOMAIN) for i in range(n)]


def message(token):
    """The exact bytes (CRLF lines) sent for token."""
    rnd = random.Random(token)
    size = rnd.choice((300, 1500, 4096, 4096, 9000, 70000))
    lines = [b"X-Load-Token: " + token.encode(),
             b"Message-ID: <" + token.encode() + b"@load.test>",
             b"From: " + SENDER.encode(),
             b"To: someone@" + DOMAIN.encode(),
             b"Subject: load " + token.encode(),
             b""]
    n = 0
    while n < size:
        kind = rnd.randrange(10)
        if kind == 0:
            line = b"." * rnd.randrange(1, 4) + b" dot line"
        elif kind == 1:
            line = b""
        elif kind == 2:
            line = b"x" * rnd.randrange(500, 999)
        else:
            line = bytes(rnd.choice(b"abcdefghij klmnopqrst uvwxyz0123")
                         for _ in range(rnd.randrange(1, 200)))
        lines.append(line)
        n += len(line) + 2
    lines.append(b"end of " + token.encode())
    return b"\r\n".join(lines) + b"\r\n"


def stored(data):
    """What the mda writes for data: CRLF as LF (a lone CR is kept)."""
    return data.replace(b"\r\n", b"\n")


def digest(data):
    return hashlib.sha256(data).hexdigest()


class Load:
    """CLIENTS sessions of PER messages each, spread over the mailboxes.

    accepted: token -> mailbox, for every message that got a 250.
    sent: token -> mailbox, for every message whose DATA was started
    (a 250 may have been lost with the connection).
    """

    def __init__(self, port, clients=20, per=100, boxes=5, tag="run"):
        self.port = port
        self.clients = clients
        self.per = per
        self.boxes = mailboxes(boxes)
        self.tag = tag
        self.accepted = {}
        self.sent = {}
        self.errors = []
        self.lock = threading.Lock()
        self.threads = []
        self.start_time = None
        self.last_250 = None

    def token(self, c, i):
        return "%s-%02d-%03d" % (self.tag, c, i)

    def box(self, c, i):
        return self.boxes[(c * 7 + i) % len(self.boxes)]

    def client(self, c):
        try:
            s = smtplib.SMTP("127.0.0.1", self.port, timeout=60)
            s.ehlo("client%d.load.test" % c)
        except (OSError, smtplib.SMTPException) as e:
            with self.lock:
                self.errors.append("client %d: connect: %r" % (c, e))
            return
        try:
            for i in range(self.per):
                tok, box = self.token(c, i), self.box(c, i)
                s.mail(SENDER)
                code, text = s.rcpt(box)
                if code != 250:
                    raise smtplib.SMTPException("RCPT %d %r" % (code, text))
                with self.lock:
                    self.sent[tok] = box
                code, text = s.data(message(tok))
                if code != 250:
                    raise smtplib.SMTPException("DATA %d %r" % (code, text))
                with self.lock:
                    self.accepted[tok] = box
                    self.last_250 = time.time()
            s.quit()
        except (OSError, smtplib.SMTPException) as e:
            with self.lock:
                self.errors.append("client %d: %r" % (c, e))
        finally:
            s.close()

    def start(self):
        self.start_time = time.time()
        self.threads = [threading.Thread(target=self.client, args=(c,))
                        for c in range(self.clients)]
        for th in self.threads:
            th.start()

    def join(self, timeout=None):
        deadline = None if timeout is None else time.time() + timeout
        for th in self.threads:
            th.join(None if deadline is None else
                    max(0, deadline - time.time()))
        return not any(th.is_alive() for th in self.threads)

    def n_accepted(self):
        with self.lock:
            return len(self.accepted)


def server(boxes, extra=""):
    """A Server with an MX listener and an account for each mailbox."""
    pw = hash_password("Correct-Horse-9")
    return Server(listeners=[("mx", "smtp", "none")],
                  accounts=[(b, pw) for b in boxes],
                  extra="limits: {sessions_per_ip: 100}\n" + extra)


def box_dir(state, address):
    local, _, domain = address.partition("@")
    return os.path.join(state, "mail", domain, local)


def count_new(state, boxes):
    n = 0
    for b in boxes:
        try:
            n += len(os.listdir(os.path.join(box_dir(state, b), "new")))
        except FileNotFoundError:
            pass
    return n


def markers(state, boxes):
    """The delivery markers (lib/maildir.h) of the mailboxes, by name."""
    out = []
    for b in boxes:
        try:
            out.extend(n for n in os.listdir(os.path.join(
                box_dir(state, b), "postern-delivered")) if n[:1] != ".")
        except FileNotFoundError:
            pass
    return sorted(out)


def strip_trace(data):
    """data without the trace header lines the server prepends, or None
    when the message does not start after them where expected."""
    pos = 0
    while True:
        end = data.find(b"\n", pos)
        if end == -1:
            return None
        line = data[pos:end + 1]
        if line.startswith(TRACE) or (line[:1] in (b" ", b"\t") and pos):
            pos = end + 1
            continue
        return data[pos:]


def check_mailboxes(state, boxes, expect, maybe=None, ignore=None):
    """Reads every file of the mailboxes.

    expect: token -> mailbox that must be there exactly once; maybe:
    token -> mailbox that may be there (at most once); ignore(name): a
    file in new/ that is not the load's (not counted).  Returns a dict of
    problem lists: missing, duplicates, misplaced, corrupt, unknown,
    tmp (files left in tmp/), cur (files in cur/), and found (count).
    """
    maybe = maybe or {}
    seen = {}
    out = {"missing": [], "duplicates": [], "misplaced": [], "corrupt": [],
           "unknown": [], "tmp": [], "cur": [], "found": 0}
    for b in boxes:
        d = box_dir(state, b)
        for sub in ("tmp", "cur"):
            try:
                out[sub].extend(os.path.join(d, sub, f)
                                for f in os.listdir(os.path.join(d, sub)))
            except FileNotFoundError:
                pass
        try:
            names = os.listdir(os.path.join(d, "new"))
        except FileNotFoundError:
            names = []
        for name in names:
            if ignore is not None and ignore(name):
                continue
            path = os.path.join(d, "new", name)
            with open(path, "rb") as f:
                data = f.read()
            out["found"] += 1
            m = TOKEN_RE.search(data)
            tok = m.group(1).decode() if m else None
            want = expect.get(tok) or maybe.get(tok)
            if want is None:
                out["unknown"].append(path)
                continue
            seen[tok] = seen.get(tok, 0) + 1
            if seen[tok] == 2:
                out["duplicates"].append(tok)
            if want != b:
                out["misplaced"].append((tok, b))
            body = strip_trace(data)
            if body is None or digest(body) != digest(stored(message(tok))):
                out["corrupt"].append(path)
                continue
            size = re.search(r",S=(\d+)", name)
            if size is None or int(size.group(1)) != len(data):
                out["corrupt"].append(path + " (S= field)")
    out["missing"] = sorted(t for t in expect if t not in seen)
    return out


def queue_messages(srv):
    """The queue's message count, or None when status fails."""
    try:
        return srv.status().get("queue", {}).get("messages")
    except (RuntimeError, ValueError, OSError):
        return None


def wait_drained(srv, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if queue_messages(srv) == 0:
            return True
        time.sleep(0.2)
    return False
