"""free_port.py USED-FILE: print a TCP port on 127.0.0.1 that nothing is
bound to now and that is not listed in USED-FILE (then list it there).

Chosen at random below the kernel's ephemeral range (32768+ on Linux), so
the outgoing connections of tests running beside this one (curl, wrk, the
slowloris clients) never hold it, and two tests rarely pick the same one.
"""
import os
import random
import socket
import sys

used = set()
if os.path.exists(sys.argv[1]):
    used = {int(x) for x in open(sys.argv[1]).read().split()}
lo, hi = 10000, 32000
try:
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        hi = min(hi, int(f.read().split()[0]) - 1)
except (OSError, ValueError, IndexError):
    pass
for _ in range(200):
    p = random.randrange(lo, hi)
    if p in used:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
    except OSError:
        continue
    finally:
        s.close()
    with open(sys.argv[1], "a") as f:
        f.write("%d\n" % p)
    print(p)
    sys.exit(0)
sys.exit("free_port.py: no free port")
