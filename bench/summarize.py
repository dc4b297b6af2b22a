#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the key=value lines of bench/kmod-vs-fwd.sh into markdown tables.

Usage: bench/summarize.py [FILE]   (default: standard input)

Reads the lines that start with "round=" (other lines are skipped), and
prints the median of each figure per (record size, variant) over the
rounds, with the range of records/s to show the noise, then the ratios of
those medians for each pair of PAIRS (the module against tlstap-fwd and
against itself without GSO, each capture ring against write()).
A line that starts with "round=" but lacks a figure or holds a bad value
is an error: the file, line number and problem go to stderr, exit 1.
"""
import statistics
import sys

VARIANTS = ("kmod", "fwd", "kmod-nogso", "kmod-ring", "fwd-ring")
PAIRS = (("kmod", "fwd"), ("kmod", "kmod-nogso"), ("kmod-ring", "kmod"),
         ("fwd-ring", "fwd"))
# Figures of one run, as kmod-vs-fwd.sh names them.
FIGURES = ("write_ns_p50", "write_ns_p99", "rec_per_s", "cpu_us_per_rec",
           "writer_us_per_rec", "dgrams_per_rec")
RATIOS = (("cpu_us_per_rec", "CPU/record"), ("rec_per_s", "records/s"),
          ("write_ns_p50", "write() p50"))


class BadInput(Exception):
    pass


def parse_run(line):
    fields = {}
    for word in line.split():
        key, sep, value = word.partition("=")
        if not sep:
            raise BadInput("'%s' is not key=value" % word)
        fields[key] = value
    for key in ("round", "variant", "size") + FIGURES:
        if key not in fields:
            raise BadInput("no %s=" % key)
    if fields["variant"] not in VARIANTS:
        raise BadInput("unknown variant '%s'" % fields["variant"])
    run = {"variant": fields["variant"]}
    try:
        run["size"] = int(fields["size"])
        for key in FIGURES:
            run[key] = float(fields[key])
    except ValueError as e:
        raise BadInput(str(e)) from None
    return run


def read_runs(stream, name):
    runs = {}
    for number, line in enumerate(stream, 1):
        if not line.startswith("round="):
            continue
        try:
            run = parse_run(line)
        except BadInput as e:
            raise BadInput("%s:%d: %s" % (name, number, e)) from None
        runs.setdefault((run["size"], run["variant"]), []).append(run)
    if not runs:
        raise BadInput("%s: no round= lines (is it kmod-vs-fwd.sh output?)" % name)
    return runs


def size_label(size):
    return "%d KiB" % (size // 1024) if size % 1024 == 0 else "%d B" % size


def medians(runs):
    return {key: {f: statistics.median(r[f] for r in rs) for f in FIGURES}
            for key, rs in runs.items()}


def print_tables(runs):
    med = medians(runs)
    sizes = sorted({size for size, _ in med})
    print("| record | variant | rounds | write() p50 us | write() p99 us "
          "| records/s | records/s min-max | CPU us/record (machine) | writer CPU us/record "
          "| datagrams/record |")
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for size in sizes:
        for variant in VARIANTS:
            m = med.get((size, variant))
            if m is None:
                continue
            rates = [r["rec_per_s"] for r in runs[(size, variant)]]
            print("| %s | %s | %d | %.1f | %.1f | %.0f | %.0f-%.0f | %.1f "
                  "| %.1f | %.2f |" % (
                      size_label(size), variant, len(rates),
                      m["write_ns_p50"] / 1000, m["write_ns_p99"] / 1000,
                      m["rec_per_s"], min(rates), max(rates),
                      m["cpu_us_per_rec"], m["writer_us_per_rec"],
                      m["dgrams_per_rec"]))
    print()
    head = "| record |"
    rule = "|---:|"
    for one, other in PAIRS:
        for _, label in RATIOS:
            head += " %s %s/%s |" % (label, one, other)
            rule += "---:|"
    print(head)
    print(rule)
    for size in sizes:
        row = "| %s |" % size_label(size)
        for one, other in PAIRS:
            a, b = med.get((size, one)), med.get((size, other))
            for figure, _ in RATIOS:
                if a is None or b is None or b[figure] == 0:
                    row += " - |"
                else:
                    row += " %.2f |" % (a[figure] / b[figure])
        print(row)


def main(argv):
    if len(argv) > 2:
        print("usage: %s [FILE]" % argv[0], file=sys.stderr)
        return 2
    try:
        if len(argv) == 2:
            with open(argv[1], encoding="utf-8") as f:
                runs = read_runs(f, argv[1])
        else:
            runs = read_runs(sys.stdin, "<stdin>")
    except (OSError, BadInput) as e:
        print("summarize.py: %s" % e, file=sys.stderr)
        return 1
    print_tables(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
