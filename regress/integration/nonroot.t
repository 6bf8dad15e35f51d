#!/usr/bin/env python3
# posternd started by an ordinary user: a loud warning, every role runs
# unconfined as that user, and mail still flows (the development mode).

import os
import pwd
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (TAP, Server, IS_ROOT, POSTERND, POSTERNCTL,
                     proc_status, tree_pids, hash_password)
from smtpclient import wait_maildir

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root to become another user")

user = pwd.getpwnam("nobody")


def as_nobody():
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


srv = Server(listeners=[("mx", "smtp", "starttls")],
             accounts=[("alice@example.org",
                        hash_password("Correct-Horse-9"))],
             roles={"admin": {"users": ["nobody"]}})
for root, dirs, files in os.walk(srv.dir):
    for n in dirs + files:
        os.chown(os.path.join(root, n), user.pw_uid, user.pw_gid)
os.chown(srv.dir, user.pw_uid, user.pw_gid)
try:
    srv.log = open(srv.logfile, "ab")
    srv.proc = subprocess.Popen([POSTERND, "-d", "-f", srv.conf],
                                stdout=srv.log, stderr=srv.log,
                                preexec_fn=as_nobody)
    srv.wait_ready()
    log = srv.read_log()
    t.like(log, "WARNING: posternd is not running as root",
           "the parent warns that it runs unconfined")
    t.like(log, "smtp runs without chroot", "and so does each role")
    pids = tree_pids(srv.proc.pid)
    t.is_(len(pids), 7, "the whole process tree runs")
    t.ok(all(proc_status(p)["Uid"].split()[0] == str(user.pw_uid)
             for p in pids), "every process runs as the calling user")
    r = subprocess.run([POSTERNCTL, "-s", srv.socket, "status"],
                       capture_output=True, text=True, preexec_fn=as_nobody,
                       timeout=30)
    t.is_(r.returncode, 0, "posternctl status works for that user")
    with smtplib.SMTP("127.0.0.1", srv.port["mx"], timeout=30) as s:
        s.sendmail("x@remote.test", ["alice@example.org"],
                   "Subject: unconfined\r\n\r\nhello\r\n")
    t.is_(len(wait_maildir(srv.state, "alice@example.org", 1)), 1,
          "a message is delivered")
finally:
    srv.cleanup()
t.done()
