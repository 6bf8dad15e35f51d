#!/usr/bin/env python3
# Delivery status notifications with the real daemon: a permanent failure
# (a mailbox that is a plain file) and an expiry (tmp/ not writable, a
# tiny queue.expire) make one multipart/report DSN to a local sender,
# read back from her Maildir with python's email module; several failed
# recipients of one message share one DSN; a null sender gets none; a
# remote sender's DSN waits as remote-waiting; an unknown local sender's
# is dropped.  Envelopes left in the state "bounce" by a crash get their
# DSN after the restart, with RET=FULL, ENVID and ORCPT honoured, and
# NOTIFY=NEVER honoured too.  The same RFC 3461 parameters given by a
# real client (smtplib's MAIL and RCPT options) end up in the DSN, are
# forgotten at RSET and after a message, survive a restart while the
# message is queued, and each malformed value is refused with 501.
#
# Success and delay DSNs (RFC 3461 5.2.2, 6.2): NOTIFY=SUCCESS gets an
# "Action: delivered" DSN once the message is in the mailbox, one for
# recipients delivered together, the header only even for RET=FULL
# (RFC 3461 4.3); none without SUCCESS or for the null sender.  A
# delivered recipient whose DSN a crash prevented (seeded: envelope
# still pending, the mailbox's delivery marker there; and a real kill -9
# right after a delivery) gets it after the restart, without a second
# copy.  With queue.delay_warning 2s, a recipient still deferred gets one
# "Action: delayed" DSN when NOTIFY has DELAY or was not given, then the
# failed one at expiry as NOTIFY says.

import email
import email.policy
import json
import os
import pwd
import smtplib
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, Server, IS_ROOT, hash_password, kill_tree
from smtpclient import maildir_files, wait_maildir, wait_for, read

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

SEED_FULL = "aaaaaaaaaaaaaaaa"
SEED_NEVER = "bbbbbbbbbbbbbbbb"
SEED_DONE = "cccccccccccccccc"


def logged(name, key, value):
    """The events name whose key is value."""
    return [e for e in srv.read_events()
            if e.get("event") == name and e.get(key) == value]


def gone(qid):
    """Waits until message qid has left the queue."""
    return wait_for(lambda: not os.path.exists(os.path.join(Q, "envelopes",
                                                        qid)))


def send(port, sender, rcpts, subject):
    """The queue id of one message, or None."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as s:
        s.ehlo("client.test")
        s.mail(sender)
        for r in rcpts:
            code, _ = s.rcpt(r)
            assert code == 250, (r, code)
        code, text = s.data("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\n"
                            "Message-ID: <%s@client.test>\r\n\r\n"
                            "body of %s\r\n"
                            % (sender or "mailer-daemon@client.test",
                               rcpts[0], subject, subject, subject))
    assert code == 250, text
    return text.split()[-1].decode()


def seed(state):
    """Envelopes a crash left with a DSN owed, before the first start."""
    q = os.path.join(state, "queue")
    now = int(time.time())
    files = {
        "envelopes/" + SEED_FULL:
            "postern-envelope 2\nmsgid %s\ncreated %d\nsize 60\n"
            "sender alice@example.org\nclient 192.0.2.1\nhelo x\n"
            "dsn message full ENV-42\n"
            "rcpt local bounce 1 0 bob@example.org Bob@example.org "
            "5.2.0%%20seeded%%20failure 2 rfc822;Bob@example.org\n"
            "end\n" % (SEED_FULL, now),
        "messages/" + SEED_FULL:
            "Subject: seeded full\r\n\r\nthe seeded body\r\n",
        "envelopes/" + SEED_NEVER:
            "postern-envelope 2\nmsgid %s\ncreated %d\nsize 40\n"
            "sender alice@example.org\nclient 192.0.2.1\nhelo x\n"
            "dsn message - -\n"
            "rcpt local bounce 1 0 bob@example.org bob@example.org "
            "5.2.0%%20never 8 -\nend\n" % (SEED_NEVER, now),
        "messages/" + SEED_NEVER: "Subject: never\r\n\r\nnever\r\n",
    }
    uid, gid = pwd.getpwnam("postern-queue")[2:4]
    for d in ("", "incoming", "messages", "envelopes", "corrupt"):
        os.makedirs(os.path.join(q, d), mode=0o700, exist_ok=True)
        os.chown(os.path.join(q, d), uid, gid)
    for name, text in files.items():
        with open(os.path.join(q, name), "w") as f:
            f.write(text)
        os.chown(os.path.join(q, name), uid, gid)
    seed_delivered(state, now)


def seed_delivered(state, now):
    """A crash between grace's delivery and the commit of its success
    DSN: the envelope still says pending, grace's Maildir has the message
    and the delivery marker (lib/maildir.c) of recipient 0."""
    q = os.path.join(state, "queue")
    body = "Subject: seeded success\r\n\r\nthe delivered body\r\n"
    env = ("postern-envelope 2\nmsgid %s\ncreated %d\nsize %d\n"
           "sender alice@example.org\nclient 192.0.2.1\nhelo x\n"
           "dsn message full DONE-7\n"
           "rcpt local pending 1 0 grace@example.org grace@example.org - 1 "
           "rfc822;Grace@example.org\nend\n" % (SEED_DONE, now, len(body)))
    uid, gid = pwd.getpwnam("postern-queue")[2:4]
    for sub, text in (("messages", body), ("envelopes", env)):
        with open(os.path.join(q, sub, SEED_DONE), "w") as f:
            f.write(text)
        os.chown(os.path.join(q, sub, SEED_DONE), uid, gid)
    uid, gid = pwd.getpwnam("postern-vmail")[2:4]
    box = os.path.join(state, "mail", "example.org", "grace")
    for d in ("..", ".", "tmp", "new", "cur", "postern-delivered"):
        p = os.path.normpath(os.path.join(box, d))
        os.makedirs(p, mode=0o700, exist_ok=True)
        os.chown(p, uid, gid)
    ident = SEED_DONE + "_0"
    text = "Subject: seeded success\n\nthe delivered body\n"
    for p, c in ((os.path.join(box, "postern-delivered", ident), ""),
                 (os.path.join(box, "new", "1000.M1P1Q1_%s.mx.example.org,"
                               "S=%d" % (ident, len(text))), text)):
        with open(p, "w") as f:
            f.write(c)
        os.chown(p, uid, gid)


def all_dsns(state):
    """alice's DSNs: [(original queue id, parsed message)]."""
    out = []
    for path in maildir_files(state, "alice@example.org"):
        msg = email.message_from_bytes(read(path), policy=email.policy.compat32)
        if msg.get_content_type() != "multipart/report":
            continue
        parts = msg.get_payload()
        if len(parts) < 2:
            continue
        status = parts[1].get_payload()
        if not status:
            continue
        out.append((status[0].get("X-Postern-Queue-ID"), msg))
    return out


def dsns(state, action="failed"):
    """alice's DSNs that report a recipient as action: {queue id: msg}."""
    return {q: m for q, m in all_dsns(state)
            if action in [r.get("Action") for r in recipients(m)]}


def report(qid, action="failed"):
    """alice's DSN for qid that reports action, and its recipient blocks:
    (None, []) if there is none."""
    m = dsns(srv.state, action).get(qid)
    return m, recipients(m) if m is not None else []


def dsn_count(qid, action):
    """How many of alice's DSNs for qid report a recipient as action."""
    return len([m for q, m in all_dsns(srv.state) if q == qid and
                action in [r.get("Action") for r in recipients(m)]])


def recipients(msg):
    """The per-recipient blocks of a DSN's message/delivery-status."""
    return msg.get_payload()[1].get_payload()[1:]


def transaction(c, mail_opts, rcpts, subject):
    """One message from alice on the open smtplib session c, with RFC
    3461 options; rcpts is [(address, options)].  Its queue id."""
    code, text = c.mail("alice@example.org", mail_opts)
    assert code == 250, (mail_opts, code, text)
    for r, opts in rcpts:
        code, text = c.rcpt(r, opts)
        assert code == 250, (r, opts, code, text)
    code, text = c.data("From: <alice@example.org>\r\nSubject: %s\r\n\r\n"
                        "body of %s\r\n" % (subject, subject))
    assert code == 250, text
    return text.split()[-1].decode()


def envelope(qid):
    """The dsn record's fields and each rcpt's (notify, orcpt)."""
    with open(os.path.join(Q, "envelopes", qid)) as f:
        lines = [l.split() for l in f.read().splitlines()]
    dsn = [l[1:] for l in lines if l[0] == "dsn"]
    return dsn[0] if dsn else None, [tuple(l[8:]) for l in lines
                                     if l[0] == "rcpt"]


def refused(cmd, arg, opts):
    """The reply to one MAIL (after none) or RCPT (after a good MAIL)
    with opts, each on its own session."""
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        if cmd == "rcpt":
            c.mail("alice@example.org")
            return c.rcpt(arg, opts)
        return c.mail(arg, opts)


pw = hash_password("Correct-Horse-9")
users = ["alice", "bob", "carol", "dave", "erin", "frank", "grace"]
srv = Server(listeners=[("mx", "smtp", "none")],
             accounts=[("%s@example.org" % u, pw) for u in users],
             extra="queue: {retry: [1s], expire: 10s, "
                   "delay_warning: 2s}\n"
                   "limits: {sessions_per_ip: 100}\n")
MX = srv.port["mx"]
Q = os.path.join(srv.state, "queue")
MAIL = os.path.join(srv.state, "mail", "example.org")
started = time.time()
try:
    seed(srv.state)
    srv.start()

    # recovery: the DSN owed before the "crash" is made, with RET=FULL
    t.ok(wait_for(lambda: SEED_FULL in dsns(srv.state)),
         "a DSN owed at the restart arrives in the sender's Maildir")
    m = dsns(srv.state).get(SEED_FULL)
    if m is not None:
        parts = m.get_payload()
        t.is_(parts[2].get_content_type(), "message/rfc822",
              "RET=FULL: the original comes back whole")
        t.like(parts[2].as_string(), "the seeded body",
               "with its body")
        st = parts[1].get_payload()
        t.is_(st[0].get("Original-Envelope-Id"), "ENV-42",
              "ENVID comes back as Original-Envelope-Id")
        t.is_(st[1].get("Original-Recipient"), "rfc822;Bob@example.org",
              "ORCPT comes back as Original-Recipient")
        t.is_(st[1].get("Status"), "5.2.0", "the seeded status")
    else:
        for _ in range(5):
            t.ok(False, "the recovered DSN")
    t.ok(gone(SEED_NEVER),
         "NOTIFY=NEVER: the failed message leaves the queue")
    t.ok(SEED_NEVER not in [q for q, _ in all_dsns(srv.state)] and
         not logged("dsn.created", "orig_msgid", SEED_NEVER),
         "and no DSN is made for it")
    t.ok(srv.wait_log("no DSN for bob@example.org: NOTIFY leaves out"),
         "which is logged")
    t.ok(wait_for(lambda: SEED_DONE in dsns(srv.state, "delivered")),
         "delivered, its DSN not committed before the crash: the DSN "
         "comes after the restart")
    t.ok(srv.wait_log("delivered before, not again"),
         "mda knew the recipient as delivered")
    t.is_(len(maildir_files(srv.state, "grace@example.org")), 1,
          "and grace has no second copy")
    m, rc = report(SEED_DONE, "delivered")
    t.is_([(r.get("Final-Recipient"), r.get("Original-Recipient"),
            r.get("Status")) for r in rc],
          [("rfc822; grace@example.org", "rfc822;Grace@example.org",
            "2.0.0")], "the seeded recipient, with ORCPT, Status 2.0.0")
    t.ok(m is not None and
         m.get_payload()[2].get_content_type() == "text/rfc822-headers" and
         "the delivered body" not in m.get_payload()[2].get_payload(),
         "RET=FULL without a failure: the header only (RFC 3461 4.3)")
    t.ok(gone(SEED_DONE), "then the message leaves the queue")

    # mailboxes: dave and erin exist; bob and carol are plain files
    send(MX, "dave@example.org", ["dave@example.org", "erin@example.org",
                                  "frank@example.org"], "warm-up")
    wait_maildir(srv.state, "frank@example.org", 1)
    wait_maildir(srv.state, "erin@example.org", 1)
    t.ok(len(maildir_files(srv.state, "dave@example.org")) == 1 and
         len(maildir_files(srv.state, "erin@example.org")) == 1 and
         len(maildir_files(srv.state, "frank@example.org")) == 1,
         "dave's, erin's and frank's mailboxes exist")
    for u in ("bob", "carol"):
        with open(os.path.join(MAIL, u), "w") as f:
            f.write("not a maildir\n")

    # a local sender, two permanent failures and one success
    base = len(maildir_files(srv.state, "alice@example.org"))
    qid = send(MX, "alice@example.org",
               ["bob@example.org", "carol@example.org", "dave@example.org"],
               "hello")
    t.ok(wait_for(lambda: qid in dsns(srv.state)),
         "permanent failures: a DSN arrives in alice's Maildir")
    t.ok(len(maildir_files(srv.state, "dave@example.org")) == 2,
         "the good recipient got the message")
    m = dsns(srv.state).get(qid)
    if m is not None:
        t.is_(m.get_content_type(), "multipart/report", "multipart/report")
        t.is_(m.get_param("report-type"), "delivery-status",
              "report-type=delivery-status")
        t.is_(m.get("Return-Path"), "<>", "sent with the null sender")
        t.is_(m.get("To"), "<alice@example.org>", "To the sender")
        t.is_(m.get("Auto-Submitted"), "auto-replied", "Auto-Submitted")
        parts = m.get_payload()
        t.is_([p.get_content_type() for p in parts],
              ["text/plain", "message/delivery-status",
               "text/rfc822-headers"], "the three parts, in order")
        st = parts[1].get_payload()
        t.is_(st[0].get("Reporting-MTA"), "dns; mx.example.org",
              "Reporting-MTA")
        t.ok(st[0].get("Arrival-Date") is not None, "Arrival-Date")
        rc = recipients(m)
        t.is_(sorted(r.get("Final-Recipient") for r in rc),
              ["rfc822; bob@example.org", "rfc822; carol@example.org"],
              "one DSN lists both failed recipients, not the good one")
        t.is_([r.get("Action") for r in rc], ["failed", "failed"],
              "Action: failed")
        t.is_([r.get("Status") for r in rc], ["5.2.0", "5.2.0"],
              "Status 5.2.0")
        t.ok(all("Not a directory" in (r.get("Diagnostic-Code") or "")
                 for r in rc), "Diagnostic-Code says why")
        t.ok(all(r.get("Original-Recipient") is None for r in rc),
             "no Original-Recipient without ORCPT")
        hdrs = parts[2].get_payload()
        t.like(hdrs, "Subject: hello", "the original header is included")
        t.ok("body of hello" not in hdrs, "but not its body")
        t.like(parts[0].get_payload(), "bob@example.org",
               "the human part names the recipients")
    else:
        for _ in range(17):
            t.ok(False, "the DSN")
    created = logged("dsn.created", "orig_msgid", qid)
    t.is_(len(created), 1, "one dsn.created for the message")
    if created:
        t.is_(created[0].get("to"), "alice@example.org", "dsn.created: to")
        t.ok(len(created[0].get("msgid", "")) == 16, "dsn.created: msgid")
    t.is_(len(logged("delivery.bounce", "msgid", qid)), 2,
          "two delivery.bounce")
    t.is_(len(maildir_files(srv.state, "alice@example.org")), base + 1,
          "exactly one DSN")
    t.ok(qid not in dsns(srv.state, "delivered"),
         "NOTIFY not given: no DSN for dave's delivery")

    # NOTIFY=SUCCESS: a delivered DSN, the header only even for RET=FULL
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        sqid = transaction(c, ["RET=FULL", "ENVID=SUCC+2D1"],
                           [("dave@example.org",
                             ["NOTIFY=SUCCESS",
                              "ORCPT=rfc822;Dave+2Btag+40example.org"])],
                           "success")
        bqid = transaction(c, ["RET=HDRS"],
                           [("dave@example.org", ["NOTIFY=SUCCESS,FAILURE"]),
                            ("erin@example.org", ["NOTIFY=SUCCESS"])],
                           "both")
        xqid = transaction(c, ["RET=FULL"],
                           [("bob@example.org", ["NOTIFY=SUCCESS,FAILURE"]),
                            ("erin@example.org", ["NOTIFY=SUCCESS"])],
                           "mixed")
        oqid = transaction(c, [], [("dave@example.org", ["NOTIFY=FAILURE"])],
                           "failure-only")
    nsqid = send(MX, "", ["dave@example.org"], "null-success")
    t.ok(wait_for(lambda: sqid in dsns(srv.state, "delivered")),
         "NOTIFY=SUCCESS: a DSN arrives in alice's Maildir")
    m, rc = report(sqid, "delivered")
    t.is_([(r.get("Final-Recipient"), r.get("Original-Recipient"),
            r.get("Action"), r.get("Status")) for r in rc],
          [("rfc822; dave@example.org", "rfc822;Dave+tag@example.org",
            "delivered", "2.0.0")],
          "Final-Recipient, Original-Recipient, Action delivered, 2.0.0")
    t.ok(m is not None and m.get_payload()[1].get_payload()[0].get(
        "Original-Envelope-Id") == "SUCC-1", "Original-Envelope-Id")
    t.ok(m is not None and m.get("Subject") ==
         "Successful Mail Delivery Report" and
         m.get("Return-Path") == "<>", "its Subject, the null sender")
    t.ok(m is not None and
         m.get_payload()[2].get_content_type() == "text/rfc822-headers" and
         "Subject: success" in m.get_payload()[2].get_payload() and
         "body of success" not in m.get_payload()[2].get_payload(),
         "RET=FULL on a success: the header only (RFC 3461 4.3)")
    t.ok(any(b"body of success" in read(f) for f in
             maildir_files(srv.state, "dave@example.org")),
         "and dave has the message")
    t.ok(wait_for(lambda: bqid in dsns(srv.state, "delivered")),
         "two NOTIFY=SUCCESS recipients: a DSN")
    m, rc = report(bqid, "delivered")
    t.is_(sorted((r.get("Final-Recipient"), r.get("Action")) for r in rc),
          [("rfc822; dave@example.org", "delivered"),
           ("rfc822; erin@example.org", "delivered")],
          "one DSN names both")
    t.ok(m is not None and "body of both" not in m.as_string(),
         "RET=HDRS: no body")
    t.ok(wait_for(lambda: xqid in dsns(srv.state, "failed") and
                  xqid in dsns(srv.state, "delivered")),
         "a failure and a success of one message: reported")
    m = dsns(srv.state, "failed").get(xqid)
    t.ok(m is not None and
         m.get_payload()[2].get_content_type() == "message/rfc822" and
         "body of mixed" in m.get_payload()[2].as_string(),
         "RET=FULL: a DSN with a failure returns the body")
    t.ok(dsn_count(xqid, "failed") == 1 and
         dsn_count(xqid, "delivered") == 1, "each recipient reported once")
    t.ok(len(logged("dsn.created", "orig_msgid", sqid)) == 1 and
         len(logged("dsn.created", "orig_msgid", bqid)) == 1,
         "one dsn.created each")
    ev = logged("dsn.created", "orig_msgid", bqid)
    t.ok(ev and ev[0].get("delivered") == "2" and ev[0].get("failed") == "0",
         "dsn.created counts the delivered recipients")
    t.ok(gone(sqid) and gone(bqid) and gone(xqid),
         "the messages leave the queue once their DSN is made")
    t.ok(gone(oqid) and
         not logged("dsn.created", "orig_msgid", oqid),
         "NOTIFY=FAILURE alone: no DSN for a delivery")
    t.ok(gone(nsqid) and
         not logged("dsn.created", "orig_msgid", nsqid),
         "the null sender: no DSN for a delivery")

    # a crash right after a delivery with NOTIFY=SUCCESS: the recipient
    # is still pending on disk until its DSN is committed
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        cqid = transaction(c, [], [("frank@example.org", ["NOTIFY=SUCCESS"])],
                           "crash")
    t.ok(wait_for(lambda: logged("delivery.ok", "msgid", cqid)),
         "delivered")
    kill_tree(srv)
    made = logged("dsn.created", "orig_msgid", cqid)
    pending = None
    if os.path.exists(os.path.join(Q, "envelopes", cqid)):
        with open(os.path.join(Q, "envelopes", cqid)) as f:
            pending = [l.split()[2] for l in f if l.startswith("rcpt ")]
    if made:
        t.diag("the kill came after the DSN was committed")
    t.ok(made or pending == ["pending"],
         "killed: the recipient is pending on disk while its DSN is owed")
    srv.start()
    t.ok(wait_for(lambda: cqid in dsns(srv.state, "delivered")),
         "after the restart the success DSN arrives")
    t.ok(gone(cqid), "and the message leaves the queue")
    t.is_(len([f for f in maildir_files(srv.state, "frank@example.org")
               if b"body of crash" in read(f)]), 1,
          "frank has the message once")

    # a null sender: no DSN
    nqid = send(MX, "", ["bob@example.org"], "null")
    t.ok(wait_for(lambda: logged("delivery.bounce", "msgid", nqid)),
         "null sender: the failure is a delivery.bounce")
    t.ok(gone(nqid), "the message leaves the queue")
    t.ok(not logged("dsn.created", "orig_msgid", nqid),
         "null sender: no DSN")
    t.ok(srv.wait_log("message %s: no DSN for bob@example.org: null sender"
                      % nqid), "logged")

    # a remote sender: the DSN waits for the outbound role
    rqid = send(MX, "someone@remote.test", ["bob@example.org"], "remote")
    t.ok(wait_for(lambda: logged("dsn.created", "orig_msgid", rqid)),
         "remote sender: a DSN is made")
    ev = logged("dsn.created", "orig_msgid", rqid)
    did = ev[0]["msgid"] if ev else "none"
    t.like(srv.ctl("queue", "list").stdout,
           "%s" % did, "queue list shows the DSN")
    t.like(srv.ctl("queue", "list").stdout,
           "someone@remote.test:remote-waiting",
           "waiting as remote-waiting")
    lst = json.loads(srv.ctl("--json", "queue", "list").stdout)
    d = [x for x in lst if x["msgid"] == did]
    t.ok(d and d[0]["sender"] == "" and d[0]["report"] is True,
         "--json: null sender, marked as a report")
    t.like(srv.ctl("queue", "show", did).stdout,
           "(a delivery status notification)", "queue show says what it is")
    t.ok(gone(rqid), "the original leaves the queue")

    # an unknown local sender: dropped
    uqid = send(MX, "nobody@example.org", ["bob@example.org"], "unknown")
    t.ok(wait_for(lambda: logged("dsn.dropped", "orig_msgid", uqid)),
         "unknown local sender: dsn.dropped")
    t.ok(gone(uqid), "and the message leaves the queue")

    # RFC 3461's parameters from a real client: bob and carol still fail
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        t.ok(c.has_extn("dsn"), "EHLO offers DSN")
        fqid = transaction(c, ["RET=FULL", "ENVID=QQ+2B1+20x"],
                           [("bob@example.org",
                             ["NOTIFY=FAILURE,DELAY",
                              "ORCPT=rfc822;Bob+2Btag+40example.org"]),
                            ("carol@example.org", ["NOTIFY=NEVER"])],
                           "full")
        hqid = transaction(c, ["RET=HDRS"],
                           [("bob@example.org", []),
                            ("carol@example.org", ["NOTIFY=SUCCESS"])],
                           "hdrs")
    t.ok(wait_for(lambda: fqid in dsns(srv.state) and hqid in dsns(srv.state)),
         "smtplib's RFC 3461 options: both messages get a DSN")
    m, rc = report(fqid)
    t.is_([r.get("Final-Recipient") for r in rc],
          ["rfc822; bob@example.org"], "NOTIFY=NEVER: carol is left out")
    t.is_([r.get("Original-Recipient") for r in rc],
          ["rfc822;Bob+tag@example.org"], "ORCPT, decoded")
    t.ok(m is not None and m.get_payload()[1].get_payload()[0].get(
        "Original-Envelope-Id") == "QQ+1 x", "ENVID, decoded")
    t.ok(m is not None and
         m.get_payload()[2].get_content_type() == "message/rfc822" and
         "body of full" in m.get_payload()[2].as_string(),
         "RET=FULL: the body comes back")
    t.ok(srv.wait_log("message %s: no DSN for carol@example.org: NOTIFY "
                      "leaves out" % fqid), "carol's NEVER is logged")
    m, rc = report(hqid)
    t.is_([r.get("Final-Recipient") for r in rc],
          ["rfc822; bob@example.org"],
          "NOTIFY=SUCCESS without FAILURE: no DSN for carol")
    t.ok(m is not None and
         m.get_payload()[2].get_content_type() == "text/rfc822-headers" and
         "Subject: hdrs" in m.get_payload()[2].get_payload() and
         "body of hdrs" not in m.get_payload()[2].get_payload(),
         "RET=HDRS: the header, not the body")
    t.ok(m is not None and m.get_payload()[1].get_payload()[0].get(
        "Original-Envelope-Id") is None and
        all(r.get("Original-Recipient") is None for r in rc),
        "the parameters of one message do not reach the next")
    t.ok(srv.wait_log("message %s: no DSN for carol@example.org: NOTIFY "
                      "leaves out" % hqid), "carol's SUCCESS is logged")
    t.ok(gone(fqid) and gone(hqid), "both leave the queue")

    # they are kept in the envelope and survive a restart
    t.is_(srv.ctl("queue", "pause").returncode, 0, "queue pause")
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        kqid = transaction(c, ["RET=FULL", "ENVID=KEPT+2D1"],
                           [("bob@example.org",
                             ["NOTIFY=DELAY,FAILURE", "ORCPT=rfc822;B+40x"])],
                           "kept")
        c.mail("alice@example.org", ["RET=FULL", "ENVID=forgotten"])
        c.rcpt("bob@example.org", ["NOTIFY=NEVER", "ORCPT=rfc822;f+40x"])
        c.rset()
        rqid = transaction(c, [], [("bob@example.org", [])], "reset")
    t.is_(envelope(kqid),
          (["message", "full", "KEPT-1"], [("6", "rfc822;B@x")]),
          "the envelope holds RET, ENVID, NOTIFY and ORCPT")
    t.is_(envelope(rqid), (["message", "-", "-"], [("0", "-")]),
          "RSET forgets them")
    srv.stop()
    srv.start()
    t.ok(wait_for(lambda: kqid in dsns(srv.state) and rqid in dsns(srv.state)),
         "after a restart both get their DSN")
    m, rc = report(kqid)
    t.ok(m is not None and m.get_payload()[1].get_payload()[0].get(
        "Original-Envelope-Id") == "KEPT-1" and
        [r.get("Original-Recipient") for r in rc] == ["rfc822;B@x"] and
        "body of kept" in m.get_payload()[2].as_string(),
        "with ENVID, ORCPT and RET=FULL honoured")
    t.ok(gone(kqid) and gone(rqid), "both leave the queue")

    # malformed values: 501, and the command is not taken
    bad = [("mail", "RET=BOGUS"), ("mail", "RET"), ("mail", "ENVID=a+0Db"),
           ("mail", "ENVID=a+zz"), ("mail", "ENVID=" + "e" * 101),
           ("mail", "RET=FULL RET=HDRS"),
           ("rcpt", "NOTIFY=NEVER,SUCCESS"), ("rcpt", "NOTIFY=SOMETIMES"),
           ("rcpt", "NOTIFY=SUCCESS,,DELAY"), ("rcpt", "NOTIFY"),
           ("rcpt", "NOTIFY=SUCCESS NOTIFY=FAILURE"),
           ("rcpt", "ORCPT=rfc822"), ("rcpt", "ORCPT=rfc822;"),
           ("rcpt", "ORCPT=;a+40b"), ("rcpt", "ORCPT=a@b;c"),
           ("rcpt", "ORCPT=rfc822;a+0Ab"), ("rcpt", "ORCPT=rfc822;a+4"),
           ("rcpt", "ORCPT=rfc822;" + "o" * 494)]
    for cmd, opt in bad:
        code, text = refused(cmd, "alice@example.org" if cmd == "mail"
                             else "bob@example.org", opt.split())
        t.is_(code, 501, "%s %s: 501 (%s)" % (cmd.upper(), opt[:40],
                                              text.decode()))
    t.ok(logged("smtp.reject", "reason", "bad DSN parameter"),
         "a refusal is logged")
    for cmd, opt in (("mail", "FOO=bar"), ("rcpt", "FOO=bar"),
                     ("mail", "NOTIFY=NEVER"), ("rcpt", "RET=FULL")):
        code, _ = refused(cmd, "alice@example.org" if cmd == "mail"
                          else "bob@example.org", [opt])
        t.is_(code, 555, "%s %s: still 555" % (cmd.upper(), opt))
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        c.mail("alice@example.org")
        c.rcpt("bob@example.org", ["NOTIFY=NEVER,FAILURE"])
        t.is_(c.docmd("DATA")[0], 554, "a refused RCPT adds no recipient")

    # delays: erin's and frank's tmp/ are not writable; after
    # queue.delay_warning (2 s) a delayed DSN, after queue.expire (10 s)
    # the failure
    os.chmod(os.path.join(MAIL, "erin", "tmp"), 0o500)
    os.chmod(os.path.join(MAIL, "frank", "tmp"), 0o500)
    nqid = send(MX, "", ["erin@example.org"], "null-delayed")
    with smtplib.SMTP("127.0.0.1", MX, timeout=30) as c:
        c.ehlo("client.test")
        eqid = transaction(c, [], [("erin@example.org", [])], "expiring")
        dqid = transaction(c, ["ENVID=DELAY+2D1"],
                           [("erin@example.org",
                             ["NOTIFY=DELAY", "ORCPT=rfc822;Erin+40x"])],
                           "delay-only")
        fqid = transaction(c, [], [("erin@example.org", ["NOTIFY=FAILURE"])],
                           "failure-only")
        lqid = transaction(c, ["RET=FULL"],
                           [("frank@example.org", ["NOTIFY=SUCCESS,DELAY"])],
                           "late")
    t.ok(wait_for(lambda: lqid in dsns(srv.state, "delayed")),
         "NOTIFY=SUCCESS,DELAY, still deferred: a delayed DSN")
    m, rc = report(lqid, "delayed")
    t.is_([(r.get("Final-Recipient"), r.get("Action"),
            (r.get("Status") or "")[:2]) for r in rc],
          [("rfc822; frank@example.org", "delayed", "4.")],
          "Action delayed, Status 4.x.x")
    t.ok(rc and rc[0].get("Will-Retry-Until") is not None and
         "Permission denied" in (rc[0].get("Diagnostic-Code") or ""),
         "with Will-Retry-Until and the last reason")
    t.ok(m is not None and m.get("Subject") ==
         "Delayed Mail (still being retried)" and
         m.get_payload()[2].get_content_type() == "text/rfc822-headers",
         "its Subject; the header only")
    os.chmod(os.path.join(MAIL, "frank", "tmp"), 0o700)
    t.ok(wait_for(lambda: lqid in dsns(srv.state, "delivered")),
         "then delivered: a delivered DSN")
    t.ok(wait_for(lambda: eqid in dsns(srv.state, "failed"), timeout=30),
         "NOTIFY not given: the failure at expiry")
    t.is_(dsn_count(eqid, "delayed"), 1,
          "NOTIFY not given: one delayed DSN before it, not one per retry")
    m, rc = report(eqid)
    t.is_([r.get("Status") for r in rc], ["4.4.7"], "Status 4.4.7")
    t.ok(rc and "expired after" in (rc[0].get("Diagnostic-Code") or ""),
         "Diagnostic-Code: expired after n attempts")
    t.ok(gone(dqid) and gone(fqid) and gone(nqid),
         "the others expire too")
    m = dsns(srv.state, "delayed").get(dqid)
    t.ok(dsn_count(dqid, "delayed") == 1 and m is not None and
         m.get_payload()[1].get_payload()[0].get(
             "Original-Envelope-Id") == "DELAY-1" and
         recipients(m)[0].get("Original-Recipient") == "rfc822;Erin@x",
         "NOTIFY=DELAY: one delayed DSN, with ENVID and ORCPT")
    t.ok(dqid not in dsns(srv.state, "failed") and
         srv.wait_log("message %s: no DSN for erin@example.org: NOTIFY "
                      "leaves out failures" % dqid),
         "and no failure DSN")
    t.ok(fqid in dsns(srv.state, "failed") and
         dsn_count(fqid, "delayed") == 0,
         "NOTIFY=FAILURE: the failure, no delayed DSN")
    t.ok(not logged("dsn.created", "orig_msgid", nqid),
         "the null sender: neither")
    t.is_(dsn_count(lqid, "delayed"), 1, "frank's delay was reported once")
    os.chmod(os.path.join(MAIL, "erin", "tmp"), 0o700)

    t.ok(wait_for(lambda: srv.ctl("queue", "list").stdout.count("\n") == 1),
         "in the end only the remote-waiting DSN is queued")
    t.ok(time.time() - started < 60, "in %.0f s" % (time.time() - started))
finally:
    srv.cleanup()
t.done()
