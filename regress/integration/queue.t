#!/usr/bin/env python3
# The queue and mda with the real daemon: recovery of a spool left by a
# crash (quarantine, orphans, recipients already done), delivery into
# Maildir exactly once, queue commands, temporary failures with flush,
# pause and resume, and kill -9 of the whole tree in the middle of a burst
# of concurrent SMTP sessions: every message that got a 250 is delivered.

import hashlib
import json
import os
import pwd
import re
import signal
import smtplib
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, Server, IS_ROOT, hash_password, kill_tree, \
    spool_names
from smtpclient import maildir_files, wait_maildir, wait_for, read

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

SEED_GOOD = "aaaaaaaaaaaaaaaa"
SEED_BAD = "bbbbbbbbbbbbbbbb"
SEED_NOMSG = "cccccccccccccccc"


def events(srv, name):
    return [e for e in srv.read_events() if e.get("event") == name]


def stats(srv):
    r = srv.ctl("--json", "queue", "stats")
    return json.loads(r.stdout) if r.returncode == 0 else {}


def msg(subject):
    return ("From: sender@remote.test\r\nTo: alice@example.org\r\n"
            "Subject: %s\r\n\r\nbody of %s\r\n" % (subject, subject))


def send(port, rcpt, subject):
    """(code, queue id) of one message sent with smtplib."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail("sender@remote.test")
        s.rcpt(rcpt)
        code, text = s.data(msg(subject))
    m = re.search(rb"queued as ([0-9a-f]{16})", text)
    return code, m.group(1).decode() if m else None


def seed_spool(state):
    """A spool as a crash may leave it, before the first start."""
    q = os.path.join(state, "queue")
    files = {
        "envelopes/" + SEED_GOOD:
            "postern-envelope 1\nmsgid %s\ncreated %d\nsize 40\n"
            "sender old@remote.test\nclient 192.0.2.1\nhelo x\n"
            "rcpt local done 1 0 alice@example.org alice@example.org -\n"
            "rcpt local pending 2 1900000000 bob@example.org "
            "bob@example.org 4.2.2%%20full\nend\n" % (SEED_GOOD,
                                                       int(time.time())),
        "messages/" + SEED_GOOD: "Subject: seeded\r\n\r\nseeded\r\n",
        "envelopes/" + SEED_BAD: "postern-envelope 1\nmsgid %s\ngarbage\n"
                                 % SEED_BAD,
        "messages/" + SEED_BAD: "Subject: bad\r\n\r\nbad\r\n",
        "envelopes/" + SEED_NOMSG: "whatever",
        "messages/dddddddddddddddd": "an orphan",
        "incoming/eeeeeeeeeeeeeeee": "half a message",
        "envelopes/ffffffffffffffff.tmp": "half an envelope",
    }
    uid, gid = pwd.getpwnam("postern-queue")[2:4]
    for d in ("", "incoming", "messages", "envelopes"):
        os.makedirs(os.path.join(q, d), exist_ok=True)
        os.chown(os.path.join(q, d), uid, gid)
    for name, text in files.items():
        path = os.path.join(q, name)
        with open(path, "w") as f:
            f.write(text)
        os.chown(path, uid, gid)



pw = hash_password("Correct-Horse-9")
srv = Server(listeners=[("mx", "smtp", "none")],
             accounts=[("alice@example.org", pw), ("bob@example.org", pw)],
             aliases={"team@example.org": ["alice@example.org",
                                           "carol@elsewhere.test"]},
             extra="queue: {retry: [1h], expire: 5d}\n"
                   "limits: {sessions_per_ip: 100}\n")
MX = srv.port["mx"]
Q = os.path.join(srv.state, "queue")
try:
    # recovery of a seeded spool
    seed_spool(srv.state)
    srv.start()
    t.ok(wait_for(lambda: len(maildir_files(srv.state,
                                            "bob@example.org")) == 1),
         "a recovered envelope's pending recipient is delivered at start")
    t.is_(maildir_files(srv.state, "alice@example.org"), [],
          "its recipient marked done is not delivered again")
    t.ok(wait_for(lambda: not os.path.exists(os.path.join(Q, "envelopes",
                                                      SEED_GOOD))),
         "and it leaves the queue")
    rec = events(srv, "queue.recover")
    t.is_(len(rec), 1, "queue.recover logged once")
    if rec:
        t.is_((rec[0]["messages"], rec[0]["corrupt"],
               rec[0]["orphans_removed"], rec[0]["incoming_removed"],
               rec[0]["tmp_removed"]), ("1", "2", "1", "1", "1"),
              "recovery counts: 1 loaded, 2 corrupt, 1 orphan, 1 incoming, "
              "1 tmp")
    t.is_(sorted(e["name"] for e in events(srv, "queue.corrupt")),
          [SEED_BAD, SEED_NOMSG], "queue.corrupt names both bad envelopes")
    t.is_(sorted(os.listdir(os.path.join(Q, "corrupt"))),
          [SEED_BAD + ".envelope", SEED_BAD + ".message",
           SEED_NOMSG + ".envelope"],
          "bad envelopes are quarantined in corrupt/, with their message")
    t.is_(spool_names(os.path.join(Q, "incoming")), [],
          "incoming/ emptied")
    t.ok(not os.path.exists(os.path.join(Q, "messages",
                                         "dddddddddddddddd")),
         "the orphan message is removed")
    for d in ("incoming", "messages", "envelopes", "corrupt"):
        st = os.stat(os.path.join(Q, d))
        t.is_(st.st_mode & 0o777, 0o700, "queue/%s is 0700" % d)

    # one message, delivered once
    code, qid = send(MX, "alice@example.org", "once")
    t.is_(code, 250, "smtplib: 250")
    t.ok(qid is not None, "the 250 names the queue id (%s)" % qid)
    files = wait_maildir(srv.state, "alice@example.org", 1)
    time.sleep(0.5)
    files = maildir_files(srv.state, "alice@example.org")
    t.is_(len(files), 1, "exactly one file in alice's new/")
    body = read(files[0]).decode(errors="replace") if files else ""
    t.like(body, "Return-Path: <sender@remote.test>\n", "Return-Path, LF")
    t.like(body, "Delivered-To: alice@example.org\n", "Delivered-To")
    t.like(body, "body of once", "the body")
    t.ok(wait_for(lambda: srv.ctl("queue", "list").stdout == ""),
         "queue list is empty afterwards")
    t.ok(any(e.get("msgid") == qid for e in events(srv, "delivery.ok")),
         "delivery.ok names the message")
    # the file goes after a barrier made the envelope's removal durable
    t.ok(wait_for(lambda: os.listdir(os.path.join(Q, "messages")) == [],
                  timeout=5), "messages/ is emptied")
    t.is_(spool_names(os.path.join(Q, "envelopes")), [], "envelopes/ empty")

    # a remote destination waits; show, JSON list, remove
    code, qid = send(MX, "team@example.org", "team")
    t.is_(code, 250, "alias with a remote target: 250")
    t.ok(wait_for(lambda: "carol@elsewhere.test:remote-waiting" in
              srv.ctl("queue", "list").stdout),
         "the remote target is listed as remote-waiting")
    wait_for(lambda: "state:    done" in
             srv.ctl("queue", "show", qid or "x").stdout)
    out = srv.ctl("queue", "show", qid or "x").stdout
    t.like(out, "state:    done", "queue show: the local target is done")
    t.like(out, "sender:     <sender@remote.test>", "queue show: sender")
    lst = json.loads(srv.ctl("--json", "queue", "list").stdout)
    t.is_([m["msgid"] for m in lst], [qid], "--json queue list")
    st = json.loads(srv.ctl("--json", "status").stdout).get("queue", {})
    t.is_((st.get("messages"), st.get("remote_waiting")), (1, 1),
          "posternctl status shows the queue's counts")
    r = srv.ctl("queue", "show", "0000000000000000")
    t.ok(r.returncode != 0 and "no message" in r.stderr,
         "queue show of an unknown id fails")
    t.ok(wait_for(lambda: any(e.get("command") ==
                              "queue show 0000000000000000"
                              and e.get("result") == "failed"
                              for e in events(srv, "control.command"))),
         "the audit trail records that it failed")
    r = srv.ctl("queue", "remove", qid or "x")
    t.is_(r.returncode, 0, "queue remove")
    t.ok(wait_for(lambda: spool_names(os.path.join(Q, "envelopes")) == []),
         "the removed message's envelope is gone")
    t.is_(srv.ctl("queue", "list").stdout, "", "and the list is empty")

    # temporary failure, pause, flush, resume
    tmp = os.path.join(srv.state, "mail", "example.org", "alice", "tmp")
    base = len(maildir_files(srv.state, "alice@example.org"))
    os.chmod(tmp, 0o500)
    code, qid = send(MX, "alice@example.org", "deferred")
    t.ok(wait_for(lambda: stats(srv).get("deferred") == 1),
         "an unwritable mailbox defers the delivery")
    t.ok(any(e.get("msgid") == qid for e in events(srv, "delivery.defer")),
         "delivery.defer logged")
    t.like(srv.ctl("queue", "list").stdout, "alice@example.org:deferred",
           "queue list shows it deferred")
    os.chmod(tmp, 0o700)
    srv.ctl("queue", "pause")
    srv.ctl("queue", "flush")
    time.sleep(1)
    t.is_(len(maildir_files(srv.state, "alice@example.org")), base,
          "paused: flush does not deliver")
    t.is_(stats(srv).get("paused"), True, "stats say paused")
    # smtp hashes the message as it writes it; the envelope's sum and
    # size must be the file's own, Received header included.
    code, sid = send(MX, "alice@example.org", "summed")
    env = read(os.path.join(Q, "envelopes", sid or "x")).decode()
    body = read(os.path.join(Q, "messages", sid or "x"))
    t.ok(re.search(r"^sum %s$" % hashlib.sha256(body).hexdigest(), env,
                   re.M) is not None, "the envelope's sum is the SHA-256 "
         "of messages/ID")
    t.ok(re.search(r"^size %d$" % len(body), env, re.M) is not None and
         body.startswith(b"Received: "), "and its size, Received included")
    # the same through BDAT, in two chunks
    with socket.create_connection(("127.0.0.1", MX), timeout=30) as sk:
        f = sk.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line
        reply()
        part = msg("summed-bdat").encode()
        for line in (b"EHLO client.test\r\n", b"MAIL FROM:<s@remote.test>\r\n",
                     b"RCPT TO:<alice@example.org>\r\n",
                     b"BDAT 30\r\n" + part[:30],
                     b"BDAT %d LAST\r\n" % (len(part) - 30) + part[30:]):
            sk.sendall(line)
            last = reply()
    m = re.search(rb"queued as ([0-9a-f]{16})", last)
    bid = m.group(1).decode() if m else "x"
    env = read(os.path.join(Q, "envelopes", bid)).decode()
    body = read(os.path.join(Q, "messages", bid))
    t.ok(b"summed-bdat" in body and re.search(
        r"^sum %s$" % hashlib.sha256(body).hexdigest(), env, re.M),
        "a BDAT message's sum is its file's SHA-256 too")
    srv.ctl("queue", "resume")
    t.ok(wait_for(lambda: len(maildir_files(srv.state,
                                            "alice@example.org")) == base + 3),
         "resumed: delivered")
    t.ok(wait_for(lambda: stats(srv).get("messages") == 0),
         "queue empty again")

    # kill -9 during a burst of 20 concurrent sessions
    accepted, lock = [], threading.Lock()
    stop = threading.Event()

    def sender(n):
        for i in range(25):
            if stop.is_set():
                return
            subject = "burst-%d-%d" % (n, i)
            try:
                code, _ = send(MX, "bob@example.org", subject)
            except (OSError, smtplib.SMTPException):
                return
            if code == 250:
                with lock:
                    accepted.append(subject)

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(20)]
    for th in threads:
        th.start()
    wait_for(lambda: len(accepted) >= 150, 60)
    kill_tree(srv)
    stop.set()
    for th in threads:
        th.join()
    t.ok(len(accepted) >= 150, "%d messages accepted before kill -9" %
         len(accepted))
    srv.start()
    t.ok(wait_for(lambda: stats(srv).get("messages") == 0, 60),
         "after the restart the queue drains")
    got = {}
    for f in maildir_files(srv.state, "bob@example.org"):
        m = re.search(rb"Subject: (burst-\d+-\d+)", read(f))
        if m:
            got[m.group(1).decode()] = got.get(m.group(1).decode(), 0) + 1
    lost = [s for s in accepted if s not in got]
    t.is_(lost, [], "every message that got a 250 was delivered")
    dups = sum(n - 1 for n in got.values())
    t.diag("%d accepted, %d delivered, %d duplicates" %
           (len(accepted), len(got), dups))
    t.ok(dups <= 8, "duplicates after the crash stay within the in-flight "
         "window (%d)" % dups)
finally:
    srv.cleanup()

t.done()
