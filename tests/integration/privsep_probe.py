#!/usr/bin/env python3
"""Look at userca-enrolld's two processes from outside (run as root).

  privsep_probe.py table MONITOR_PID HOME [noscan]
      finds the network child (the monitor's child process), and for both
      prints: uid, NoNewPrivs, Seccomp, whether an open descriptor is the
      database, a key or anything in the CA home, and whether the issuing
      key's private scalar (from `openssl pkey -text` of issuing/ca.key, in
      either byte order) is in its memory (/proc/PID/maps + /proc/PID/mem).
      Lines "childpid PID" and "row NAME k=v ..." for the shell test.
      noscan: no memory scan (sanitizer builds: their shadow memory is
      terabytes of mappings).
  privsep_probe.py child MONITOR_PID
      prints the network child's pid (nothing when there is none).
  privsep_probe.py inject CHILD_PID KIND
      takes a copy of the child's socketpair end (fd 3, pidfd_getfd) and
      writes one malformed message to the monitor as the child would:
      KIND version | type | length | body.
"""
import ctypes
import os
import re
import struct
import subprocess
import sys


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        ppid = int(st.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(d))
    return out


def status(pid):
    s = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            s[k] = v.strip()
    return s


def scalar(home):
    txt = subprocess.run(["openssl", "pkey", "-in",
                          os.path.join(home, "issuing", "ca.key"), "-text",
                          "-noout"], check=True, capture_output=True,
                         text=True).stdout
    m = re.search(r"(?:priv|privateExponent):\s*\n((?:\s+[0-9a-f:]+\n)+)",
                  txt)
    if not m:
        raise SystemExit("no private scalar in openssl pkey -text")
    b = bytes.fromhex(re.sub(r"[\s:]", "", m.group(1)))
    return b.lstrip(b"\0")


def rss_by_region(pid):
    """Resident kB per mapping start, from /proc/PID/smaps."""
    rss, start = {}, None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                start = int(line.split("-")[0], 16)
            elif line.startswith("Rss:") and start is not None:
                rss[start] = int(line.split()[1])
    return rss


def in_memory(pid, needles):
    """Whether a needle is in the process's resident memory, read in 8 MiB
    pieces (overlapping by the longest needle); mappings with nothing
    resident are skipped (a sanitizer's shadow reserves terabytes)."""
    rss = rss_by_region(pid)
    over = max(len(n) for n in needles)
    step = 8 << 20
    with open(f"/proc/{pid}/maps") as maps, \
            open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for line in maps:
            f = line.split()
            if "r" not in f[1] or (len(f) > 5 and f[5] in ("[vvar]",
                                                           "[vsyscall]")):
                continue
            lo, hi = (int(x, 16) for x in f[0].split("-"))
            if rss.get(lo, 1) == 0:
                continue
            for a in range(lo, hi, step):
                try:
                    mem.seek(a)
                    data = mem.read(min(step + over, hi - a))
                except (OSError, ValueError, OverflowError):
                    continue
                if any(n in data for n in needles):
                    return True
    return False


def fds(pid, home):
    home = os.path.realpath(home)
    bad = []
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            t = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        n += 1
        if (t.startswith(home + "/") or t == home or "userca.db" in t or
                t.endswith(".key")):
            bad.append(t)
    return n, bad


def table(mon, home, scan=True):
    kids = children(mon)
    s = scalar(home)
    needles = [s, s[::-1]]
    print(f"scalar {len(s)} bytes")
    rows = [("monitor", mon)] + [("child", k) for k in kids]
    for k in kids:
        print(f"childpid {k}")
    print(f"{'process':8} {'pid':>7} {'uid':>6} {'nnp':>3} {'seccomp':>7} "
          f"{'fds':>4} {'CA-home fds':>11} {'key scalar':>10}")
    for name, pid in rows:
        st = status(pid)
        uid = st["Uid"].split()
        n, bad = fds(pid, home)
        mem = in_memory(pid, needles) if scan else None
        print(f"{name:8} {pid:>7} {uid[0]:>6} {st.get('NoNewPrivs', '?'):>3} "
              f"{st.get('Seccomp', '?'):>7} {n:>4} {len(bad):>11} "
              f"{'FOUND' if mem else 'absent' if scan else '-':>10}")
        print(f"row {name} pid={pid} uids={','.join(uid)} "
              f"nnp={st.get('NoNewPrivs', '?')} "
              f"seccomp={st.get('Seccomp', '?')} homefds={len(bad)} "
              f"scalar={'-' if not scan else '1' if mem else '0'}")
        for b in bad:
            print(f"  {name} holds {b}")


def inject(pid, kind):
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    fd = libc.syscall(438, pidfd, 3, 0)	# pidfd_getfd
    if fd < 0:
        raise SystemExit(f"pidfd_getfd: errno {ctypes.get_errno()}")
    v = 2	# enroll/door.h DOOR_VERSION: each other kind is wrong only there
    hdr = {
        "version": struct.pack(">HHIII", 99, 3, 1, 0, 0),
        "type": struct.pack(">HHIII", v, 0x42, 1, 0, 0),
        "length": struct.pack(">HHIII", v, 3, 1, 0x7fffffff, 0),
        # a REDEEM whose method is 9 and whose key is empty
        "body": struct.pack(">HHIII", v, 4, 1, 4 + 22 + 8 + 4 + 4, 0) +
        struct.pack(">I", 22) + b"A" * 22 + struct.pack(">Q", 9) +
        struct.pack(">I", 0) + struct.pack(">I", 0),
    }[kind]
    os.write(fd, hdr)
    os.close(fd)
    os.close(pidfd)


def main():
    if sys.argv[1] == "table":
        table(int(sys.argv[2]), sys.argv[3],
              len(sys.argv) < 5 or sys.argv[4] != "noscan")
    elif sys.argv[1] == "child":
        for k in children(int(sys.argv[2])):
            print(k)
    elif sys.argv[1] == "inject":
        inject(int(sys.argv[2]), sys.argv[3])


if __name__ == "__main__":
    main()
