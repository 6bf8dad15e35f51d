"""A raw SMTP client for tests that need to send exactly the bytes they
choose (pipelining, smuggling, junk), plus Maildir helpers."""

import os
import socket
import ssl
import time


class Raw:
    def __init__(self, port, host="127.0.0.1", timeout=10):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

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
