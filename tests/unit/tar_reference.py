#!/usr/bin/env python3
"""An independent implementation of stowage's layer tar format, written
from its specification (lib/tar_header.h, lib/tree.h, DESIGN.md) rather
than from the C code, used by test_layer_golden to check the golden
digests: same tree, same bytes.

    tar_reference.py DIR PREFIX > layer.tar

writes the layer holding DIR's contents at PREFIX ("" for copy-to-root,
e.g. "/nix/store/<hash>-name" for a store path). Only what the golden tree
uses is covered: files, directories, symlinks, no permission rules."""
import os
import stat
import sys

BLOCK = 512
MTIME = 1


def octal(value, width, limit):
    if value > limit:
        value = 0  # carried by a PAX record
    return b"%0*o\0" % (width - 1, value)


def header(name, typeflag, mode, size=0, linkname=b"", uid=0, gid=0, owner=True):
    block = bytearray(BLOCK)
    block[0:len(name[:100])] = name[:100]
    block[100:108] = octal(mode & 0o7777, 8, 0o7777777)
    block[108:116] = octal(uid, 8, 0o7777777)
    block[116:124] = octal(gid, 8, 0o7777777)
    block[124:136] = octal(size, 12, 0o77777777777)
    block[136:148] = octal(MTIME, 12, 0o77777777777)
    block[156:157] = typeflag
    block[157:157 + len(linkname[:100])] = linkname[:100]
    block[257:265] = b"ustar\x0000"
    if owner and uid == 0:
        block[265:269] = b"root"
    if owner and gid == 0:
        block[297:301] = b"root"
    block[329:337] = octal(0, 8, 0o7777777)
    block[337:345] = octal(0, 8, 0o7777777)
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def pad(n):
    return b"\0" * ((BLOCK - n % BLOCK) % BLOCK)


def pax_record(key, value):
    body = b" %s=%s\n" % (key, value)
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length = len(str(length)) + len(body)
    return b"%d%s" % (length, body)


def entry(name, typeflag, mode, size=0, linkname=b""):
    records = b""
    if len(name) > 100:
        records += pax_record(b"path", name)
    if len(linkname) > 100:
        records += pax_record(b"linkpath", linkname)
    out = b""
    if records:
        out += header(b"././@PaxHeader", b"x", 0o644, len(records), owner=False)
        out += records + pad(len(records))
    return out + header(name, typeflag, mode, size, linkname)


def main():
    root, prefix = sys.argv[1].encode(), sys.argv[2].encode().strip(b"/")
    entries = {}
    parts = prefix.split(b"/") if prefix else []
    for i in range(1, len(parts)):  # synthesised parents
        entries[b"/".join(parts[:i])] = (None, None)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in [dirpath] + [os.path.join(dirpath, n) for n in dirnames + filenames]:
            rel = os.path.relpath(name, root)
            tar_path = b"/".join(p for p in [prefix, b"" if rel == b"." else rel] if p)
            if tar_path:
                entries[tar_path] = (name, os.lstat(name))
    out = sys.stdout.buffer
    for tar_path in sorted(entries):  # bytes sort bytewise
        source, st = entries[tar_path]
        if st is None or stat.S_ISDIR(st.st_mode):
            mode = 0o755 if st is None else st.st_mode & 0o1777
            out.write(entry(tar_path + b"/", b"5", mode))
        elif stat.S_ISLNK(st.st_mode):
            out.write(entry(tar_path, b"2", 0o777, linkname=os.readlink(source)))
        else:
            data = open(source, "rb").read()
            out.write(entry(tar_path, b"0", st.st_mode & 0o1777, len(data)))
            out.write(data + pad(len(data)))
    out.write(b"\0" * 2 * BLOCK)


main()
