#!/usr/bin/env python3
# Load: 2,000 messages from 20 concurrent SMTP sessions (python smtplib,
# one session of 100 messages each, spread over 5 mailboxes), then every
# message is in its mailbox exactly once, byte for byte what was sent
# (after the trace headers, CRLF stored as LF, the ,S= size right),
# nothing else in new/, nothing in cur/ or tmp/, one delivery marker per
# message, and the queue and its spool are empty.  Prints the rates
# (accepted: until the last 250; delivered: until the last file is in
# new/) and the peak queue size as TAP diagnostics.

import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, IS_ROOT
import mailload

CLIENTS, PER, BOXES = 20, 100, 5
TOTAL = CLIENTS * PER

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

boxes = mailload.mailboxes(BOXES)
srv = mailload.server(boxes)


class Monitor(threading.Thread):
    """Polls the queue size and the delivered count while the load runs."""

    def __init__(self):
        super().__init__(daemon=True)
        self.peak = 0
        self.last_delivery = None
        self.done = threading.Event()

    def run(self):
        seen = 0
        while not self.done.is_set():
            n = mailload.queue_messages(srv)
            if n is not None:
                self.peak = max(self.peak, n)
            d = mailload.count_new(srv.state, boxes)
            if d > seen:
                seen = d
                self.last_delivery = time.time()
            if seen >= TOTAL:
                return
            time.sleep(0.1)


try:
    srv.start()
    load = mailload.Load(srv.port["mx"], CLIENTS, PER, BOXES, tag="load")
    mon = Monitor()
    mon.start()
    load.start()
    finished = load.join(120)
    t.ok(finished, "the 20 clients finished")
    t.is_(load.errors, [], "no client saw an error")
    t.is_(len(load.accepted), TOTAL, "all %d messages got a 250" % TOTAL)
    drained = mailload.wait_drained(srv, 120)
    t.ok(drained, "the queue drains")
    mon.done.set()
    mon.join(5)
    res = mailload.check_mailboxes(srv.state, boxes, load.accepted)
    t.is_(res["found"], TOTAL, "%d files in the mailboxes' new/" % TOTAL)
    t.is_(res["missing"][:10], [], "every message is delivered")
    t.is_(res["duplicates"][:10], [], "none twice")
    t.is_(res["misplaced"][:10], [], "each in its own mailbox")
    t.is_(res["corrupt"][:10], [], "each byte for byte what was sent")
    t.is_(res["unknown"][:10], [], "no other file in new/")
    t.is_(res["tmp"][:10], [], "nothing left in tmp/")
    t.is_(res["cur"][:10], [], "nothing in cur/")
    t.is_(len(mailload.markers(srv.state, boxes)), TOTAL,
          "one delivery marker per message")
    q = os.path.join(srv.state, "queue")
    t.is_(sorted(os.listdir(os.path.join(q, "envelopes")) +
                 os.listdir(os.path.join(q, "messages")) +
                 os.listdir(os.path.join(q, "incoming"))), [],
          "the spool is empty")
    ok_events = [e for e in srv.read_events()
                 if e.get("event") == "delivery.ok"]
    t.is_(len(ok_events), TOTAL, "one delivery.ok event per message")
    if load.last_250 and mon.last_delivery:
        acc = load.last_250 - load.start_time
        dlv = mon.last_delivery - load.start_time
        t.diag("accepted %d messages in %.1f s: %.0f msg/s" %
               (TOTAL, acc, TOTAL / acc))
        t.diag("delivered %d messages in %.1f s: %.0f msg/s" %
               (TOTAL, dlv, TOTAL / dlv))
        t.diag("peak queue size (polled every 0.1 s): %d messages" %
               mon.peak)
finally:
    srv.cleanup()

t.done()
