// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The state file between two runs of a receiver (recvstate.c). */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "recvstate.h"
#include "testrecv.h"
#include "unit.h"

/* Run 1 of test_state: up to stop, with a hole; saved. */
static void state_run1(struct relstream *st, struct relcap *c, uint32_t hole,
		       uint32_t stop, const char *path)
{
	struct recvstate rs;
	struct reasm *ra;
	char err[256];

	relcap_reset(c, st);
	ra = rel_reasm(c);
	for (uint32_t s = 0; s < stop; s++)
		if (s != hole)
			relstream_send(st, ra, s, T0, 0);
	reasm_timer(ra, T0);
	unlink(path);
	CHECK(!recvstate_open(&rs, path, err, sizeof(err)) && !rs.existed,
	      "open: %s", err);
	CHECK(!recvstate_save(&rs, ra, err, sizeof(err)), "save: %s", err);
	recvstate_close(&rs);
	reasm_free(ra);
}

static struct reasm *state_run2(struct relstream *st, struct relcap *c,
				const char *path)
{
	struct recvstate rs;
	struct reasm *ra;
	char err[256];

	relcap_reset(c, st);
	ra = rel_reasm(c);
	CHECK(!recvstate_open(&rs, path, err, sizeof(err)) && rs.existed &&
	      rs.nstreams == 1 && !rs.nevicted, "reopen: %s", err);
	CHECK(!recvstate_restore(&rs, ra, err, sizeof(err)), "restore: %s",
	      err);
	recvstate_close(&rs);
	CHECK(reasm_stats(ra)->streams_restored == 1 && c->nstarts == 1 &&
	      c->starts[0].how == REASM_START_RESTORED, "restored");
	reasm_timer(ra, T0 + MS);
	return ra;
}

/*
 * A state file between two runs: the second asks for the hole and for
 * what the first took but could not finish (a record under way at the
 * stop), and every record comes out once across both; if the sender no
 * longer holds them, the LOST lines name none the first run wrote.
 */
static void test_state(void)
{
	static struct relstream st;
	static struct relcap c1, c2;
	const char *path = unit_tmpfile("state");
	uint8_t gapped[4096] = { 0 }, touched[4096], in_lost[4096] = { 0 };
	uint32_t hole, stop, asked = 0;
	struct reasm *ra;

	relstream_make(&st, 80, 3000);
	hole = st.ndg / 3;
	stop = 2 * st.ndg / 3;
	state_run1(&st, &c1, hole, stop, path);
	CHECK(c1.nrec && c1.nrec < st.nrec && !c1.nlost, "run 1: %u records",
	      c1.nrec);

	/* The sender answers: retransmissions, then the rest. */
	ra = state_run2(&st, &c2, path);
	CHECK(c2.nnack >= 1 && c2.nacked[0].first <= hole &&
	      c2.nacked[0].last >= hole &&
	      c2.nacked[c2.nnacked - 1].last == stop - 1,
	      "run 2 asked for %u ranges, %u..%u first", c2.nnacked,
	      c2.nacked[0].first, c2.nacked[0].last);
	for (unsigned int i = 0; i < c2.nnacked && i < 64; i++)
		for (uint32_t s = c2.nacked[i].first; s != c2.nacked[i].last + 1;
		     s++) {
			relstream_send(&st, ra, s, T0 + 2 * MS, 1);
			asked++;
		}
	CHECK(asked < stop - hole, "asked for %u seqs again", asked);
	for (uint32_t s = stop; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0 + 2 * MS, 0);
	CHECK(!reasm_timer(ra, T0 + 100 * MS) && !c2.nlost,
	      "run 2: %u LOST", c2.nlost);
	for (unsigned int r = 0; r < st.nrec; r++)
		CHECK(c1.emitted[r] + c2.emitted[r] == 1,
		      "record %u: run 1 %u, run 2 %u", r, c1.emitted[r],
		      c2.emitted[r]);
	reasm_free(ra);

	/* The sender holds none of it any more: GAPs. */
	ra = state_run2(&st, &c2, path);
	for (unsigned int i = 0; i < c2.nnacked && i < 64; i++) {
		send_gap(ra, c2.nacked[i].first, c2.nacked[i].last, T0 + 2 * MS);
		for (uint32_t s = c2.nacked[i].first; s != c2.nacked[i].last + 1;
		     s++)
			gapped[s] = 1;
	}
	for (uint32_t s = stop; s < st.ndg; s++)
		relstream_send(&st, ra, s, T0 + 2 * MS, 0);
	records_in(&st, gapped, touched);
	for (unsigned int i = 0; i < c2.nlost && i < 1024; i++) {
		CHECK(c2.lost[i].has_record_first && c2.lost[i].has_record_last,
		      "open LOST");
		for (uint32_t r = c2.lost[i].record_first;
		     r != c2.lost[i].record_last + 1 && r < st.nrec; r++)
			in_lost[r]++;
	}
	for (unsigned int r = 0; r < st.nrec; r++)
		CHECK(c1.emitted[r] + c2.emitted[r] + in_lost[r] == 1 &&
		      (!in_lost[r] || touched[r]),
		      "record %u: run 1 %u, run 2 %u, LOST %u (touched %u)", r,
		      c1.emitted[r], c2.emitted[r], in_lost[r], touched[r]);
	reasm_free(ra);
	relstream_free(&st);
}

/* A state file that is not one is refused, naming it and its line. */
static void test_state_file(void)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{ "", "line 0: empty" },
		{ "tlstap-receiver-state 2\nend 0\n", "version 2" },
		{ "hello 1\n", "not a tlstap receiver state" },
		{ "tlstap-receiver-state 1\n", "no 'end'" },
		{ "tlstap-receiver-state 1\nend 0", "line 2: cut short" },
		{ "tlstap-receiver-state 1\nend 1\n", "does not count" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records -\nrange 9 9 never unknown missing\n"
		  "end 1\n", "line 3: range 9..9: not within" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records -\nrange 4 5 never unknown missing\n"
		  "range 5 6 never unknown lost\nend 1\n", "line 4" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records -\nnotdone 1 2\nend 1\n",
		  "without records" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top known:x records 3\nend 1\n", "top 'known:x'" },
		{ "tlstap-receiver-state 1\nstream 10.0.0.1:7419 5 seq 9 top never records 3\nevicted 10.0.0.1:7419 5 seq 1 top never records -\nend 2\n", "twice" },
		{ "tlstap-receiver-state 1\nrange 1 2 never never gap\nend 0\n",
		  "outside a stream" },
		{ "tlstap-receiver-state 1\nstreams 1\nend 0\n",
		  "unknown item" },
		{ "tlstap-receiver-state 1\nend 0\nend 0\n", "after 'end'" },
	};
	const char *path = unit_tmpfile("bad");
	struct recvstate rs, other;
	char err[256];
	FILE *f;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		f = fopen(path, "w");
		fputs(cases[i].text, f);
		fclose(f);
		err[0] = '\0';
		CHECK(recvstate_open(&rs, path, err, sizeof(err)) &&
		      strstr(err, path) && strstr(err, cases[i].want),
		      "case %zu: '%s', want '%s'", i, err, cases[i].want);
		recvstate_close(&rs);
	}
	/* Well formed, with every item. */
	f = fopen(path, "w");
	fputs("tlstap-receiver-state 1\nstream [fd00::1]:7419 5 seq 9 top known:4 records 7\nrange 2 3 known:1 unknown missing\n"
	      "range 5 5 unknown never gap\nnotdone 3 4\nevicted 10.0.0.1:7419 5 seq 1 top never records -\nend 2\n", f);
	fclose(f);
	CHECK(!recvstate_open(&rs, path, err, sizeof(err)) &&
	      rs.nstreams == 2 && rs.nevicted == 1, "well formed: %s", err);
	/* One receiver per state file. */
	CHECK(recvstate_open(&other, path, err, sizeof(err)) &&
	      strstr(err, "another process uses it"), "second: '%s'", err);
	recvstate_close(&other);
	recvstate_close(&rs);
}

UNIT_TESTS(UNIT_TEST(test_state), UNIT_TEST(test_state_file))
