// SPDX-License-Identifier: GPL-2.0 OR MIT
/* JSON lines (jsonout.c): records, loss reports, OPEN, CLOSE, LOST. */
#include <stdlib.h>
#include <string.h>

#include "jsonout.h"
#include "testrec.h"
#include "unit.h"

/* The JSON line of a record and of a loss report. */
static void test_jsonout(void)
{
	uint8_t rec[72 + 5], loss[72];
	struct endpoint sender = { .family = 4, .addr = { 127, 0, 0, 1 },
				   .port = 7419 };
	struct record_info ri;
	struct reasm_record rr = { .sender = &sender, .stream_id = 3405691582u,
				   .record_id = 4, .seq_first = 2,
				   .writer_pid = 31337, .writer_uid = 1000,
				   .rec = &ri };
	struct jsonout j;
	char *text = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&text, &size);

	CHECK(f != NULL, "open_memstream");
	if (!f)
		return;
	jsonout_init(&j, f);
	make_record(rec, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_WRITE, 5, 1, 'a');
	record_parse(rec, sizeof(rec), 65536, &ri);
	CHECK(!jsonout_record(&j, &rr), "data record");
	make_record(loss, TLSTAP_FAMILY_NONE, TLSTAP_DIR_READ, 0, 9, 0);
	record_parse(loss, sizeof(loss), 65536, &ri);
	/* A leap day's first nanoseconds, in both forms. */
	ri.timestamp_ns = 951782400000000005ull;
	/* From a sender that could not know its writer: null, null. */
	rr.writer_pid = 0;
	rr.writer_uid = TLSTAP_WRITER_UID_UNKNOWN;
	CHECK(!jsonout_record(&j, &rr), "loss report");
	/* An OPEN and a CLOSE: len 0, dropped 0, no data. */
	make_record(loss, TLSTAP_FAMILY_IPV4, TLSTAP_DIR_READ, 0, 9, 0);
	((struct tlstap_record *)loss)->type = TLSTAP_RECORD_OPEN;
	((struct tlstap_record *)loss)->dropped = 0;
	CHECK(record_parse(loss, sizeof(loss), 65536, &ri) == RECORD_OK &&
	      !jsonout_record(&j, &rr), "OPEN");
	((struct tlstap_record *)loss)->type = TLSTAP_RECORD_CLOSE;
	CHECK(record_parse(loss, sizeof(loss), 65536, &ri) == RECORD_OK &&
	      !jsonout_record(&j, &rr), "CLOSE");
	CHECK(!fclose(f), "fclose");
	jsonout_free(&j);
	CHECK(text && !strcmp(text,
"{\"type\":\"data\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":31337,\"writer_uid\":1000,\"conn_id\":1,\"dir\":\"write\",\"family\":4,\"src\":\"10.0.0.1\",\"sport\":443,\"dst\":\"10.0.0.2\",\"dport\":50001,\"len\":5,\"dropped\":7,\"data\":\"YWhvdn0=\"}\n"
"{\"type\":\"loss\",\"time\":\"2000-02-29T00:00:00.000000005Z\",\"time_ns\":951782400000000005,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":null,\"writer_uid\":null,\"conn_id\":9,\"dir\":\"read\",\"family\":0,\"src\":null,\"sport\":0,\"dst\":null,\"dport\":0,\"len\":0,\"dropped\":7}\n"
"{\"type\":\"open\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":null,\"writer_uid\":null,\"conn_id\":9,\"dir\":\"read\",\"family\":4,\"src\":\"10.0.0.1\",\"sport\":443,\"dst\":\"10.0.0.2\",\"dport\":50009,\"len\":0,\"dropped\":0}\n"
"{\"type\":\"close\",\"time\":\"2023-11-14T22:13:20.123456789Z\",\"time_ns\":1700000000123456789,\"sender\":\"127.0.0.1:7419\",\"stream\":3405691582,\"record_id\":4,\"seq_first\":2,\"pid\":4242,\"writer_pid\":null,\"writer_uid\":null,\"conn_id\":9,\"dir\":\"read\",\"family\":4,\"src\":\"10.0.0.1\",\"sport\":443,\"dst\":\"10.0.0.2\",\"dport\":50009,\"len\":0,\"dropped\":0}\n"),
	      "JSON lines:\n%s", text ? text : "(none)");
	free(text);

	/* LOST lines, with an end that cannot be known as null. */
	{
		struct reasm_lost l = {
			.sender = &sender, .stream_id = 7, .seq_first = 10,
			.seq_last = 12, .record_first = 4, .record_last = 9,
			.has_record_first = 1, .has_record_last = 1,
			.reason = GAP_REASON_GAP,
		};

		text = NULL;
		f = open_memstream(&text, &size);
		CHECK(f && !jsonout_lost(f, &l), "LOST line");
		l.has_record_last = 0;
		l.reason = GAP_REASON_TIMEOUT;
		CHECK(f && !jsonout_lost(f, &l), "open LOST line");
		CHECK(f && !fclose(f), "fclose");
		CHECK(text && !strcmp(text,
"{\"type\":\"lost\",\"sender\":\"127.0.0.1:7419\",\"stream\":7,\"record_first\":4,\"record_last\":9,\"seq_first\":10,\"seq_last\":12,\"reason\":\"gap\"}\n"
"{\"type\":\"lost\",\"sender\":\"127.0.0.1:7419\",\"stream\":7,\"record_first\":4,\"record_last\":null,\"seq_first\":10,\"seq_last\":12,\"reason\":\"timeout\"}\n"),
		      "LOST lines:\n%s", text ? text : "(none)");
		free(text);
	}
}

UNIT_TESTS(UNIT_TEST(test_jsonout))
