#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn a KUnit run's kernel output into one result line per test case.

Usage: results.py KUNIT_TOOL_DIR TEST_LOG TEST_LIST KUNIT_PY_EXIT_STATUS
TEST_LOG is the KTAP output of the run (kunit.py's test.log); TEST_LIST the
cases the kernel holds, one SUITE.CASE a line (kunit.py exec --list_tests),
so that the cases a crash kept from running are reported too.
Prints "PASS kunit/SUITE.CASE" or "FAIL kunit/SUITE.CASE: reason". A skipped
case is a failure: nothing that did not run counts as passed.
"""
import io
import re
import sys

sys.path.insert(0, sys.argv[1])
import kunit_parser  # noqa: E402  (from the kernel tree, path added above)
import kunit_printer  # noqa: E402
from kunit_parser import TestStatus  # noqa: E402

MAX_REASON = 400
CRASH_LINES = re.compile(r'Kernel panic|RIP:|BUG|Oops|WARNING|segfault|Segfault|EXPECTATION|ASSERTION')


def one_line(lines):
    return ' '.join(' '.join(lines).split())[:MAX_REASON]


def failure_text(test):
    """The case's diagnostic lines from the KTAP log, on one line."""
    lines = []
    for line in test.log:
        # Drop the "# case_name: " diagnostic prefix and KTAP structure.
        line = re.sub(r'^#\s*(\w+:\s+)?', '', line.strip())
        if not line or re.match(r'(not )?ok \d|KTAP|TAP|1\.\.|Subtest:|(pass|Totals|duration):', line):
            continue
        lines.append(line)
    return one_line(lines)


def reason(test, output):
    if test.status == TestStatus.SKIPPED:
        # kunit_parser keeps no skip reason: take it from the result line.
        pattern = re.compile(r'ok \d+ ' + re.escape(test.name) + r'\s+# SKIP\s*(.*)')
        why = [m.group(1).strip() for m in map(pattern.search, output) if m]
        return 'skipped: ' + why[0] if why and why[0] else 'skipped'
    if test.status == TestStatus.TEST_CRASHED:
        return 'crashed: ' + (one_line(l.strip() for l in test.log if CRASH_LINES.search(l))
                              or 'no result line')
    details = [failure_text(test)]
    for param in test.subtests:
        if param.status != TestStatus.SUCCESS:
            details.append('[%s] %s' % (param.name, failure_text(param)
                                        or param.status.name.lower()))
    return ('failed: ' + ' '.join(d for d in details if d)).rstrip(': ')[:MAX_REASON]


def main():
    tool_dir, log_path, list_path, kunit_exit = sys.argv[1:5]
    with open(log_path, errors='replace') as f:
        output = f.read().splitlines()
    with open(list_path, errors='replace') as f:
        listed = [l.strip() for l in f if re.match(r'^[^\s.]+\.[^\s.]+$', l.strip())]
    # kunit.py has shown the parsed results already: parse silently.
    kunit_parser.stdout = kunit_printer.Printer(io.StringIO())
    root = kunit_parser.parse_run_tests(output)

    # Cases in the order the kernel runs them: the list when there is one,
    # else whatever the output shows.
    expected = []
    for entry in listed:
        suite, case = entry.split('.', 1)
        if not expected or expected[-1][0] != suite:
            expected.append((suite, []))
        expected[-1][1].append(case)
    if not expected:
        expected = [(s.name, [c.name for c in s.subtests]) for s in root.subtests]

    # A crash ends the run: its placeholders have no names, so cases are
    # matched by position within their suite, then by name.
    parsed = {}
    for position, suite in enumerate(root.subtests):
        parsed.setdefault(suite.name or position, suite)
    results = []
    died_in = None
    for position, (suite_name, cases) in enumerate(expected):
        suite = parsed.get(suite_name) or parsed.get(position)
        if suite is not None and suite.name not in ('', suite_name):
            suite = None
        ran = suite.subtests if suite is not None else []
        for index, case_name in enumerate(cases):
            name = 'kunit/%s.%s' % (suite_name, case_name)
            case = ran[index] if index < len(ran) else None
            if case is None or case.name not in ('', case_name):
                case = next((c for c in ran if c.name == case_name), None)
            if died_in:
                results.append('FAIL %s: not run: the UML kernel died in %s' % (name, died_in))
            elif case is None:
                results.append('FAIL %s: no result in the output' % name)
            elif case.status == TestStatus.SUCCESS:
                results.append('PASS ' + name)
            else:
                results.append('FAIL %s: %s' % (name, reason(case, output)))
                if case.status == TestStatus.TEST_CRASHED:
                    died_in = '%s.%s' % (suite_name, case_name)
        if not cases:
            results.append('FAIL kunit/%s: suite has no test cases' % suite_name)
    if not results:
        results.append('FAIL kunit/run: no KUnit suite ran')
    elif int(kunit_exit) != 0 and all(r.startswith('PASS') for r in results):
        results.append('FAIL kunit/run: kunit.py exited %s although every case passed'
                       % kunit_exit)
    print('\n'.join(results))


if __name__ == '__main__':
    main()
