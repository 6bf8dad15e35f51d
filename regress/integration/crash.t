#!/usr/bin/env python3
# Crash: kill -9 of the whole process tree (parent and every child, at
# once) during a mail load, then a restart on the same state dir.  After
# the queue drains: every message that got a 250 is in its mailbox, none
# is there twice, none is truncated or altered (checked byte for byte),
# a message that did not get a 250 is there at most once and intact,
# tmp/ is empty, and there is one delivery marker per delivered file.
#
# First, the states a crash can leave inside a mailbox are seeded by hand
# (lib/maildir.c has the table) with the queue's envelopes that still
# call for those deliveries; the restart must finish each exactly once
# (and sweep a marker 40 days old).
# Then four loads of 20 concurrent sessions, killed at different moments:
# after ~10% and ~90% of the 250s of a 500-message load, after ~50% of
# the 250s of a 2,000-message load (20 sessions of 100), and during
# delivery once all 500 messages of a load got their 250 (delivery
# paused while they come in, resumed, killed when about a third is in
# the mailboxes).  One server and one state dir for all of it: each
# restart also recovers what the earlier ones left.
#
# kill -9 leaves the page cache intact, so this tests what the processes
# do at every step, not the fsync ordering against a power cut.

import hashlib
import os
import pwd
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, IS_ROOT, kill_tree
from smtpclient import wait_for
import mailload

BOXES = 5
HOST = "mx.example.org"
MARKS = "postern-delivered"

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

boxes = mailload.mailboxes(BOXES)
srv = mailload.server(boxes, "queue: {retry: [1s], expire: 5d}\n")
began = time.time()


def recognised():
    return srv.read_log().count("delivered before, not again")


# The seeded crash states.  Each id is a queue msgid with recipient 0.
SEEDS = {
    # marker, file moved to cur/ by the user: not again
    "1111111111111111": "moved",
    # marker, file deleted by the user: not again
    "5555555555555555": "deleted",
    # published (tmp linked into new/), marker not yet made
    "2222222222222222": "published",
    # committed (marker), not yet linked into new/
    "3333333333333333": "committed",
    # half-written tmp file, no marker
    "4444444444444444": "half",
}
SEED_BOX = "box0@example.org"


def chown_vmail(path):
    uid, gid = pwd.getpwnam("postern-vmail")[2:4]
    os.chown(path, uid, gid)


def seed_queue(msgid):
    q = os.path.join(srv.state, "queue")
    uid, gid = pwd.getpwnam("postern-queue")[2:4]
    for d in ("", "incoming", "messages", "envelopes"):
        p = os.path.join(q, d)
        os.makedirs(p, mode=0o700, exist_ok=True)
        os.chown(p, uid, gid)
    body = "Subject: seed %s\r\n\r\nbody of %s\r\n" % (msgid, msgid)
    env = ("postern-envelope 1\nmsgid %s\ncreated %d\nsize %d\n"
           "sender seed@remote.test\nclient 192.0.2.1\nhelo x\n"
           "rcpt local pending 1 0 %s %s -\nend\n" %
           (msgid, int(time.time()), len(body), SEED_BOX, SEED_BOX))
    for sub, text in (("messages", body), ("envelopes", env)):
        p = os.path.join(q, sub, msgid)
        with open(p, "w") as f:
            f.write(text)
        os.chown(p, uid, gid)


TORN = "6666666666666666"


def seed_torn():
    """A commit cut short by a power loss: its version 3 envelope names
    the sum of the whole message, the file holds something else of the
    same size.  Nobody got a 250 for it; it must never be delivered."""
    q = os.path.join(srv.state, "queue")
    uid, gid = pwd.getpwnam("postern-queue")[2:4]
    body = "Subject: seed %s\r\n\r\nbody of %s\r\n" % (TORN, TORN)
    torn = body[:20] + "\0" * (len(body) - 20)
    env = ("postern-envelope 3\nmsgid %s\ncreated %d\nsize %d\nsum %s\n"
           "sender seed@remote.test\nclient 192.0.2.1\nhelo x\n"
           "dsn message - -\n"
           "rcpt local pending 0 0 %s %s - 0 -\nend\n" %
           (TORN, int(time.time()), len(body),
            hashlib.sha256(body.encode()).hexdigest(), SEED_BOX, SEED_BOX))
    for sub, text in (("messages", torn), ("envelopes", env)):
        p = os.path.join(q, sub, TORN)
        with open(p, "w") as f:
            f.write(text)
        os.chown(p, uid, gid)


def recover_events():
    return [e for e in srv.read_events() if e.get("event") == "queue.recover"]


def seed_mailbox():
    d = mailload.box_dir(srv.state, SEED_BOX)
    for p in (os.path.dirname(os.path.dirname(d)), os.path.dirname(d), d,
              os.path.join(d, "tmp"), os.path.join(d, "new"),
              os.path.join(d, "cur"), os.path.join(d, MARKS)):
        os.makedirs(p, mode=0o700, exist_ok=True)
        chown_vmail(p)

    def write(path, text):
        with open(path, "w") as f:
            f.write(text)
        chown_vmail(path)

    for msgid, state in SEEDS.items():
        ident = msgid + "_0"
        tmp = os.path.join(d, "tmp", "%s.%s" % (ident, HOST))
        mark = os.path.join(d, MARKS, ident)
        text = "Subject: seed %s\n\n%s copy\n" % (msgid, state)
        name = "1000.M1P1Q1_%s.%s,S=%d" % (ident, HOST, len(text))
        if state == "moved":
            write(os.path.join(d, "cur", name + ":2,S"), text)
            write(mark, "")
        elif state == "deleted":
            write(mark, "")
        elif state == "published":
            write(tmp, text)
            os.link(tmp, os.path.join(d, "new", name))
        elif state == "committed":
            write(tmp, text)
            write(mark, "")
        elif state == "half":
            write(tmp, "Return-Path: <seed@remote.test>\nDeliv")
        seed_queue(msgid)
    # a marker from long ago, for the sweep
    old = os.path.join(d, MARKS, "ffffffffffffffff_0")
    write(old, "")
    when = time.time() - 40 * 24 * 3600
    os.utime(old, (when, when))


def seeded_files():
    """msgid -> list of (place, content) of the seeded box's files."""
    d = mailload.box_dir(srv.state, SEED_BOX)
    out = {m: [] for m in SEEDS}
    for sub in ("new", "cur"):
        for name in os.listdir(os.path.join(d, sub)):
            for m in SEEDS:
                if m in name:
                    with open(os.path.join(d, sub, name)) as f:
                        out[m].append((sub, f.read()))
    return out


def check(expect, maybe, what):
    res = mailload.check_mailboxes(srv.state, boxes, expect, maybe,
                                   lambda n: any(m in n for m in SEEDS))
    t.is_(res["missing"][:10], [],
          "%s: every message that got a 250 is delivered" % what)
    t.is_(res["duplicates"][:10], [], "%s: none twice" % what)
    t.is_(res["corrupt"][:10], [], "%s: none truncated or altered" % what)
    t.is_(res["misplaced"][:10] + res["unknown"][:10], [],
          "%s: nothing misplaced or unknown" % what)
    t.is_(res["tmp"][:10], [], "%s: tmp/ is empty" % what)
    # the seeded box also holds the seeds' markers
    marks = len(mailload.markers(srv.state, boxes))
    t.is_(marks - len(SEEDS), res["found"],
          "%s: one marker per delivered file" % what)
    return res


def run(what, clients, per, kill_at=None, in_delivery=False):
    """One load killed at kill_at (a fraction of the 250s), or during
    delivery; then restart and drain."""
    start = time.time()
    load = mailload.Load(srv.port["mx"], clients, per, BOXES,
                         tag="c%d" % run.n)
    run.n += 1
    total = clients * per
    if in_delivery:
        srv.ctl("queue", "pause")
    before = mailload.count_new(srv.state, boxes)
    load.start()
    if in_delivery:
        load.join(90)
        t.is_(len(load.accepted), total, "%s: all %d got a 250" %
              (what, total))
        srv.ctl("queue", "resume")
        target = before + total // 3
        deadline = time.time() + 60
        while (mailload.count_new(srv.state, boxes) < target and
               time.time() < deadline):
            time.sleep(0.005)
    else:
        while load.n_accepted() < total * kill_at:
            if not any(th.is_alive() for th in load.threads):
                break
            time.sleep(0.002)
    n = kill_tree(srv)
    load.join(60)
    in_new = mailload.count_new(srv.state, boxes) - before
    t.ok(n >= 7, "%s: kill -9 of %d processes with %d of %d accepted, "
         "%d delivered" % (what, n, len(load.accepted), total, in_new))
    if not in_delivery:
        t.ok(0 < len(load.accepted) < total,
             "%s: the kill came in the middle of the load" % what)
    else:
        t.ok(0 < in_new < total, "%s: the kill came in the middle of "
             "delivery" % what)
    srv.start()
    t.ok(mailload.wait_drained(srv, 90), "%s: after the restart the queue "
         "drains" % what)
    with_250.update(load.accepted)
    for tok, box in load.sent.items():
        if tok not in load.accepted:
            without_250[tok] = box
    check(with_250, without_250, what)
    t.diag("%s: %.1f s" % (what, time.time() - start))


run.n = 0
with_250, without_250 = {}, {}
try:
    seed_mailbox()
    seed_torn()
    srv.start()
    t.ok(mailload.wait_drained(srv, 30), "seeded: the queue drains")
    rec = recover_events()
    t.ok(len(rec) == 1 and rec[0].get("clean") == "no" and
         str(rec[0].get("verified")) == "1",
         "first start: unclean, the one version 3 envelope's sum checked")
    t.ok(os.path.exists(os.path.join(srv.state, "queue", "corrupt",
                                     TORN + ".message")),
         "a torn commit is quarantined")
    t.ok(not any(TORN in c for f in seeded_files().values()
                 for _, c in f), "and never delivered")
    files = seeded_files()
    t.is_(files["1111111111111111"],
          [("cur", "Subject: seed 1111111111111111\n\nmoved copy\n")],
          "marker, message moved to cur/: not delivered again")
    t.is_(files["5555555555555555"], [],
          "marker, message deleted: not delivered again")
    t.is_(files["2222222222222222"],
          [("new", "Subject: seed 2222222222222222\n\npublished copy\n")],
          "in new/, no marker yet: not delivered again")
    t.is_(files["3333333333333333"],
          [("new", "Subject: seed 3333333333333333\n\ncommitted copy\n")],
          "marker, not in new/ yet: the committed file is published")
    half = files["4444444444444444"]
    t.ok(len(half) == 1 and half[0][0] == "new" and
         half[0][1].startswith("Return-Path: <seed@remote.test>\n"
                               "Delivered-To: box0@example.org\n") and
         half[0][1].endswith("\nbody of 4444444444444444\n"),
         "half-written tmp file, no marker: written again, whole")
    t.is_(mailload.markers(srv.state, [SEED_BOX]),
          sorted(m + "_0" for m in SEEDS),
          "a marker for each, and the 40-day-old one is swept")
    t.is_(os.listdir(os.path.join(mailload.box_dir(srv.state, SEED_BOX),
                                  "tmp")), [], "seeded: tmp/ is empty")
    t.is_(recognised(), 3, "mda logged 3 deliveries it had made before")

    run("kill at 10%", 20, 25, kill_at=0.10)
    run("2,000 messages, kill at 50%", 20, 100, kill_at=0.50)
    run("kill at 90%", 20, 25, kill_at=0.90)
    run("kill in delivery", 20, 25, in_delivery=True)
    t.diag("%d messages got a 250, %d were cut off; mda recognised %d "
           "redeliveries after the restarts" %
           (len(with_250), len(without_250), recognised() - 3))
    srv.stop()
    srv.start()
    # "ready" may be logged before the queue's recovery event is written
    wait_for(lambda: len(recover_events()) == 6, timeout=10)
    rec = recover_events()
    t.is_([e.get("clean") for e in rec], ["no"] * 5 + ["yes"],
          "each start after a kill -9 was unclean, the one after a "
          "clean stop clean")
    t.ok(sum(int(e.get("verified", 0)) for e in rec[1:5]) > 0,
         "after the kills the sums were checked")
    t.is_(str(rec[-1].get("verified")), "0",
          "after a clean stop no sum is read")
    t.diag("%.0f s in all" % (time.time() - began))
finally:
    srv.cleanup()

t.done()
