"""Measure the retry schedules of real Postfix and Exim and print them beside mailsim's.

Not part of the test suite: it installs packages, starts mail daemons and takes about 25
minutes. Run it as root on a throwaway Debian/Ubuntu machine or container::

    python validation/mta_retry.py measure --out validation/measured.json
    python validation/mta_retry.py compare validation/measured.json
    python validation/mta_retry.py dead

``measure`` installs Postfix from the system's packages (``apt-get install postfix``) and
takes Exim's binary from its package without installing it (``apt-get download
exim4-daemon-light``, unpacked into the work folder: the two packages conflict as MTAs),
creating the ``Debian-exim`` user Exim is built for when it is missing. Each MTA runs with a
private configuration and spool in the work folder, listens on nothing but 127.0.0.1, and
relays one message to a stub SMTP server in this script that answers 451 to RCPT TO and
notes the time of every connection. Times are scaled down (default /20) so that hours of
retries take minutes. Three runs go in parallel:

* ``postfix``: ``queue_run_delay``, ``minimal_backoff_time`` and ``maximal_backoff_time``
  divided by the scale (300 s, 300 s, 4000 s -> 15 s, 15 s, 200 s);
* ``exim``: the default retry rule ``F,2h,15m; G,16h,1h,1.5; F,4d,6h`` and Debian's queue
  interval ``-q30m`` divided by the scale;
* ``exim-give-up``: a one-rule ``F,200s,150s`` with ``-q60s``, to see the give-up run (the
  forced attempt at the first queue run after the last cutoff, then the bounce).

Every daemon the script starts is stopped before it returns, also on errors; nothing else on
the machine is changed back (the packages stay installed).

``compare`` reads the measured attempt times and prints them beside the schedule mailsim's
``postfix`` and ``exim`` presets compute for the same (scaled) parameters and start times.

``dead`` (about a minute) looks at destination state: both MTAs relay to a port where nothing
listens, Postfix a message, another 5 s later, then a burst of 30; Exim a message and another
5 s later. It prints each MTA's log line for every message (tried and refused, or deferred
without a connection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

STUB_PORTS = {"postfix": 2601, "exim": 2602, "exim-give-up": 2603}


# --------------------------------------------------------------------------- #
# The stub SMTP server: 451 to every RCPT, every connection timed
# --------------------------------------------------------------------------- #


class Stub:
    """An SMTP responder on 127.0.0.1 that defers every recipient and records connection times."""

    def __init__(self, name: str, port: int) -> None:
        self.name = name
        self.port = port
        self.connections: list[float] = []
        self.rcpt_replies: list[float] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(time.time())
        writer.write(b"220 stub.test ESMTP\r\n")
        try:
            while True:
                line = await asyncio.wait_for(reader.readline(), 60)
                if not line:
                    break
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    writer.write(b"250-stub.test\r\n250 8BITMIME\r\n" if verb == b"EHLO" else b"250 stub.test\r\n")
                elif verb == b"RCPT":
                    self.rcpt_replies.append(time.time())
                    writer.write(b"451 4.3.0 try again later\r\n")
                elif verb == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    await writer.drain()
                    break
                elif verb == b"DATA":
                    writer.write(b"554 5.5.1 no valid recipients\r\n")
                else:
                    writer.write(b"250 ok\r\n")
                await writer.drain()
        except (TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()


# --------------------------------------------------------------------------- #
# Installing and configuring the MTAs
# --------------------------------------------------------------------------- #


def run(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, check=True, text=True, capture_output=True, **kwargs)


def install(work: Path) -> tuple[Path, dict[str, str]]:
    """Install Postfix, unpack Exim's binary into ``work``; returns Exim's path and the versions."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(["apt-get", "update"], env=env)
    subprocess.run(["debconf-set-selections"], input="postfix postfix/main_mailer_type select No configuration\n",
                   text=True, check=True)
    run(["apt-get", "install", "-y", "postfix", "libidn12"], env=env)
    run(["apt-get", "download", "exim4-daemon-light"], cwd=work, env=env)
    deb = next(work.glob("exim4-daemon-light_*.deb"))
    run(["dpkg-deb", "-x", str(deb), str(work / "exim-root")])
    if subprocess.run(["getent", "passwd", "Debian-exim"], capture_output=True).returncode != 0:
        run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/var/spool/exim4",
             "--shell", "/usr/sbin/nologin", "Debian-exim"])
    exim = work / "exim-root" / "usr" / "sbin" / "exim4"
    versions = {
        "postfix": run(["dpkg-query", "-W", "-f", "${Version}", "postfix"]).stdout,
        "exim": deb.name.split("_")[1],
        "os": Path("/etc/debian_version").read_text().strip() if Path("/etc/debian_version").exists() else "?",
    }
    return exim, versions


def postfix_config(work: Path, scale: float, port: int = STUB_PORTS["postfix"], name: str = "postfix") -> Path:
    """A private Postfix: own config and queue directories, relaying everything to 127.0.0.1:``port``."""
    conf = work / f"{name}-etc"
    conf.mkdir()
    shutil.copy("/etc/postfix/master.cf.proto" if Path("/etc/postfix/master.cf.proto").exists()
                else "/usr/share/postfix/master.cf.dist", conf / "master.cf")
    delay = round(300 / scale)
    (conf / "main.cf").write_text(
        "compatibility_level = 3.6\n"
        f"queue_directory = {work}/{name}-spool\n"
        f"data_directory = {work}/{name}-data\n"
        "mail_owner = postfix\n"
        "setgid_group = postdrop\n"
        "inet_interfaces = loopback-only\n"
        "inet_protocols = ipv4\n"
        "myhostname = sender.test\n"
        "mydestination =\n"
        "local_transport = error:no local delivery\n"
        f"relayhost = [127.0.0.1]:{port}\n"
        f"queue_run_delay = {delay}s\n"
        f"minimal_backoff_time = {round(300 / scale)}s\n"
        f"maximal_backoff_time = {round(4000 / scale)}s\n"
        "maximal_queue_lifetime = 5d\n"
        "smtp_connection_cache_on_demand = no\n"
        "smtp_tls_security_level = none\n"
        f"maillog_file_prefixes = {work}\n"
        f"maillog_file = {work}/{name}.log\n"
    )
    # No SMTP listener: mail is submitted with sendmail, the stub is the only server.
    master = (conf / "master.cf").read_text().splitlines()
    (conf / "master.cf").write_text("\n".join(line for line in master if not line.startswith("smtp      inet")) + "\n")
    (work / f"{name}-spool").mkdir()
    (work / f"{name}-data").mkdir()
    shutil.chown(work / f"{name}-data", "postfix")
    return conf


EXIM_CONFIG = """\
primary_hostname = sender.test
spool_directory = {spool}
log_file_path = {spool}/log/%slog
exim_path = {exim}
daemon_smtp_ports = {listen}
local_interfaces = 127.0.0.1
qualify_domain = a.test
delay_warning =
acl_smtp_rcpt = acl_check_rcpt

begin acl
acl_check_rcpt:
  deny

begin routers
to_stub:
  driver = manualroute
  domains = b.test
  transport = to_stub
  route_list = * 127.0.0.1
  self = send

begin transports
to_stub:
  driver = smtp
  port = {port}
  allow_localhost
  hosts_avoid_tls = *

begin retry
*   *   {rule}
"""


def exim_config(work: Path, exim: Path, name: str, rule: str, listen: int, port: int | None = None) -> Path:
    spool = work / f"{name}-spool"
    (spool / "log").mkdir(parents=True)
    shutil.chown(spool, "Debian-exim", "Debian-exim")
    shutil.chown(spool / "log", "Debian-exim", "Debian-exim")
    path = work / f"{name}.conf"
    port = STUB_PORTS[name] if port is None else port
    path.write_text(EXIM_CONFIG.format(spool=spool, exim=exim, port=port, rule=rule, listen=listen))
    return path


# --------------------------------------------------------------------------- #
# The measurement
# --------------------------------------------------------------------------- #


async def submit(cmd: list[str], message: str) -> None:
    """Hand a message to an MTA's sendmail interface without blocking the stubs' event loop."""
    proc = await asyncio.create_subprocess_exec(*cmd, stdin=asyncio.subprocess.PIPE,
                                                stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    await proc.communicate(message.encode())
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {proc.returncode}")


async def measure_async(work: Path, exim: Path, scale: float, duration_s: float) -> dict[str, Any]:
    stubs = {name: Stub(name, port) for name, port in STUB_PORTS.items()}
    servers = [await asyncio.start_server(s.handle, "127.0.0.1", s.port) for s in stubs.values()]
    started: list[list[str]] = []  # commands that stop what was started
    daemons: list[subprocess.Popen[bytes]] = []
    runs: dict[str, dict[str, Any]] = {}
    message = "From: sender@a.test\nTo: rcpt@b.test\nSubject: retry test\n\nhello\n"
    try:
        # Postfix: start the master (the queue manager's scan grid starts here), then submit.
        conf = postfix_config(work, scale)
        t_start = time.time()
        run(["postfix", "-c", str(conf), "start"])
        started.append(["postfix", "-c", str(conf), "stop"])
        await asyncio.sleep(2.0)
        t_submit = time.time()
        await submit(["sendmail", "-C", str(conf), "-f", "sender@a.test", "rcpt@b.test"], message)
        runs["postfix"] = {"started": t_start, "submitted": t_submit,
                           "params": {"queue_run_delay_s": round(300 / scale), "min_backoff_s": round(300 / scale),
                                      "max_backoff_s": round(4000 / scale)}}
        # Exim: a queue-runner daemon every interval (the first run at start), message delivered on arrival.
        e = [int(x / scale) for x in (7200, 900, 57600, 3600, 345600, 21600)]
        exim_rule = f"F,{e[0]}s,{e[1]}s; G,{e[2]}s,{e[3]}s,1.5; F,{e[4]}s,{e[5]}s"
        setups = {"exim": (exim_rule, int(1800 / scale), 2612), "exim-give-up": ("F,200s,150s", 60, 2613)}
        for name, (rule, interval_s, listen) in setups.items():
            cfg = exim_config(work, exim, name, rule, listen)
            t_start = time.time()
            # -bdf: a daemon in the foreground (we own its pid), listening on 127.0.0.1 only.
            daemon = subprocess.Popen([str(exim), "-C", str(cfg), "-bdf", f"-q{interval_s}s"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            daemons.append(daemon)
            await asyncio.sleep(2.0)
            t_submit = time.time()
            await submit([str(exim), "-C", str(cfg), "-odi", "-f", "sender@a.test", "rcpt@b.test"], message)
            runs[name] = {"started": t_start, "submitted": t_submit,
                          "params": {"rule": rule, "queue_interval_s": interval_s}}
        await asyncio.sleep(duration_s)
    finally:
        for daemon in daemons:
            daemon.terminate()
            daemon.wait(10)
        for cmd in started:
            subprocess.run(cmd, capture_output=True)
        for server in servers:
            server.close()
    for name, stub in stubs.items():
        if name in runs:
            base = runs[name]["submitted"]
            runs[name]["attempts_s"] = [round(t - base, 3) for t in stub.connections]
            runs[name]["started_s"] = round(runs[name]["started"] - base, 3)
    for name in ("exim", "exim-give-up"):
        log = work / f"{name}-spool" / "log" / "mainlog"
        if name in runs and log.exists():
            runs[name]["bounced_s"] = exim_bounce_s(log, runs[name]["submitted"])
    return runs


def exim_bounce_s(log: Path, submitted: float) -> float | None:
    """When Exim's log says the address timed out ("retry timeout exceeded"), after submission.

    The log has whole seconds of local time; the result is rounded to them.
    """
    for line in log.read_text().splitlines():
        if "retry timeout exceeded" in line:
            stamp = time.mktime(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
            return round(stamp - submitted, 3)
    return None


def measure(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("measure must run as root (it installs packages and starts mail daemons)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="mta-retry-"))
    os.chmod(work, 0o755)
    exim, versions = install(work)
    runs = asyncio.run(measure_async(work, exim, args.scale, args.duration))
    result = {"scale": args.scale, "duration_s": args.duration, "versions": versions, "runs": runs}
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {args.out}; work folder {work}")
    return 0


# --------------------------------------------------------------------------- #
# The comparison with mailsim
# --------------------------------------------------------------------------- #


def fitted_phase_s(measured_retry_s: float, every_s: float) -> float:
    """The phase of a scan grid through one measured retry time (seconds after the message arrived).

    The grid is fixed when the queue manager or the queue-runner daemon starts, a moment the
    script sees only to about a second; the first retry of the message falls on a scan, so it
    gives the phase. Every later attempt is then a prediction.
    """
    return measured_retry_s % every_s


def retry_anchor_s(run_: dict[str, Any]) -> float:
    """The measured first retry, or (with none) the daemon's start, where the grid begins."""
    real = run_["attempts_s"]
    return float(real[1]) if len(real) > 1 else float(run_["started_s"])


def mailsim_schedules(measured: dict[str, Any]) -> dict[str, list[float]]:
    """mailsim's attempt times for each measured run, on the same parameters, clock and horizon.

    Times are seconds after the message was submitted. The message's first attempt is put at
    the measured one (delivery on arrival); the scan grid's phase comes from the measured first
    retry (:func:`fitted_phase_s`).
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from simulator.retry import EximPolicy, PostfixPolicy, schedule

    horizon_s = measured["duration_s"]
    out: dict[str, list[float]] = {}
    runs = measured["runs"]
    if "postfix" in runs:
        p = runs["postfix"]["params"]
        real = runs["postfix"]["attempts_s"]
        policy = PostfixPolicy(min_backoff_s=p["min_backoff_s"], max_backoff_s=p["max_backoff_s"],
                               queue_run_delay_s=p["queue_run_delay_s"],
                               queue_phase_s=fitted_phase_s(retry_anchor_s(runs["postfix"]), p["queue_run_delay_s"]))
        out["postfix"] = schedule(policy, 0.0, real[0], horizon_s=horizon_s)
    for name in ("exim", "exim-give-up"):
        if name in runs:
            p = runs[name]["params"]
            real = runs[name]["attempts_s"]
            # Exim reads whole seconds of the wall clock: put the submission at its real fraction.
            frac = runs[name]["submitted"] % 1.0
            policy = EximPolicy(rule=p["rule"], queue_interval_s=p["queue_interval_s"],
                                queue_phase_s=fitted_phase_s(frac + retry_anchor_s(runs[name]), p["queue_interval_s"]))
            times = schedule(policy, frac, frac + real[0], horizon_s=horizon_s + frac)
            out[name] = [t - frac for t in times]
    return out


def compare(args: argparse.Namespace) -> int:
    measured = json.loads(Path(args.measured).read_text())
    model = mailsim_schedules(measured)
    v = measured["versions"]
    print(f"Postfix {v['postfix']}, Exim {v['exim']} (Debian {v['os']}); times scaled 1/{measured['scale']:g}, "
          f"seconds after submission")
    for name, run_ in measured["runs"].items():
        real = run_["attempts_s"]
        sim = model.get(name, [])
        bounce_s = None
        if len(sim) >= 2 and sim[-1] == sim[-2]:  # the schedule ended in a bounce (instant attempts)
            bounce_s, sim = sim[-1], sim[:-1]
        print(f"\n{name}: {run_['params']}; daemon started at {run_['started_s']:+.1f} s")
        print("| # | real (s) | mailsim (s) | real - mailsim (s) |")
        print("|---|---|---|---|")
        for i in range(max(len(real), len(sim))):
            r = f"{real[i]:.1f}" if i < len(real) else "-"
            s = f"{sim[i]:.1f}" if i < len(sim) else "-"
            d = f"{real[i] - sim[i]:+.1f}" if i < len(real) and i < len(sim) else ""
            print(f"| {i + 1} | {r} | {s} | {d} |")
        if bounce_s is not None or run_.get("bounced_s") is not None:
            real_bounce = run_.get("bounced_s")
            r = "-" if real_bounce is None else f"{real_bounce:.1f} (the log line's whole second)"
            print(f"| bounce | {r} | {'-' if bounce_s is None else f'{bounce_s:.1f}'} | |")
    return 0


CLOSED_PORT = 2609  # nothing listens here: every connection is refused (a connection-level failure)


async def dead_destination_async(work: Path, exim: Path, scale: float) -> dict[str, list[str]]:
    """Messages to a destination that refuses connections: what the MTAs log for each.

    Postfix: one message, a second 5 s later, then a burst of 30 at once. Exim: one message, a
    second 5 s later (both delivered on arrival, ``-odi``), and a queue run every 60 s.
    """
    message = "From: sender@a.test\nTo: rcpt@b.test\nSubject: dead destination\n\nhello\n"
    conf = postfix_config(work, scale, CLOSED_PORT, "postfix-dead")
    cfg = exim_config(work, exim, "exim-dead", "F,360s,45s; G,2880s,180s,1.5; F,17280s,1080s", 2614, CLOSED_PORT)
    run(["postfix", "-c", str(conf), "start"])
    daemon = subprocess.Popen([str(exim), "-C", str(cfg), "-bdf", "-q60s"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await asyncio.sleep(2.0)
        sendmail = ["sendmail", "-C", str(conf), "-f", "sender@a.test", "rcpt@b.test"]
        exim_send = [str(exim), "-C", str(cfg), "-odi", "-f", "sender@a.test", "rcpt@b.test"]
        await submit(sendmail, message)
        await submit(exim_send, message)
        await asyncio.sleep(5.0)
        await submit(sendmail, message)
        await submit(exim_send, message)
        await asyncio.sleep(5.0)
        await asyncio.gather(*(submit(sendmail, message) for _ in range(30)))
        await asyncio.sleep(5.0)
    finally:
        daemon.terminate()
        daemon.wait(10)
        subprocess.run(["postfix", "-c", str(conf), "stop"], capture_output=True)
    postfix_lines = [line for line in (work / "postfix-dead.log").read_text().splitlines() if "status=" in line]
    exim_log = work / "exim-dead-spool" / "log" / "mainlog"
    exim_lines = [line for line in exim_log.read_text().splitlines() if " == " in line or " <= " in line]
    return {"postfix": postfix_lines, "exim": exim_lines}


def dead(args: argparse.Namespace) -> int:
    if os.geteuid() != 0:
        print("dead must run as root (it installs packages and starts mail daemons)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="mta-dead-"))
    os.chmod(work, 0o755)
    exim, versions = install(work)
    lines = asyncio.run(dead_destination_async(work, exim, args.scale))
    print(f"Postfix {versions['postfix']}, Exim {versions['exim']}; destination 127.0.0.1:{CLOSED_PORT} refuses")
    for name, found in lines.items():
        print(f"\n{name}:")
        for line in found:
            print("  " + line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("measure", help="install and run the MTAs, record attempt times")
    m.add_argument("--out", default="measured.json")
    m.add_argument("--scale", type=float, default=20.0, help="divide the MTAs' times by this")
    m.add_argument("--duration", type=float, default=1200.0, help="seconds to watch after submitting")
    c = sub.add_parser("compare", help="print measured and mailsim schedules side by side")
    c.add_argument("measured")
    d = sub.add_parser("dead", help="send mail to a destination that refuses connections; print the MTAs' logs")
    d.add_argument("--scale", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.command == "dead":
        return dead(args)
    return measure(args) if args.command == "measure" else compare(args)


if __name__ == "__main__":
    sys.exit(main())
