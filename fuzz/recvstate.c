// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The receivers' state file (nfq-tools/lib/recvstate.c) read from
 * arbitrary text, and what it accepts handed to the reassembly core. A
 * state file is the receiver's own, but a damaged one must be refused
 * with a message, never crash a receiver or mislead its core. Checks: the
 * reader accepts the text or refuses it with a message naming the file
 * and a line; what it accepts restores into a core (under small limits,
 * so that streams are evicted and evicted ones forgotten), which then
 * takes a HEARTBEAT and a timer tick per stream without fault; the text
 * it saves, restored into a second core, is saved again unchanged (a
 * restart changes nothing of what the state holds). ASan's leak check
 * covers both paths.
 */
#include "fuzz.h"
#include "recvstate.h"

static void no_record(void *arg, const struct reasm_record *r)
{
	(void)arg;
	(void)r;
}

static void no_lost(void *arg, const struct reasm_lost *l)
{
	(void)arg;
	(void)l;
}

static void no_nack(void *arg, const struct endpoint *to, const uint8_t *msg,
		    size_t len)
{
	(void)arg;
	(void)to;
	(void)msg;
	(void)len;
}

static const struct reasm_ops ops = { no_record, no_lost, no_nack, NULL };
static const struct reasm_config cfg = {
	.max_msg_len = 65536,
	.max_pending_bytes = 1u << 20,
	.max_streams = 4,
	.max_evicted = 8,
};

/* A core restored from text, and the text it saves; NULL if refused. */
static struct reasm *restored(const char *text, size_t len, char **saved,
			      size_t *saved_len, char *err, size_t errlen)
{
	struct recvstate st;
	struct reasm *r;
	FILE *f = fmemopen((void *)text, len, "r");
	int rc;

	CHECK(f, "fmemopen");
	memset(&st, 0, sizeof(st));
	st.path = "fuzz-state";
	rc = recvstate_read(&st, f, "fuzz-state", err, errlen);
	fclose(f);
	if (rc)
		return NULL;
	r = reasm_new(&cfg, &ops, NULL);
	CHECK(r, "reasm_new");
	CHECK(!recvstate_restore(&st, r, err, errlen), "restore: %s", err);
	f = open_memstream(saved, saved_len);
	CHECK(f && !recvstate_write(r, f) && !fclose(f), "recvstate_write");
	return r;
}

/* Restored streams take a datagram and a tick like any. */
static void exercise(struct reasm *r, const char *saved)
{
	struct reasm_dgram_info info;
	uint8_t hb[WIRE_HEARTBEAT_LEN];
	const char *p = saved;

	for (int n = 0; n < 16 && (p = strstr(p, "\nstream ")); n++, p++) {
		char addr[64];
		unsigned int id, seq;
		struct endpoint ep;
		char err[160];

		if (sscanf(p + 8, "%63s %u seq %u", addr, &id, &seq) != 3 ||
		    endpoint_parse(addr, 0, &ep, err, sizeof(err)))
			continue;
		wire_build_heartbeat(hb, id, seq + 3, seq);
		reasm_datagram(r, &ep, hb, sizeof(hb), 1000000000ull, &info);
	}
	reasm_timer(r, 2000000000ull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *first = NULL, *second = NULL;
	size_t first_len = 0, second_len = 0;
	struct reasm *r, *r2;

	err[0] = '\0';
	r = restored((const char *)data, size, &first, &first_len, err,
		     sizeof(err));
	if (!r) {
		CHECK(strstr(err, "fuzz-state") && strstr(err, "line "),
		      "refused without saying where: '%s'", err);
		return 0;
	}
	r2 = restored(first, first_len, &second, &second_len, err,
		      sizeof(err));
	CHECK(r2, "its own saved text refused: %s\n%s", err, first);
	CHECK(second_len == first_len && !memcmp(first, second, first_len),
	      "saved again differently:\n%s---\n%s", first, second);
	reasm_free(r2);
	exercise(r, first);
	reasm_free(r);
	free(first);
	free(second);
	return 0;
}
