#!/usr/bin/env python3
# The MX listener's timing rules: early talkers (greeting_delay) and the
# command and data timeouts, with short values so the test stays quick.

import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, Server, IS_ROOT, hash_password
from smtpclient import Raw

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

srv = Server(accounts=[("alice@example.org", hash_password("Xy-12345678"))],
             extra="limits: {greeting_delay: 1s, command_timeout: 2s, "
                   "data_timeout: 2s}\n")
try:
    srv.start()
    MX = srv.port["mx"]

    c = Raw(MX)
    c.send("EHLO early.test\r\n")
    code, text = c.reply()
    t.is_(code, 554, "a client talking before the greeting gets 554")
    t.like(text, "5.5.0", "with 5.5.0")
    t.ok(c.closed(), "and is disconnected")

    c = Raw(MX)
    start = time.time()
    code, _ = c.reply()
    t.is_(code, 220, "a patient client gets the greeting")
    t.ok(time.time() - start >= 0.9, "after the delay")
    t.is_(c.cmd("EHLO patient.test")[0], 250, "and can talk")
    start = time.time()
    code, text = c.reply()
    t.is_(code, 421, "an idle session times out with 421")
    t.like(text, "4.4.2", "with 4.4.2")
    t.ok(1.5 <= time.time() - start < 6, "after the command timeout")
    t.ok(c.closed(), "and is closed")

    c = Raw(MX)
    c.reply()
    c.cmd("EHLO slow.test")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    t.is_(c.cmd("DATA")[0], 354, "DATA")
    c.send("Subject: never finished\r\n")
    code, _ = c.reply()
    t.is_(code, 421, "a stalled DATA times out with 421")
    c.close()
    time.sleep(0.5)
    t.is_(srv.proc.poll(), None, "posternd is still up")
    out = srv.ctl("queue", "list").stdout
    t.ok("never finished" not in out, "nothing was queued")
finally:
    srv.cleanup()

t.done()
