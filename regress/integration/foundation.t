#!/usr/bin/env python3
# The process tree of DESIGN.md: every role confined as configured, exactly
# the configured listeners, supervision, signals, the control socket.

import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (TAP, Server, POSTERND, IS_ROOT, proc_status, tree_pids,
                     listening_sockets, user_ids, group_id)

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: chroot and user changes are what is tested")

ROLES = {"smtp": ("postern", "empty"), "mta": ("postern", "empty"),
         "queue": ("postern-queue", "queue"),
         "mda": ("postern-vmail", "mail"), "imap": ("postern-vmail", "mail"),
         "auth": ("postern-auth", "auth")}

srv = Server(listeners=[("mx", "smtp", "starttls"),
                        ("mx6", "smtp", "starttls", "::1"),
                        ("submission", "submission", "starttls"),
                        ("submissions", "submission", "implicit"),
                        ("imap", "imap", "starttls"),
                        ("imaps", "imap", "implicit")])
try:
    # -n: the config check
    r = subprocess.run([POSTERND, "-n", "-f", srv.conf], capture_output=True,
                       text=True)
    t.is_(r.returncode, 0, "posternd -n accepts the test config")
    t.is_(r.stdout.strip(), "configuration OK", "-n prints configuration OK")
    bad = os.path.join(srv.dir, "bad.yaml")
    with open(bad, "w") as f:
        f.write(srv.config_text().replace("hostname:", "hostnme:"))
    r = subprocess.run([POSTERND, "-n", "-f", bad], capture_output=True,
                       text=True)
    t.is_(r.returncode, 1, "posternd -n rejects an unknown key")
    t.like(r.stderr, bad + ":1:1:", "the error names file:line:column")

    srv.start()
    st = srv.status()
    t.is_(sorted(p["role"] for p in st["processes"]), sorted(ROLES),
          "status lists every role")
    t.is_(st["version"], "0.1.0", "status shows the version")
    children = {p["role"]: p["pid"] for p in st["processes"]}
    tree = tree_pids(srv.proc.pid)
    sanitizer_build = "runs without its seccomp filter" in srv.read_log()
    for role, (user, sub) in sorted(ROLES.items()):
        pid = children[role]
        t.ok(pid in tree, "%s (pid %d) is a child of posternd" % (role, pid))
        s = proc_status(pid)
        uid, gid = user_ids(user)
        t.is_(s["Uid"].split(), [str(uid)] * 4,
              "%s runs as %s (real, effective, saved, fs)" % (role, user))
        t.is_(s["Gid"].split(), [str(gid)] * 4, "%s has %s's gid" %
              (role, user))
        t.is_(s["Groups"].split(), [str(gid)], "%s has no extra groups" %
              role)
        t.is_(s["NoNewPrivs"], "1", "%s has NoNewPrivs" % role)
        # 2: a seccomp filter (sanitizer builds run without one and say
        # so in the log)
        want_sc = "0" if sanitizer_build else "2"
        t.is_(s["Seccomp"], want_sc, "%s: Seccomp %s" % (role, want_sc))
        t.is_(os.readlink("/proc/%d/root" % pid),
              os.path.join(srv.state, sub), "%s is chrooted in %s" %
              (role, sub))
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            title = f.read().replace(b"\0", b" ").decode()
        t.like(title, role, "%s has a process title naming it" % role)

    mode = {n: os.stat(os.path.join(srv.state, n)).st_mode & 0o777
            for n in ("queue", "auth", "mail", "empty")}
    t.is_(mode["queue"], 0o700, "queue/ is 0700")
    t.is_(mode["auth"], 0o700, "auth/ is 0700")
    t.is_(os.stat(os.path.join(srv.state, "auth")).st_uid,
          user_ids("postern-auth")[0], "auth/ belongs to postern-auth")
    t.is_(os.listdir(os.path.join(srv.state, "empty")), [],
          "the network roles' chroot is empty")

    want = {(l["address"], l["port"]) for l in srv.listeners}
    got = listening_sockets(tree_pids(srv.proc.pid))
    t.is_(got, want, "exactly the configured listeners are open")
    with socket.create_connection(("::1", srv.port["mx6"]), timeout=10) as c6:
        t.like(c6.recv(512).decode(errors="replace"), "220 ",
               "the IPv6 listener greets")

    # control socket: mode, group, roles
    sst = os.stat(srv.socket)
    t.is_(sst.st_mode & 0o777, 0o660, "control socket is 0660")
    t.is_(sst.st_gid, group_id("nogroup"), "control socket has the "
          "configured group")
    r = srv.ctl("status")
    t.is_(r.returncode, 0, "posternctl status works for root")
    t.like(r.stdout, "LISTENER", "human status lists listeners")
    t.like(r.stdout, "queue", "human status lists the queue process")
    nobody = user_ids("nobody")[0]
    r = srv.ctl("status", uid=nobody, gid=group_id("nogroup"))
    t.ok(r.returncode != 0, "status is refused for an unmapped uid")
    t.like(r.stderr, "permission denied", "the refusal says permission "
           "denied")
    time.sleep(0.2)
    ev = [e for e in srv.read_events() if e["event"] == "control.denied"]
    t.ok(len(ev) == 1 and ev[0].get("uid") == str(nobody),
         "control.denied event names the uid")
    ev = [e for e in srv.read_events() if e["event"] == "control.command"]
    t.ok(any(e.get("command") == "status" and e.get("uid") == "0"
             for e in ev), "control.command event for root's status")
    r = srv.ctl("frobnicate")
    t.ok(r.returncode != 0 and "unknown command" in r.stderr,
         "an unknown command is refused")

    # a raw client sending junk on the control socket must not hurt
    import socket as so
    c = so.socket(so.AF_UNIX, so.SOCK_STREAM)
    c.connect(srv.socket)
    c.sendall(b"\xff" * 64 + b"GET / HTTP/1.0\r\n\r\n")
    c.settimeout(5)
    try:
        data = c.recv(100)
    except OSError:
        data = b""
    c.close()
    t.is_(data, b"", "junk on the control socket closes that connection")
    t.is_(srv.ctl("status").returncode, 0, "the daemon still answers")

    # SIGHUP with a broken config keeps the running one
    good = srv.config_text()
    srv.write_config(good + "bogus_key: 1\n")
    os.kill(srv.proc.pid, signal.SIGHUP)
    t.ok(srv.wait_log("reload failed"), "a broken config is reported on "
         "SIGHUP")
    t.is_(srv.proc.poll(), None, "posternd stays up after a broken reload")
    t.is_(srv.ctl("status").returncode, 0, "and keeps answering")
    t.is_(listening_sockets(tree_pids(srv.proc.pid)), want,
          "with the same listeners")
    srv.write_config(good)
    os.kill(srv.proc.pid, signal.SIGHUP)
    t.ok(srv.wait_log("configuration reloaded"), "a good config reloads")
    t.is_(sorted(p["role"] for p in srv.status()["processes"]),
          sorted(ROLES), "every role still runs after the reload")

    # SIGTERM: exit 0 within 5 s, no process left
    tree = tree_pids(srv.proc.pid)
    start = time.time()
    srv.proc.send_signal(signal.SIGTERM)
    try:
        code = srv.proc.wait(5)
    except subprocess.TimeoutExpired:
        code = None
    t.is_(code, 0, "SIGTERM: posternd exits 0")
    t.ok(time.time() - start < 5, "within 5 seconds (%.2fs)" %
         (time.time() - start))
    time.sleep(0.2)
    alive = [p for p in tree if os.path.exists("/proc/%d" % p) and
             proc_status(p).get("State", "").split()[0] != "Z"]
    t.is_(alive, [], "no process of the tree is left")
    t.ok(not os.path.exists(srv.socket), "the control socket is removed")

    # a dying child brings the daemon down, naming it
    srv.start()
    victim = {p["role"]: p["pid"] for p in srv.status()["processes"]}["queue"]
    os.kill(victim, signal.SIGKILL)
    try:
        code = srv.proc.wait(10)
    except subprocess.TimeoutExpired:
        code = None
    t.ok(code not in (None, 0), "killing the queue process stops posternd "
         "with a failure status (%r)" % code)
    t.like(srv.read_log(), "queue process (pid %d) was killed by signal 9"
           % victim, "the log names the dead child")
finally:
    srv.cleanup()

t.done()
