#!/usr/bin/python3
"""Writes the large CSV test files that are not committed.

    gen_csv.py NAME [OUTDIR]

NAME is one of:
  big_field   a 1 MB unquoted field, a 1 MB quoted field with 1000 newlines
              in it, and good rows around them (big_field.expected)
  rows_10k    10,000 users with a few bad rows at fixed lines
              (rows_10k.expected names exactly those lines)
  rows_100k   100,000 valid users (for timing --dry-run)

The output is deterministic: the .expected files next to this script were
written by hand from the layout below, not from the program's output.
"""
import os
import sys


def big_field(w):
    w(b"username,email,name,ou\n")                         # 1
    w(b"bf1,bf1@example.com,First,Sales\n")                # 2
    w(b"bf2,bf2@example.com," + b"x" * (1 << 20) + b",Sales\n")   # 3
    # 4 .. 1004: a quoted 1 MB ou holding 1000 newlines
    chunk = b"y" * 1047 + b"\n"
    w(b'bf3,bf3@example.com,Third,"' + chunk * 1000 + b'end"\n')
    w(b"bf4,not-an-address,Fourth,Sales\n")                # 1005
    w(b"bf5,bf5@example.com," + b"z" * 1024 + b",Sales\n")  # 1006: 1024 bytes: within the field limit, too long for a name
    w(b"bf6,bf6@example.com," + b"z" * 1025 + b",Sales\n")  # 1007: one byte over
    w(b"bf7,bf7@example.com,Last,Sales\n")                 # 1008


def rows_10k(w):
    # Row k (1-based) is on line k + 1 until the two-line row at line 2500;
    # from there on, row k is on line k + 2.
    w(b"username,email,name,upn,ou,p12_format\n")
    line = 2
    for k in range(1, 10001):
        u = b"u%05d" % k
        row = u + b"," + u + b"@example.com,User " + b"%d" % k + b"," + \
            u + b"@corp.example,Dept " + b"%d" % (k % 17) + b","
        if line == 101:
            row = u + b"," + u + b"@,User,,,"                   # bad email
        elif line == 2500:
            row = u + b"," + u + b'@example.com,"Two\nlines",,,'  # 2500-2501
        elif line == 4001:
            row = u + b'"q,' + u + b"@example.com,User,,,"       # bad quoting
        elif line == 6001:
            row = b"u00010,dup@example.com,Dup,,,"               # first on line 11
        elif line == 8001:
            row = u + b"," + u + b"@example.com"                 # 2 fields of 6
        elif line == 9001:
            row = u + b"," + u + b"@example.com,User,,Dept \x01,"  # control
        elif line == 9500:
            row = u + b"," + u + b"@example.com,User,,,rc4"      # bad p12_format
        elif line == 10002:
            row = b"u 10000," + u + b"@example.com,Last,,,"      # bad username
        w(row + b"\r\n" if k % 2 else row + b"\n")              # mixed endings
        line += row.count(b"\n") + 1


def rows_100k(w):
    w(b"username,email,name,ou\n")
    for k in range(1, 100001):
        w(b"v%06d,v%06d@example.com,User %d,Dept %d\n" % (k, k, k, k % 31))


def main():
    gens = {"big_field": big_field, "rows_10k": rows_10k,
            "rows_100k": rows_100k}
    if len(sys.argv) not in (2, 3) or sys.argv[1] not in gens:
        sys.exit("usage: gen_csv.py big_field|rows_10k|rows_100k [OUTDIR]")
    name = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else "."
    path = os.path.join(out, name + ".csv")
    with open(path, "wb") as f:
        gens[name](f.write)


if __name__ == "__main__":
    main()
