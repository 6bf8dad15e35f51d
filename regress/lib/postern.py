"""Helpers for postern's integration tests.

Each test starts the real posternd on free loopback ports with a temporary
state dir, drives it with real clients, and prints TAP.  Nothing here
decides a result: tests assert on what the daemon did.
"""

import json
import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUILD = os.path.join(TOP, os.environ.get("POSTERN_BUILD", "build"))
POSTERND = os.path.join(BUILD, "posternd")
POSTERNCTL = os.path.join(BUILD, "posternctl")
IS_ROOT = os.geteuid() == 0

# What ASan, UBSan and LSan print; any of it in a log is a failing test.
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:",
                   "ERROR: LeakSanitizer", "SUMMARY: UndefinedBehavior")
_tap = None


def sanitizer_check(text, what):
    """Fails the running test when text holds a sanitizer report."""
    hits = [m for m in SANITIZER_MARKS if m in (text or "")]
    if hits and _tap is not None:
        _tap.ok(False, "no sanitizer report in %s" % what)
        _tap.diag(text[-4000:])
    return not hits


class TAP:
    """A TAP producer: ok/is_/done, plus skip with a stated reason."""

    def __init__(self):
        global _tap
        self.n = 0
        self.failed = 0
        _tap = self

    def ok(self, cond, name):
        self.n += 1
        print("%sok %d - %s" % ("" if cond else "not ", self.n, name),
              flush=True)
        if not cond:
            self.failed += 1
        return bool(cond)

    def is_(self, got, want, name):
        good = self.ok(got == want, name)
        if not good:
            self.diag("got %r, want %r" % (got, want))
        return good

    def like(self, got, needle, name):
        good = self.ok(got is not None and needle in got, name)
        if not good:
            self.diag("%r not found in %r" % (needle, (got or "")[-2000:]))
        return good

    def diag(self, msg):
        for line in str(msg).splitlines():
            print("# " + line, flush=True)

    def skip_all(self, reason):
        print("1..0 # SKIP %s" % reason, flush=True)
        sys.exit(0)

    def done(self):
        print("1..%d" % self.n, flush=True)
        sys.exit(1 if self.failed else 0)


def free_ports(n):
    """n distinct free TCP ports on 127.0.0.1."""
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


_CERT_CACHE = {}


def make_cert(directory):
    """A self-signed certificate for localhost in directory."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                    "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def hash_password(password):
    """A crypt(3) hash made by posternctl hash."""
    r = subprocess.run([POSTERNCTL, "hash"], input=password + "\n",
                       capture_output=True, text=True, check=True)
    return r.stdout.strip()


DEFAULT_USERS = {"network": "postern", "queue": "postern-queue",
                 "mail": "postern-vmail", "auth": "postern-auth"}


class Server:
    """One posternd under test."""

    def __init__(self, listeners=None, extra="", accounts=None,
                 domains=("example.org",), aliases=None, roles=None,
                 control_group="nogroup"):
        self.dir = tempfile.mkdtemp(prefix="postern-test-")
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.run_dir = os.path.join(self.dir, "run")
        self.socket = os.path.join(self.run_dir, "control.sock")
        self.events = os.path.join(self.dir, "events.jsonl")
        self.logfile = os.path.join(self.dir, "posternd.log")
        self.conf = os.path.join(self.dir, "postern.yaml")
        self.cert, self.key = make_cert(self.dir)
        if listeners is None:
            listeners = [("mx", "smtp", "starttls"),
                         ("submission", "submission", "starttls"),
                         ("submissions", "submission", "implicit"),
                         ("imap", "imap", "starttls"),
                         ("imaps", "imap", "implicit")]
        ports = free_ports(len(listeners))
        self.listeners = []
        for spec, port in zip(listeners, ports):
            name, service, tls = spec[:3]
            address = spec[3] if len(spec) > 3 else "127.0.0.1"
            self.listeners.append({"name": name, "service": service,
                                   "address": address, "port": port,
                                   "tls": tls})
        self.port = {l["name"]: l["port"] for l in self.listeners}
        self.accounts = accounts or []
        self.domains = list(domains)
        self.aliases = aliases or {}
        self.roles = roles or {"admin": {"users": ["root"]},
                               "auditor": {"groups": ["postern-admin"]}}
        self.control_group = control_group
        self.extra = extra
        self.proc = None
        self.write_config()

    def config_text(self):
        out = ["hostname: mx.example.org",
               "state_dir: %s" % self.state,
               "run_dir: %s" % self.run_dir,
               "log: {level: debug, json: %s}" % self.events,
               "tls: {cert: %s, key: %s}" % (self.cert, self.key),
               "listeners:"]
        for l in self.listeners:
            out.append("  - {name: %(name)s, service: %(service)s, "
                       "address: \"%(address)s\", port: %(port)d, "
                       "tls: %(tls)s}" % l)
        out.append("domains:")
        for d in self.domains:
            out.append("  - name: %s" % d)
        if self.accounts:
            out.append("accounts:")
            for addr, h in self.accounts:
                out.append("  - address: %s" % addr)
                out.append("    password: \"%s\"" % h)
        if self.aliases:
            out.append("aliases:")
            for a, targets in self.aliases.items():
                out.append("  %s: [%s]" % (a, ", ".join(targets)))
        out.append("control:")
        out.append("  socket: %s" % self.socket)
        out.append("  group: %s" % self.control_group)
        out.append("  roles:")
        for role, spec in self.roles.items():
            parts = ["%s: [%s]" % (k, ", ".join(v)) for k, v in spec.items()]
            out.append("    %s: {%s}" % (role, ", ".join(parts)))
        return "\n".join(out) + "\n" + self.extra

    def write_config(self, text=None):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else self.config_text())

    def start(self, wait=True, timeout=15):
        self.log = open(self.logfile, "ab")
        self.proc = subprocess.Popen([POSTERND, "-d", "-v", "-f", self.conf],
                                     stdout=self.log, stderr=self.log)
        if wait:
            self.wait_ready(timeout)
        return self

    def pidfile(self):
        return os.path.join(self.run_dir, "posternd.pid")

    def wait_ready(self, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("posternd exited with %d:\n%s" %
                                   (self.proc.returncode, self.read_log()))
            if os.path.exists(self.pidfile()):
                return
            time.sleep(0.05)
        raise RuntimeError("posternd not ready after %ds:\n%s" %
                           (timeout, self.read_log()))

    def read_log(self):
        try:
            with open(self.logfile, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def read_events(self):
        out = []
        try:
            with open(self.events) as f:
                for line in f:
                    out.append(json.loads(line))
        except OSError:
            pass
        return out

    def wait_log(self, needle, timeout=10):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if needle in self.read_log():
                return True
            time.sleep(0.05)
        return False

    def ctl(self, *args, uid=None, gid=None, input=None):
        def drop():
            if gid is not None:
                os.setgroups([])
                os.setgid(gid)
            if uid is not None:
                os.setuid(uid)
        r = subprocess.run([POSTERNCTL, "-s", self.socket] + list(args),
                           capture_output=True, text=True, input=input,
                           preexec_fn=drop if uid is not None else None,
                           timeout=30)
        sanitizer_check(r.stderr, "posternctl's stderr")
        return r

    def status(self):
        r = self.ctl("--json", "status")
        if r.returncode != 0:
            raise RuntimeError("status failed: %s" % r.stderr)
        return json.loads(r.stdout)

    def stop(self, timeout=10):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()

    def cleanup(self):
        self.stop()
        sanitizer_check(self.read_log(), "posternd's log")
        if os.environ.get("POSTERN_KEEP"):
            print("# kept %s" % self.dir)
            return
        shutil.rmtree(self.dir, ignore_errors=True)


def spool_names(path):
    """A spool directory's entries, less the queue's spare message files
    (incoming/spare-ID, envelopes/spare-ID.tmp), which it makes ahead of
    need and which come and go on their own."""
    return sorted(n for n in os.listdir(path) if not n.startswith("spare-"))


def proc_status(pid):
    """The fields of /proc/PID/status as a dict."""
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            out[k] = v.strip()
    return out


def tree_pids(root):
    """root and all its descendants."""
    pids, todo = [], [root]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return pids


def kill_tree(srv):
    """SIGKILL to srv's posternd and all its children, one right after
    the other, as a crash would; removes the pid file a clean exit would
    have removed.  Returns how many processes that was."""
    pids = tree_pids(srv.proc.pid)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    srv.proc.wait()
    try:
        os.unlink(srv.pidfile())
    except OSError:
        pass
    return len(pids)


def listening_sockets(pids):
    """The (address, port) pairs of TCP sockets in LISTEN state open in
    any of pids."""
    inodes = set()
    for pid in pids:
        d = "/proc/%d/fd" % pid
        try:
            for fd in os.listdir(d):
                try:
                    t = os.readlink(os.path.join(d, fd))
                except OSError:
                    continue
                if t.startswith("socket:["):
                    inodes.add(t[8:-1])
        except OSError:
            pass
    found = set()
    for path, v6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
        with open(path) as f:
            next(f)
            for line in f:
                fields = line.split()
                local, state, inode = fields[1], fields[3], fields[9]
                if state != "0A" or inode not in inodes:
                    continue
                addr_hex, port_hex = local.split(":")
                port = int(port_hex, 16)
                raw = bytes.fromhex(addr_hex)
                if v6:
                    words = [raw[i:i + 4][::-1] for i in range(0, 16, 4)]
                    addr = socket.inet_ntop(socket.AF_INET6, b"".join(words))
                else:
                    addr = socket.inet_ntop(socket.AF_INET, raw[::-1])
                found.add((addr, port))
    return found


def user_ids(name):
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid


def group_id(name):
    return grp.getgrnam(name).gr_gid
