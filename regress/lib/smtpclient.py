"""A raw SMTP client for tests that need to send exactly the bytes they
choose (pipelining, smuggling, junk), plus Maildir helpers."""

import base64
import os
import socket
import ssl
import time


class Raw:
    def __init__(self, port, host="127.0.0.1", timeout=10, tls=False,
                 source=None):
        """tls=True: TLS from the first byte (port 465).  source: the
        client's address (any 127.x.y.z works on loopback)."""
        self.sock = socket.create_connection(
            (host, port), timeout=timeout,
            source_address=(source, 0) if source else None)
        self.buf = b""
        if tls:
            self.starttls()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def reply(self):
        """One complete (possibly multi-line) reply: (code, text)."""
        lines = []
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed; got %r" % self.buf)
                self.buf += chunk
            line, _, self.buf = self.buf.partition(b"\n")
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), "\n".join(lines)

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True when the server closes the connection (after any replies
        already buffered)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (socket.timeout, ConnectionResetError):
            return False

    def starttls(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname="localhost")
        return self.sock

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def b64(data):
    """base64 of a str or bytes, as str (for AUTH responses)."""
    if isinstance(data, str):
        data = data.encode()
    return base64.b64encode(data).decode()


def plain(user, password, authzid=""):
    """The AUTH PLAIN response for user and password (RFC 4616)."""
    return b64("%s\0%s\0%s" % (authzid, user, password))


def submission(port, user=None, password=None, implicit=False,
               source=None):
    """A Raw session on a submission port, EHLO done, TLS up (STARTTLS
    unless implicit), and logged in with AUTH PLAIN when user is given."""
    c = Raw(port, tls=implicit, source=source)
    code, _ = c.reply()
    assert code == 220, code
    c.cmd("EHLO client.test")
    if not implicit:
        code, _ = c.cmd("STARTTLS")
        assert code == 220, code
        c.starttls()
        c.cmd("EHLO client.test")
    if user is not None:
        code, text = c.cmd("AUTH PLAIN " + plain(user, password))
        assert code == 235, text
    return c


def wait_for(cond, timeout=20):
    """Polls cond() until it is true or timeout seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return False


def maildir_files(state, address, sub="new"):
    local, _, domain = address.partition("@")
    d = os.path.join(state, "mail", domain, local, sub)
    try:
        return sorted(os.path.join(d, f) for f in os.listdir(d))
    except FileNotFoundError:
        return []


def wait_maildir(state, address, count, timeout=20):
    deadline = time.time() + timeout
    while time.time() < deadline:
        files = maildir_files(state, address)
        if len(files) >= count:
            return files
        time.sleep(0.05)
    return maildir_files(state, address)


def read(path):
    with open(path, "rb") as f:
        return f.read()
