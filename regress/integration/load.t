#!/usr/bin/env python3
# Load: 2,000 messages from 20 concurrent SMTP sessions (python smtplib,
# one session of 100 messages each, spread over 5 mailboxes), then every
# message is in its mailbox exactly once, byte for byte what was sent
# (after the trace headers, CRLF stored as LF, the ,S= size right),
# nothing else in new/, nothing in cur/ or tmp/, one delivery marker per
# message, and the queue and its spool are empty.  Prints the rates
# (accepted: until the last 250; delivered: until the last file is in
# new/) and the peak queue size as TAP diagnostics.  Then the same with
# queue.sync "files" (an fsync per file instead of a syncfs per batch),
# 500 messages from 10 sessions.

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, IS_ROOT, spool_names
from smtpclient import wait_for
import mailload

BOXES = 5

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

boxes = mailload.mailboxes(BOXES)


class Monitor(threading.Thread):
    """Polls the queue size and the delivered count while the load runs."""

    def __init__(self, srv, total):
        super().__init__(daemon=True)
        self.srv = srv
        self.total = total
        self.peak = 0
        self.last_delivery = None
        self.done = threading.Event()

    def run(self):
        seen = 0
        while not self.done.is_set():
            n = mailload.queue_messages(self.srv)
            if n is not None:
                self.peak = max(self.peak, n)
            d = mailload.count_new(self.srv.state, boxes)
            if d > seen:
                seen = d
                self.last_delivery = time.time()
            if seen >= self.total:
                return
            time.sleep(0.1)


def spool_files(srv):
    q = os.path.join(srv.state, "queue")
    return sorted(spool_names(os.path.join(q, "envelopes")) +
                  spool_names(os.path.join(q, "messages")) +
                  spool_names(os.path.join(q, "incoming")))


def run(sync, clients, per):
    total = clients * per
    srv = mailload.server(boxes, "queue: {sync: %s}\n" % sync)
    try:
        srv.start()
        t.like(srv.read_log(), "queue: sync %s" % sync,
               "%s: the queue syncs that way" % sync)
        load_run(srv, sync, clients, per, total)
    finally:
        srv.cleanup()


def load_run(srv, sync, clients, per, total):
    load = mailload.Load(srv.port["mx"], clients, per, BOXES,
                         tag="load-" + sync)
    mon = Monitor(srv, total)
    mon.start()
    load.start()
    finished = load.join(120)
    t.ok(finished, "%s: the %d clients finished" % (sync, clients))
    t.is_(load.errors, [], "%s: no client saw an error" % sync)
    t.is_(len(load.accepted), total, "%s: all %d messages got a 250" %
          (sync, total))
    drained = mailload.wait_drained(srv, 120)
    t.ok(drained, "%s: the queue drains" % sync)
    mon.done.set()
    mon.join(5)
    res = mailload.check_mailboxes(srv.state, boxes, load.accepted)
    t.is_(res["found"], total, "%s: %d files in the mailboxes' new/" %
          (sync, total))
    t.is_(res["missing"][:10], [], "%s: every message is delivered" % sync)
    t.is_(res["duplicates"][:10], [], "%s: none twice" % sync)
    t.is_(res["misplaced"][:10], [], "%s: each in its own mailbox" % sync)
    t.is_(res["corrupt"][:10], [], "%s: each byte for byte what was sent" %
          sync)
    t.is_(res["unknown"][:10], [], "%s: no other file in new/" % sync)
    t.is_(res["tmp"][:10], [], "%s: nothing left in tmp/" % sync)
    t.is_(res["cur"][:10], [], "%s: nothing in cur/" % sync)
    t.is_(len(mailload.markers(srv.state, boxes)), total,
          "%s: one delivery marker per message" % sync)
    # a delivered message's file goes after the next barrier (<= 1 s)
    wait_for(lambda: spool_files(srv) == [], timeout=10)
    t.is_(spool_files(srv), [], "%s: the spool is empty" % sync)
    ok_events = [e for e in srv.read_events()
                 if e.get("event") == "delivery.ok"]
    t.is_(len(ok_events), total, "%s: one delivery.ok event per message" %
          sync)
    if load.last_250 and mon.last_delivery:
        acc = load.last_250 - load.start_time
        dlv = mon.last_delivery - load.start_time
        t.diag("%s: accepted %d messages in %.1f s: %.0f msg/s" %
               (sync, total, acc, total / acc))
        t.diag("%s: delivered %d messages in %.1f s: %.0f msg/s" %
               (sync, total, dlv, total / dlv))
        t.diag("%s: peak queue size (polled every 0.1 s): %d messages" %
               (sync, mon.peak))


run("filesystem", 20, 100)
run("files", 10, 50)
t.done()
