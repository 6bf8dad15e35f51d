#!/usr/bin/env python3
# The MX listener with real clients: protocol, extensions, limits, relay
# tricks, smuggling, STARTTLS, BDAT, delivery into Maildir.

import os
import smtplib
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import TAP, Server, IS_ROOT, hash_password, spool_names
from smtpclient import Raw, maildir_files, wait_maildir, wait_for, read

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

pw = hash_password("Correct-Horse-9")
srv = Server(accounts=[("alice@example.org", pw), ("bob@example.org", pw)],
             domains=("example.org", "example.net"),
             aliases={"postmaster@example.org": ["alice@example.org"],
                      "team@example.net": ["alice@example.org",
                                           "bob@example.org",
                                           "carol@elsewhere.test"]},
             extra="limits: {message_size: 200K, recipients: 5, "
                   "sessions_per_ip: 8}\n")
MX = srv.port["mx"]
STATE = srv.state


def msg(subject, body="hello\r\n"):
    return ("From: sender@remote.test\r\nTo: alice@example.org\r\n"
            "Subject: %s\r\nMessage-ID: <%s@remote.test>\r\n\r\n%s"
            % (subject, subject, body))


def session():
    c = Raw(MX)
    code, _ = c.reply()
    assert code == 220
    c.cmd("EHLO client.test")
    return c


try:
    srv.start()

    # greeting and EHLO
    c = Raw(MX)
    code, text = c.reply()
    t.is_(code, 220, "greeting is 220")
    t.like(text, "mx.example.org", "greeting names the configured host")
    code, text = c.cmd("EHLO client.test")
    t.is_(code, 250, "EHLO 250")
    for ext in ("PIPELINING", "SIZE 204800", "8BITMIME", "SMTPUTF8",
                "ENHANCEDSTATUSCODES", "CHUNKING", "DSN", "STARTTLS"):
        t.like(text, ext, "EHLO offers %s" % ext)
    t.ok("AUTH" not in text, "the MX listener never offers AUTH")
    t.is_(c.cmd("VRFY alice")[0], 252, "VRFY is 252, telling nothing")
    t.is_(c.cmd("VRFY nobody")[0], 252, "VRFY of a non-user is 252 too")
    t.is_(c.cmd("NOOP")[0], 250, "NOOP")
    t.is_(c.cmd("HELP")[0], 214, "HELP")
    t.is_(c.cmd("RCPT TO:<alice@example.org>")[0], 503, "RCPT before MAIL")
    t.is_(c.cmd("DATA")[0], 503, "DATA before MAIL")
    t.is_(c.cmd("MAIL FROM:<a@remote.test>")[0], 250, "MAIL")
    t.is_(c.cmd("MAIL FROM:<a@remote.test>")[0], 503, "second MAIL")
    t.is_(c.cmd("DATA")[0], 554, "DATA without recipients")
    t.is_(c.cmd("RSET")[0], 250, "RSET")
    t.is_(c.cmd("FOOBAR")[0], 500, "unknown command is 500")
    code, text = c.cmd("QUIT")
    t.is_(code, 221, "QUIT 221")
    t.ok(c.closed(), "connection closed after QUIT")
    c = Raw(MX)
    c.reply()
    t.is_(c.cmd("MAIL FROM:<a@remote.test>")[0], 503, "MAIL before EHLO")
    c.close()

    # a plain delivery with smtplib
    with smtplib.SMTP("127.0.0.1", MX) as s:
        r = s.sendmail("sender@remote.test", ["alice@example.org"],
                       msg("plain-1"))
        t.is_(r, {}, "smtplib delivers to alice")
    files = wait_maildir(STATE, "alice@example.org", 1)
    t.is_(len(files), 1, "one message in alice's Maildir new/")
    body = read(files[0]) if files else b""
    t.like(body.decode(errors="replace"), "Return-Path: <sender@remote.test>",
           "Return-Path added")
    t.like(body.decode(errors="replace"), "Delivered-To: alice@example.org",
           "Delivered-To added")
    t.like(body.decode(errors="replace"), "by mx.example.org (postern) with "
           "ESMTP", "Received header added")
    t.like(body.decode(errors="replace"), "Subject: plain-1", "the message "
           "itself is there")

    # +detail, alias, postmaster, case
    with smtplib.SMTP("127.0.0.1", MX) as s:
        s.sendmail("x@remote.test", ["bob+lists@example.org"], msg("detail"))
        s.sendmail("x@remote.test", ["team@example.net"], msg("alias"))
        s.sendmail("x@remote.test", ["POSTMASTER@EXAMPLE.ORG"], msg("pm"))
    t.is_(len(wait_maildir(STATE, "bob@example.org", 2)), 2,
          "bob got +detail mail and the alias expansion")
    t.is_(len(wait_maildir(STATE, "alice@example.org", 3)), 3,
          "alice got the alias and postmaster mail")
    out = srv.ctl("queue", "list").stdout
    t.like(out, "carol@elsewhere.test", "the alias's remote target waits "
           "in the queue")

    # unknown user, relay tricks
    c = session()
    c.cmd("MAIL FROM:<a@remote.test>")
    code, text = c.cmd("RCPT TO:<nosuchuser@example.org>")
    t.is_(code, 550, "unknown local user: 550")
    t.like(text, "5.1.1", "with 5.1.1")
    tricks = ["<user%other.example@example.org>",
              "<@example.org:user@other.example>",
              "<other.example!user@example.org>",
              "<\"user@other.example\"@example.org>",
              "<user@other.example>",
              "<user@example.org.>",
              "<user@[127.0.0.1]>",
              "<user@[IPv6:::1]>",
              "<USER@OTHER.EXAMPLE>",
              "<>",
              "<" + "a" * 300 + "@example.org>",
              "<user@" + "b" * 300 + ".org>",
              "user@other.example",
              "<user@other.example"]
    c.close()
    # A session per trick: a session that collects too many errors is
    # dropped with 421, which would hide what the later tricks get.
    for trick in tricks:
        c = session()
        c.cmd("MAIL FROM:<a@remote.test>")
        code, text = c.cmd("RCPT TO:" + trick)
        t.ok(code in (550, 553, 554, 501), "relay trick %s refused (%d)" %
             (trick[:40], code))
        c.close()
    time.sleep(0.3)
    t.is_(maildir_files(STATE, "user@other.example"), [],
          "nothing was queued for other.example")

    # pipelining: replies in order, in one round trip
    c = session()
    c.send("MAIL FROM:<p@remote.test>\r\nRCPT TO:<alice@example.org>\r\n"
           "RCPT TO:<nobody@example.org>\r\nRCPT TO:<bob@example.org>\r\n"
           "DATA\r\n")
    codes = [c.reply()[0] for _ in range(5)]
    t.is_(codes, [250, 250, 550, 250, 354], "pipelined replies in order")
    c.send(msg("pipelined").replace("\r\n", "\r\n") + "\r\n.\r\nQUIT\r\n")
    t.is_(c.reply()[0], 250, "pipelined message accepted")
    t.is_(c.reply()[0], 221, "QUIT after it")
    c.close()
    t.is_(len(wait_maildir(STATE, "bob@example.org", 3)), 3,
          "pipelined message delivered to bob")

    # BDAT
    c = session()
    c.cmd("MAIL FROM:<b@remote.test>")
    c.cmd("RCPT TO:<bob@example.org>")
    part1 = msg("bdat-1")[:40]
    part2 = msg("bdat-1")[40:]
    c.send("BDAT %d\r\n%s" % (len(part1), part1))
    t.is_(c.reply()[0], 250, "first BDAT chunk")
    c.send("BDAT %d LAST\r\n%s" % (len(part2), part2))
    code, text = c.reply()
    t.is_(code, 250, "BDAT LAST queues the message")
    c.close()
    files = wait_maildir(STATE, "bob@example.org", 4)
    t.ok(any(b"Subject: bdat-1" in read(f) for f in files),
         "BDAT message delivered intact")

    # smuggling: a bare-LF "end of data" must not end the message
    before = len(maildir_files(STATE, "bob@example.org"))
    for name, fake_end in (("LF.LF", "\n.\n"), ("CR.CR", "\r.\r"),
                           ("LF.CRLF", "\n.\r\n")):
        c = session()
        c.cmd("MAIL FROM:<s@remote.test>")
        c.cmd("RCPT TO:<bob@example.org>")
        t.is_(c.cmd("DATA")[0], 354, "DATA for %s" % name)
        c.send("Subject: smuggle\r\n\r\nfirst" + fake_end +
               "MAIL FROM:<evil@remote.test>\r\nRCPT TO:<bob@example.org>\r\n"
               "DATA\r\nSubject: smuggled\r\n\r\nsecond\r\n.\r\n")
        code, text = c.reply()
        t.ok(code >= 500, "%s: the message is refused (%d %s)" %
             (name, code, text))
        t.is_(c.cmd("NOOP")[0], 250, "%s: no smuggled replies follow" % name)
        c.close()
    time.sleep(0.5)
    after = maildir_files(STATE, "bob@example.org")
    t.is_(len(after), before, "no smuggled message was delivered")

    # limits
    c = session()
    c.cmd("MAIL FROM:<l@remote.test>")
    for i in range(5):
        c.cmd("RCPT TO:<alice+%d@example.org>" % i)
    code, text = c.cmd("RCPT TO:<alice+6@example.org>")
    t.is_(code, 452, "recipient limit: 452")
    t.like(text, "4.5.3", "with 4.5.3")
    c.close()
    c = session()
    code, text = c.cmd("MAIL FROM:<l@remote.test> SIZE=999999999")
    t.is_(code, 552, "SIZE over the limit: 552")
    c.cmd("MAIL FROM:<l@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    c.cmd("DATA")
    c.send(("x" * 998 + "\r\n") * 300 + ".\r\n")
    code, text = c.reply()
    t.is_(code, 552, "message over the size limit: 552")
    t.like(text, "5.3.4", "with 5.3.4")
    c.cmd("MAIL FROM:<l@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    c.cmd("DATA")
    c.send("Subject: long\r\n\r\n" + "y" * 1200 + "\r\n.\r\n")
    t.is_(c.reply()[0], 554, "a 1200-octet data line is refused")
    t.is_(c.cmd("NOOP")[0], 250, "and the session goes on")
    # An overlong line that ends in a bare LF: the "." after it is no end
    # of data, so the smuggled command behind it is message text.
    c.cmd("MAIL FROM:<l@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    c.cmd("DATA")
    c.send("Subject: long\r\n\r\n" + "y" * 1200 + "\n.\r\nNOOP\r\n")
    c.sock.settimeout(1)
    try:
        early = c.reply()
    except (TimeoutError, OSError):
        early = None
    t.is_(early, None, "overlong line + bare LF + '.': still in DATA")
    c.sock.settimeout(10)
    c.send("\r\n.\r\n")
    t.is_(c.reply()[0], 554, "then refused at the real end of data")
    t.is_(c.cmd("NOOP")[0], 250, "and only then do commands count again")
    c.close()

    c = session()
    c.send("NOOP " + "z" * (10 * 1024 * 1024) + "\r\n")
    code, text = c.reply()
    t.is_(code, 500, "a 10 MB command line: 500")
    t.is_(c.cmd("NOOP")[0], 250, "the session survives it")
    code, _ = c.cmd("NO\0OP")
    t.is_(code, 500, "NUL in a command: 500")
    c.close()

    c = session()
    c.cmd("MAIL FROM:<l@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    c.cmd("DATA")
    c.send("".join("Received: from hop%d\r\n" % i for i in range(101)) +
           "Subject: loop\r\n\r\nloop\r\n.\r\n")
    code, text = c.reply()
    t.is_(code, 554, "over 100 Received headers: refused as a loop")
    c.close()

    c = session()
    codes = [c.cmd("BOGUS")[0] for _ in range(10)]
    t.is_(codes, [500] * 10, "each bad command: 500")
    t.is_(c.reply()[0], 421, "the tenth is followed by 421")
    t.ok(c.closed(), "and the connection is closed")

    # sessions per IP
    conns = []
    for i in range(8):
        r = Raw(MX)
        r.reply()
        conns.append(r)
    extra = Raw(MX)
    code, text = extra.reply()
    t.is_(code, 421, "session 9 from one IP: 421")
    t.like(text, "4.7.0", "with 4.7.0")
    for r in conns + [extra]:
        r.close()
    time.sleep(0.3)

    # STARTTLS
    c = session()
    c.send("STARTTLS\r\nRSET\r\n")
    code, _ = c.reply()
    t.is_(code, 220, "STARTTLS 220")
    c.buf = b""
    c.starttls()
    code, text = c.cmd("EHLO client.test")
    t.is_(code, 250, "EHLO after TLS: the pipelined RSET was discarded "
          "(the first reply is EHLO's)")
    t.ok("STARTTLS" not in text, "STARTTLS not offered again")
    t.like(c.sock.version(), "TLSv1.", "TLS is up (%s)" % c.sock.version())
    c.cmd("MAIL FROM:<tls@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    c.cmd("DATA")
    c.send(msg("over-tls") + "\r\n.\r\n")
    t.is_(c.reply()[0], 250, "message over TLS accepted")
    c.close()
    files = wait_maildir(STATE, "alice@example.org", 5)
    tls_msgs = [read(f) for f in files if b"over-tls" in read(f)]
    t.ok(tls_msgs and b"with ESMTPS" in tls_msgs[0] and b"using TLSv1."
         in tls_msgs[0], "Received header records ESMTPS and the TLS version")

    for proto, want in (("-tls1_1", False), ("-tls1", False),
                        ("-tls1_2", True), ("-tls1_3", True)):
        r = subprocess.run(["openssl", "s_client", "-connect",
                            "127.0.0.1:%d" % MX, "-starttls", "smtp", proto],
                           input="QUIT\n", capture_output=True, text=True,
                           timeout=20)
        established = "Cipher is (NONE)" not in r.stdout and \
            ("New, TLSv1" in r.stdout or "Protocol  : TLSv1" in r.stdout)
        t.is_(established, want, "openssl s_client %s %s" %
              (proto, "works" if want else "is refused"))

    # swaks, a real client
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(MX),
                        "--from", "swaks@remote.test", "--to",
                        "bob@example.org", "--tls", "--header",
                        "Subject: via-swaks"], capture_output=True,
                       text=True, timeout=30)
    t.is_(r.returncode, 0, "swaks with STARTTLS succeeds")
    files = wait_maildir(STATE, "bob@example.org", 5)
    t.ok(any(b"via-swaks" in read(f) for f in files), "swaks's message "
         "delivered")
    ev = {e["event"] for e in srv.read_events()}
    for name in ("smtp.connect", "smtp.tls", "smtp.mail", "smtp.rcpt",
                 "smtp.reject", "queue.commit", "delivery.ok"):
        t.ok(name in ev, "event %s logged" % name)
    # MAIL asks the queue for the message's file ahead of DATA; a file
    # no DATA used goes back, whether the transaction is reset, the
    # session quits or the client just drops the connection.
    incoming = os.path.join(STATE, "queue", "incoming")
    envelopes = os.path.join(STATE, "queue", "envelopes")

    def tmps():
        return [n for n in spool_names(envelopes)
                if n.endswith(".tmp")]

    def held():
        return spool_names(incoming)
    t.ok(wait_for(lambda: held() == []), "incoming/ empty")
    # The queue makes message files ahead of MAIL: a spare is renamed
    # into place, so the client's DATA never waits for an inode; and a
    # delivered message's files become spares instead of being unlinked.

    def spares():
        return [n[len("spare-"):] for n in os.listdir(incoming)
                if n.startswith("spare-")]

    def env_spares():
        return [n for n in os.listdir(envelopes) if n.startswith("spare-")]
    t.ok(wait_for(lambda: len(spares()) >= 4), "the queue keeps spare "
         "message files in incoming/")
    t.ok(len(env_spares()) >= 4, "and spare envelope files")
    before = set(spares())
    c = session()
    c.cmd("MAIL FROM:<a@remote.test>")
    t.ok(wait_for(lambda: len(held()) == 1) and held()[0] in before,
         "MAIL's file is a spare put in place under its own name")
    msgid = held()[0] if held() else "none"
    ino = os.stat(os.path.join(incoming, msgid)).st_ino if held() else -1
    t.ok(wait_for(lambda: len(spares()) >= 4 and msgid not in spares()),
         "the pool is made up again")
    c.cmd("RCPT TO:<alice@example.org>")
    c.cmd("DATA")
    c.send(msg("recycled") + "\r\n.\r\n")
    t.is_(c.reply()[0], 250, "that message is accepted")
    c.cmd("QUIT")

    def recycled():
        for n in os.listdir(incoming):
            try:
                st = os.stat(os.path.join(incoming, n))
            except FileNotFoundError:
                continue
            if n.startswith("spare-") and st.st_ino == ino:
                return st.st_size == 0
        return False
    t.ok(wait_for(recycled), "once delivered, its message file is an "
         "empty spare again (same inode)")
    t.ok(wait_for(lambda: held() == []), "nothing held")
    c = session()
    t.is_(c.cmd("MAIL FROM:<a@remote.test>")[0], 250, "held file: MAIL")
    t.ok(wait_for(lambda: len(held()) == 1),
         "held file: MAIL makes one file in incoming/")
    t.ok(wait_for(lambda: len(tmps()) == 1),
         "held file: and an empty envelopes/ID.tmp for the commit")
    t.is_(c.cmd("RSET")[0], 250, "held file: RSET")
    t.ok(wait_for(lambda: held() == []),
         "held file: RSET gives it back")
    t.ok(wait_for(lambda: tmps() == []),
         "held file: and the envelope's .tmp made with it")
    # pipelined, RSET comes before the queue's answer to MAIL's CREATE
    c.send("MAIL FROM:<a@remote.test>\r\nRSET\r\n")
    t.is_([c.reply()[0], c.reply()[0]], [250, 250], "held file: MAIL+RSET "
          "pipelined")
    # the queue's answer comes within milliseconds; a file kept for a
    # transaction that is over would stay until QUIT
    time.sleep(0.5)
    t.ok(wait_for(lambda: held() == []),
         "held file: an answer after the RSET is given back at once")
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("QUIT")
    t.ok(wait_for(lambda: held() == []),
         "held file: QUIT gives it back")
    c = session()
    c.send("MAIL FROM:<a@remote.test>\r\n")
    c.close()
    t.ok(wait_for(lambda: held() == [] and tmps() == []),
         "held file: a dropped connection gives it back")
    c = session()
    c.cmd("MAIL FROM:<a@remote.test>")
    c.cmd("RCPT TO:<alice@example.org>")
    t.is_(c.cmd("DATA")[0], 354, "held file: DATA uses it")
    c.send(msg("held file") + "\r\n.\r\n")
    t.is_(c.reply()[0], 250, "held file: the message is accepted")
    c.cmd("QUIT")
    t.ok(wait_for(lambda: held() == [] and tmps() == []),
         "held file: nothing left behind")

    tls = [e for e in srv.read_events() if e["event"] == "smtp.tls"]
    t.ok(any(e.get("result") == "ok" and e.get("version", "").startswith(
        "TLSv1.") and e.get("cipher") for e in tls),
        "smtp.tls names the version and cipher")
    t.ok(any(e.get("result") == "failed" and e.get("error") for e in tls),
         "a refused TLS 1.1 handshake is logged as smtp.tls failed")
    srv.stop()
    t.is_([n for n in os.listdir(incoming) + os.listdir(envelopes)
           if n.startswith("spare-")], [],
          "a clean stop removes the spare files")
finally:
    srv.cleanup()

t.done()
