#!/usr/bin/env python3
# The auth role's accounts, driven with posternctl against the real
# daemon and checked with logins over submission (AUTH PLAIN after
# STARTTLS): user add/list/show/passwd with each password rule refused
# and saying why, history, config accounts read-only, roles (an auditor
# may only list and show), lock/unlock, lockout after N failures that
# survives a restart, expiry, app passwords (scope, last use, revoke),
# TOTP enrolment and login (replay refused), two_factor: required, the
# audit trail without passwords, and kill -9 during a loop of user add
# leaving a store that loads with every acknowledged user.

import base64
import hashlib
import hmac
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "lib"))
from postern import (TAP, Server, IS_ROOT, POSTERNCTL, hash_password,
                     kill_tree, user_ids, group_id)
from smtpclient import Raw, plain, submission

t = TAP()
if not IS_ROOT:
    t.skip_all("needs root: posternd's roles chroot and change user")

CFG_PW = "Config-Pass-77x"
AUTH = ("auth:\n"
        "  password: {min_length: 12, max_length: 40, classes: 3, "
        "history: 3%s}\n"
        "  lockout: {attempts: 3, window: 1h, duration: 1h}\n"
        "  two_factor: %s\n")
srv = Server(accounts=[("cfg@example.org", hash_password(CFG_PW))],
             domains=("example.org",),
             aliases={"sales@example.org": ["cfg@example.org"]},
             control_group="postern-admin",
             extra=AUTH % ("", "optional"))
SUB = srv.port["submission"]


def ctl(*args, input=None, **kw):
    return srv.ctl(*args, input=input, **kw)


def add(user, pw):
    return ctl("user", "add", user, "--password-stdin", input=pw + "\n")


def passwd(user, pw):
    return ctl("user", "passwd", user, "--password-stdin", input=pw + "\n")


def login(user, pw):
    """(code, text) of AUTH PLAIN on the submission port."""
    c = submission(SUB)
    try:
        return c.cmd("AUTH PLAIN " + plain(user, pw))
    finally:
        c.close()


def events(name):
    return [e for e in srv.read_events() if e["event"] == name]


def reconfigure(max_age="", two_factor="optional"):
    srv.extra = AUTH % (max_age, two_factor)
    srv.write_config()
    srv.proc.send_signal(signal.SIGHUP)
    time.sleep(1.0)


def totp(secret_b32, at=None, step_offset=0):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    step = int((time.time() if at is None else at) // 30) + step_offset
    mac = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    off = mac[-1] & 0xf
    code = (struct.unpack(">I", mac[off:off + 4])[0] & 0x7fffffff) % 10**6
    return "%06d" % code


def rcpt_code(addr):
    """The MX's reply code to RCPT TO:<addr>."""
    c = Raw(srv.port["mx"])
    try:
        c.reply()
        c.cmd("EHLO client.test")
        c.cmd("MAIL FROM:<someone@remote.test>")
        return c.cmd("RCPT TO:<%s>" % addr)[0]
    finally:
        c.close()


def test_rcpt_answers_follow_changes():
    """smtp keeps auth's RCPT answers; a change must not leave one
    stale, whether it was a yes or a no."""
    addr = "newcomer@example.org"
    t.is_(rcpt_code(addr), 550, "rcpt cache: unknown before it exists")
    t.is_(rcpt_code(addr), 550, "rcpt cache: and again (kept)")
    t.is_(add(addr, "Green-Teapot-77").returncode, 0,
          "rcpt cache: user add")
    t.is_(rcpt_code(addr), 250, "rcpt cache: accepted at once after "
          "the add")
    t.is_(rcpt_code(addr), 250, "rcpt cache: and again")
    t.is_(ctl("user", "del", addr).returncode, 0, "rcpt cache: user del")
    t.is_(rcpt_code(addr), 550, "rcpt cache: refused at once after the "
          "del")


def test_add_and_policy():
    r = add("bob@example.org", "Blue-Kettle-42")
    t.is_(r.returncode, 0, "user add: 0")
    t.like(r.stdout, "added bob@example.org", "... says added")
    r = ctl("user", "list")
    t.ok(re.search(r"bob@example.org\s+store\s+active", r.stdout) and
         re.search(r"cfg@example.org\s+config\s+active", r.stdout),
         "user list shows the store and the config account")
    r = ctl("user", "show", "bob@example.org")
    t.like(r.stdout, "state:      active", "user show: state")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 235,
          "the new user logs in over submission")
    t.is_(login("BOB@Example.ORG", "Blue-Kettle-42")[0], 235,
          "... with the address in any case")
    for pw, why, name in (
            ("Short-1a", "shorter than 12 characters", "min_length"),
            ("A1-" + "b" * 40, "longer than 40 characters", "max_length"),
            ("bluekettlefortytwo", "1 of the 3 character classes",
             "classes"),
            ("My-Carol-pass-9", "contains the user name", "local part"),
            ("At-example.org-9", "contains the domain name", "domain"),
            ("Password123!", "commonly used password", "common list")):
        r = add("carol@example.org", pw)
        t.ok(r.returncode == 1 and "password refused: " in r.stderr and
             why in r.stderr,
             "add refused, %s: %s" % (name, r.stderr.strip()))
    t.ok("carol@example.org" not in ctl("user", "list").stdout,
         "no refused user was added")
    r = add("bob@example.org", "Blue-Kettle-43")
    t.ok(r.returncode == 1 and "exists" in r.stderr, "a duplicate add")
    r = add("Sales@example.org", "Blue-Kettle-42")
    t.ok(r.returncode == 1 and "is an alias" in r.stderr,
         "an address that is an alias of the config")
    r = add("dan@elsewhere.test", "Blue-Kettle-42")
    t.ok(r.returncode == 1 and "not an address in one of our domains" in
         r.stderr, "an address outside our domains")
    r = ctl("user", "add", "dan@example.org", input="Blue-Kettle-42\n")
    t.ok(r.returncode == 1 and "--password-stdin" in r.stderr,
         "without a terminal, --password-stdin is required")


def pty_read_until(fd, needle, timeout=15):
    out, deadline = b"", time.time() + timeout
    while needle not in out and time.time() < deadline:
        r, _, _ = select.select([fd], [], [], 0.2)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    return out


def test_terminal():
    """user add on a terminal: asks twice, echoes nothing."""
    master, slave = pty.openpty()
    p = subprocess.Popen([POSTERNCTL, "-s", srv.socket, "user", "add",
                          "tty@example.org"], stdin=slave, stdout=slave,
                         stderr=slave, close_fds=True)
    os.close(slave)
    out = pty_read_until(master, b"New password: ")
    os.write(master, b"Blue-Lamp-4242-x\n")
    out += pty_read_until(master, b"Again: ")
    os.write(master, b"Blue-Lamp-4242-x\n")
    out += pty_read_until(master, b"added")
    p.wait(timeout=30)
    os.close(master)
    t.ok(b"New password: " in out and b"Again: " in out,
         "on a terminal the password is asked twice")
    t.ok(b"Blue-Lamp-4242-x" not in out, "and not echoed")
    if b"added" not in out:
        t.diag("posternctl on a terminal said: %r" % out)
    t.ok(p.returncode == 0 and b"added tty@example.org" in out,
         "the user is added")
    t.is_(login("tty@example.org", "Blue-Lamp-4242-x")[0], 235,
          "with that password")


def test_passwd_history():
    r = passwd("bob@example.org", "Blue-Kettle-42")
    t.ok(r.returncode == 1 and "current password" in r.stderr,
         "passwd to the current password refused")
    t.is_(passwd("bob@example.org", "Green-Kettle-43").returncode, 0,
          "passwd to a new one")
    t.is_(passwd("bob@example.org", "Red-Kettle-44").returncode, 0,
          "and another")
    r = passwd("bob@example.org", "Blue-Kettle-42")
    t.ok(r.returncode == 1 and "one of the last 3 passwords" in r.stderr,
         "the password of two changes ago: refused (history 3)")
    t.is_(passwd("bob@example.org", "Black-Kettle-45").returncode, 0,
          "a fourth")
    t.is_(passwd("bob@example.org", "Blue-Kettle-42").returncode, 0,
          "the first one is out of the history now: accepted")
    r = passwd("bob@example.org", "Bad")
    t.like(r.stderr, "shorter than 12", "passwd applies the policy too")
    t.is_(login("bob@example.org", "Black-Kettle-45")[0], 535,
          "the old password no longer logs in")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 235,
          "the new one does")
    r = passwd("cfg@example.org", "Blue-Kettle-99")
    t.ok(r.returncode == 1 and "config file" in r.stderr,
         "a config account's password is not changed here")
    r = ctl("user", "del", "cfg@example.org")
    t.ok(r.returncode == 1 and "config file" in r.stderr,
         "nor is it deleted")


def test_roles_and_audit():
    nobody = user_ids("nobody")[0]
    gid = group_id("postern-admin")
    r = ctl("user", "list", uid=nobody, gid=gid)
    t.ok(r.returncode == 0 and "bob@example.org" in r.stdout,
         "an auditor may list users")
    t.is_(ctl("user", "show", "bob@example.org", uid=nobody,
              gid=gid).returncode, 0, "and show one")
    r = ctl("user", "add", "eve@example.org", "--password-stdin",
            input="Blue-Kettle-42\n", uid=nobody, gid=gid)
    t.ok(r.returncode == 1 and "permission denied" in r.stderr,
         "but not add")
    r = ctl("user", "unlock", "bob@example.org", uid=nobody, gid=gid)
    t.ok(r.returncode == 1 and "permission denied" in r.stderr,
         "nor unlock")
    time.sleep(0.3)
    cmds = events("control.command")
    t.ok(any(e.get("command") == "user add bob@example.org ********" and
             e.get("uid") == "0" and e.get("result") == "ok"
             for e in cmds), "control.command: user add, uid, no password")
    t.ok(any(e.get("command", "").startswith("user add carol") and
             e.get("result") == "failed" for e in cmds),
         "a refused add is audited as failed")
    denied = events("control.denied")
    t.ok(any(e.get("uid") == str(nobody) for e in denied),
         "control.denied for the auditor's add")
    everything = open(srv.events).read() + srv.read_log()
    t.ok(not any(pw in everything for pw in ("Blue-Kettle-42",
                                             "Green-Kettle-43",
                                             "Short-1a")),
         "no password in the events or the log")


def test_lock_and_lockout():
    r = ctl("user", "lock", "bob@example.org")
    t.ok(r.returncode == 0 and "disabled" in r.stdout, "user lock")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 535,
          "a locked user cannot log in")
    r = ctl("user", "lock", "bob@example.org", "2h")
    t.ok(r.returncode == 0 and "locked until" in r.stdout,
         "user lock for a duration: locked until")
    info = json.loads(ctl("--json", "user", "show", "bob@example.org").stdout)
    t.ok(info["state"] == "locked" and
         7100 < info["locked_until"] - time.time() <= 7200,
         "--json user show: locked for 2h")
    r = ctl("user", "lock", "bob@example.org", "soon")
    t.ok(r.returncode == 1 and "bad duration" in r.stderr,
         "a bad duration is refused")
    r = ctl("user", "unlock", "bob@example.org")
    t.ok(r.returncode == 0 and "active" in r.stdout, "user unlock")
    users = json.loads(ctl("user", "list", "--json").stdout)
    t.ok({u["address"]: u["state"] for u in users}.get("bob@example.org")
         == "active" and any(u["source"] == "config" for u in users),
         "--json user list")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 235,
          "and can log in again")
    t.is_(add("lou@example.org", "Blue-Kettle-42").returncode, 0, "add lou")
    codes = [login("lou@example.org", "wrong-%d" % i)[0] for i in range(3)]
    t.is_(codes, [535] * 3, "three wrong passwords: 535")
    code, text = login("lou@example.org", "Blue-Kettle-42")
    t.is_(code, 535, "then the right one is refused: locked")
    t.ok("lock" not in text.lower(), "and the reply does not say locked")
    t.like(ctl("user", "show", "lou@example.org").stdout, "locked until",
           "user show: locked until")
    time.sleep(0.3)
    t.ok(any(e.get("address") == "lou@example.org" and
             e.get("service") == "smtp" and e.get("ip") == "127.0.0.1" and
             e.get("reason") == "3 failures" for e in
             events("auth.lockout")),
         "auth.lockout event: address, service, ip, why")
    fails = [e for e in events("auth.fail")
             if e.get("address") == "lou@example.org"]
    t.ok(any(e.get("reason") == "bad password" for e in fails) and
         any(e.get("reason") == "locked" for e in fails) and
         all(e.get("service") == "smtp" and e.get("ip") == "127.0.0.1"
             for e in fails), "auth.fail: reasons, service, ip")
    t.ok(any(e.get("reason") == "unknown user" for e in events("auth.fail"))
         or login("nobody@example.org", "x" * 12)[0] == 535,
         "an unknown user fails")
    srv.stop()
    srv.start()
    t.is_(login("lou@example.org", "Blue-Kettle-42")[0], 535,
          "after a restart lou is still locked")
    t.is_(ctl("user", "unlock", "lou@example.org").returncode, 0, "unlock")
    t.is_(login("lou@example.org", "Blue-Kettle-42")[0], 235,
          "then lou logs in")
    time.sleep(0.3)
    t.ok(any(e.get("address") == "lou@example.org" and
             e.get("reason") == "admin" for e in events("auth.unlock")),
         "auth.unlock event")
    login("lou@example.org", "wrong-a")
    login("lou@example.org", "wrong-b")
    t.is_(login("lou@example.org", "Blue-Kettle-42")[0], 235,
          "two failures then a success")
    login("lou@example.org", "wrong-c")
    login("lou@example.org", "wrong-d")
    t.is_(login("lou@example.org", "Blue-Kettle-42")[0], 235,
          "the success reset the counter: two more do not lock")


def timed_fail(source, user):
    c = submission(SUB, source=source)
    start = time.monotonic()
    code, _ = c.cmd("AUTH PLAIN " + plain(user, "Not-The-Password-1"))
    dt = time.monotonic() - start
    c.close()
    return code, dt


def test_ip_delay():
    # a fresh client address: failures are answered later and later
    times = [timed_fail("127.0.0.55", "nobody%d@example.org" % i)[1]
             for i in range(6)]
    t.diag("failure replies from one IP: " +
           ", ".join("%.3f" % x for x in times))
    t.ok(times[4] >= 0.2 and times[5] >= 0.2,
         "the 5th and 6th failures from one IP wait 200 ms or more")
    code, dt = timed_fail("127.0.0.56", "nobody@example.org")
    t.ok(code == 535 and dt < max(times[4:]),
         "another IP is not slowed down by them (%.3f s)" % dt)
    # concurrent failures from the slowed IP are spaced, not parallel
    out = []
    sessions = [submission(SUB, source="127.0.0.55") for _ in range(4)]
    start = time.monotonic()
    for c in sessions:
        c.send("AUTH PLAIN " + plain("nobody@example.org", "x" * 12) +
               "\r\n")
    for c in sessions:
        out.append(c.reply()[0])
        c.close()
    dt = time.monotonic() - start
    t.ok(out == [535] * 4 and dt >= 0.7,
         "4 concurrent failures from one IP take %.2fs (>= 4 x 200 ms "
         "less slack)" % dt)


def test_expiry():
    reconfigure(max_age=", max_age: 2s")
    time.sleep(2.5)
    code, text = login("lou@example.org", "Blue-Kettle-42")
    t.is_(code, 535, "an expired password: 535")
    t.like(text, "xpired", "... and the reply says expired")
    t.like(ctl("user", "show", "lou@example.org").stdout, "(expired)",
           "user show says expired")
    t.is_(login("lou@example.org", "wrong-e")[0], 535,
          "a wrong password is still just wrong")
    t.is_(login("cfg@example.org", CFG_PW)[0], 235,
          "config accounts do not expire (no change date)")
    t.is_(passwd("lou@example.org", "Fresh-Kettle-46").returncode, 0,
          "passwd")
    t.is_(login("lou@example.org", "Fresh-Kettle-46")[0], 235,
          "a new password logs in")
    reconfigure()


def test_apppass():
    r = ctl("user", "apppass", "add", "bob@example.org", "phone",
            "--services", "smtp")
    t.is_(r.returncode, 0, "apppass add (smtp)")
    m = re.search(r"^([a-z2-7]{4}(?:-[a-z2-7]{4}){7})$", r.stdout, re.M)
    t.ok(m is not None, "it prints the password once: 8 groups of 4")
    phone = m.group(1) if m else "x"
    t.ok(len(phone.replace("-", "")) * 5 >= 128, "at least 128 bits")
    r = ctl("user", "apppass", "add", "bob@example.org", "tablet",
            "--services", "imap")
    tablet = re.search(r"^([a-z2-7-]{39})$", r.stdout, re.M).group(1)
    t.is_(login("bob@example.org", phone)[0], 235,
          "the smtp app password logs in over submission")
    t.is_(login("bob@example.org", phone.upper().replace("-", ""))[0], 235,
          "typed without dashes, in capitals")
    t.is_(login("bob@example.org", tablet)[0], 535,
          "the imap-only app password does not")
    r = ctl("user", "apppass", "list", "bob@example.org")
    line = [l for l in r.stdout.splitlines() if l.startswith("phone")]
    t.ok(line and re.search(r"smtp\s+\S+Z\s+\S+Z$", line[0]),
         "apppass list: label, services, created, last used")
    t.ok(phone not in r.stdout and phone not in
         open(os.path.join(srv.state, "auth", "accounts")).read(),
         "the password is not listed nor stored in clear")
    r = ctl("user", "apppass", "add", "bob@example.org", "phone")
    t.ok(r.returncode == 1 and "already" in r.stderr, "a duplicate label")
    r = ctl("user", "apppass", "revoke", "bob@example.org", "phone")
    t.is_(r.returncode, 0, "apppass revoke")
    t.is_(login("bob@example.org", phone)[0], 535,
          "a revoked app password no longer logs in")
    t.ok("phone" not in ctl("user", "apppass", "list",
                            "bob@example.org").stdout, "nor is listed")


def test_totp():
    # the app password tests left two failures: start from none
    t.is_(ctl("user", "unlock", "bob@example.org").returncode, 0,
          "unlock bob (resets the failure counter)")
    r = ctl("user", "totp", "confirm", "bob@example.org", "123456")
    t.ok(r.returncode == 1 and "no TOTP enrolment pending" in r.stderr,
         "confirm without enrolment")
    p = subprocess.Popen([POSTERNCTL, "-s", srv.socket, "user", "totp",
                          "enroll", "bob@example.org"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = []
    while True:
        line = p.stdout.readline()
        lines.append(line)
        if not line or line.startswith("Add it to an authenticator"):
            break
    head = "".join(lines)
    m = re.search(r"\(base32\): ([A-Z2-7]{32})", head)
    t.ok(m is not None, "totp enroll prints a 160-bit base32 secret")
    secret = m.group(1) if m else "A" * 32
    t.like(head, "otpauth://totp/mx.example.org:bob%40example.org?secret="
           + secret + "&issuer=mx.example.org", "and the otpauth:// URI")
    t.ok("\u2588" * 10 in head and "\u2580" in head and "\u2584" in head,
         "and a QR code")
    code = totp(secret)
    out, err = p.communicate(code + "\n", timeout=30)
    t.is_(p.returncode, 0, "the first code confirms it: " + err.strip())
    t.like(out, "TOTP is on", "... says TOTP is on")
    t.like(ctl("user", "show", "bob@example.org").stdout, "totp:       on",
           "user show: totp on")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 535,
          "the password alone no longer logs in")
    # the enrolment code's step is used: take the next step's code
    code = totp(secret, step_offset=1)
    t.is_(login("bob@example.org", "Blue-Kettle-42" + code)[0], 235,
          "password + code logs in")
    t.is_(login("bob@example.org", "Blue-Kettle-42" + code)[0], 535,
          "the same code again is refused (replay)")
    wrong = "000000" if code != "000000" else "111111"
    t.is_(login("bob@example.org", "Blue-Kettle-42" + wrong)[0], 535,
          "a wrong code is refused")
    time.sleep(0.3)
    t.ok(any(e.get("reason") == "second factor" and
             e.get("address") == "bob@example.org"
             for e in events("auth.fail")), "auth.fail: second factor")
    r = ctl("user", "totp", "enroll", "bob@example.org")
    t.ok(r.returncode == 1 and "already" in r.stderr,
         "enrolling again needs a disable first")
    t.is_(ctl("user", "unlock", "bob@example.org").returncode, 0,
          "reset the failure counter")


def test_two_factor_required():
    r = ctl("user", "apppass", "add", "lou@example.org", "mua")
    lou_app = re.search(r"^([a-z2-7-]{39})$", r.stdout, re.M).group(1)
    reconfigure(two_factor="required")
    code, text = login("lou@example.org", "Fresh-Kettle-46")
    t.is_(code, 535, "two_factor required: a password-only login fails")
    t.is_(login("lou@example.org", lou_app)[0], 235,
          "an app password still works")
    reconfigure()
    t.is_(login("lou@example.org", "Fresh-Kettle-46")[0], 235,
          "optional again: the password works")
    t.is_(ctl("user", "totp", "disable", "bob@example.org").returncode, 0,
          "totp disable")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 235,
          "then the password alone works again")


def store_path():
    return os.path.join(srv.state, "auth", "accounts")


def test_restart_and_kill():
    before = ctl("user", "list").stdout
    srv.stop()
    srv.start()
    t.is_(ctl("user", "list").stdout, before,
          "the store survives a restart unchanged")
    # an older scheme in the store is rehashed to yescrypt at login
    srv.stop()
    sha512 = subprocess.run(["openssl", "passwd", "-6", "Blue-Kettle-42"],
                            capture_output=True, text=True,
                            check=True).stdout.strip()
    text = open(store_path()).read()
    text = re.sub(r"(account bob@example.org\nsource store\nhash )\S+",
                  lambda m: m.group(1) + sha512, text)
    with open(store_path(), "w") as f:
        f.write(text)
    srv.start()
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 235,
          "a $6$ hash in the store logs in")
    t.ok(re.search(r"account bob@example.org\nsource store\nhash \$y\$",
                   open(store_path()).read()),
         "and is rehashed to yescrypt")
    # a store that does not parse: auth refuses to start on it
    srv.stop()
    good = open(store_path()).read()
    with open(store_path(), "w") as f:
        f.write(good.replace("state active", "state sleepy", 1))
    srv.start(wait=False)
    t.ok(srv.proc.wait(timeout=20) != 0, "a corrupt store stops posternd")
    t.like(srv.read_log(), "bad state sleepy",
           "and the log names the problem")
    with open(store_path(), "w") as f:
        f.write(good)
    try:
        os.unlink(srv.pidfile())
    except OSError:
        pass
    srv.start()
    acked, stop = [], threading.Event()

    def adder():
        i = 0
        while not stop.is_set():
            r = subprocess.run([POSTERNCTL, "-s", srv.socket, "user",
                                "add", "k%d@example.org" % i,
                                "--password-stdin"],
                               input="Blue-Kettle-42\n", text=True,
                               capture_output=True, timeout=30)
            if r.returncode == 0:
                acked.append("k%d@example.org" % i)
            i += 1
    th = threading.Thread(target=adder)
    th.start()
    deadline = time.time() + 30
    while len(acked) < 8 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.13)
    kill_tree(srv)
    stop.set()
    th.join()
    t.ok(len(acked) >= 8, "%d users added before kill -9" % len(acked))
    srv.start()
    listed = ctl("user", "list").stdout
    missing = [a for a in acked if a not in listed]
    t.is_(missing, [], "after kill -9 the store loads and every "
          "acknowledged user is there")
    t.is_(login(acked[-1], "Blue-Kettle-42")[0], 235,
          "the last acknowledged user logs in")
    t.is_(login("bob@example.org", "Blue-Kettle-42")[0], 235,
          "and the older accounts are intact")


try:
    srv.start()
    test_add_and_policy()
    test_rcpt_answers_follow_changes()
    test_terminal()
    test_passwd_history()
    test_roles_and_audit()
    test_lock_and_lockout()
    test_ip_delay()
    test_expiry()
    test_apppass()
    test_totp()
    test_two_factor_required()
    test_restart_and_kill()
finally:
    srv.cleanup()
t.done()
