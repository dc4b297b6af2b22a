# SPDX-License-Identifier: GPL-2.0 OR MIT
"""Prints the ExecStart= command of a systemd unit file as systemd runs
it, a word a line: %% is %, $$ is $ (the units here use no other
escapes; systemd-analyze verify checks their syntax), then each OLD=NEW
replaced, in order.

usage: python3 execstart.py UNIT [OLD=NEW...]"""

import shlex
import sys


def main():
    unit, subs = sys.argv[1], sys.argv[2:]
    lines = [l for l in open(unit) if l.startswith("ExecStart=")]
    if len(lines) != 1:
        sys.exit("%s: %d ExecStart lines, want one" % (unit, len(lines)))
    cmd = lines[0][len("ExecStart="):].strip()
    cmd = cmd.replace("%%", "%").replace("$$", "$")
    for sub in subs:
        old, new = sub.split("=", 1)
        cmd = cmd.replace(old, new)
    for word in shlex.split(cmd):
        print(word)


if __name__ == "__main__":
    main()
