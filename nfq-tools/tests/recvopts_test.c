// SPDX-License-Identifier: GPL-2.0 OR MIT
/* The receivers' common options (recvopts.c) and the core's config. */
#include <string.h>

#include "recvopts.h"
#include "unit.h"

static void test_recvopts(void)
{
	struct recvopts o;
	struct reasm_config cfg;

	recvopts_init(&o);
	CHECK(o.output == RECV_OUT_JSON && !o.out_path && !o.stats_json &&
	      o.max_streams == 256 && o.nack_tries == REASM_NACK_TRIES,
	      "defaults");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_OUTPUT, "pcapng") &&
	      o.output == RECV_OUT_PCAPNG, "--output pcapng");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_NACK_TIMEOUT, "0x10") &&
	      o.nack_timeout_ms == 16, "--nack-timeout-ms 0x10");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_PENDING, "2097152") &&
	      o.max_pending == 2u << 20, "--max-pending");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_JSON, NULL) && o.stats_json,
	      "--stats-json");
	CHECK(!recvopts_parse(&o, "unit", RECVOPT_END, "x"), "not ours");
	CHECK(!recvopts_parse(&o, "unit", 'h', NULL), "not ours: -h");
	recvopts_reasm_config(&o, &cfg);
	CHECK(cfg.nack_timeout_ns == 16000000ull &&
	      cfg.max_pending_bytes == 2u << 20 && cfg.max_streams == 256 &&
	      cfg.max_evicted == 4 * 256 && !cfg.allow && !cfg.nallow,
	      "core config");
	CHECK(!o.truncate && !o.state_path && !o.nallow, "defaults: files");
	CHECK(recvopts_parse(&o, "unit", RECVOPT_TRUNCATE, NULL) && o.truncate &&
	      recvopts_parse(&o, "unit", RECVOPT_STATE, "s") &&
	      !strcmp(o.state_path, "s") &&
	      recvopts_parse(&o, "unit", RECVOPT_ALLOW, "10.0.0.0/8") &&
	      recvopts_parse(&o, "unit", RECVOPT_ALLOW, "fd00::1") &&
	      o.nallow == 2 && o.allow[1].len == 128,
	      "--truncate, --state, --allow");
	recvopts_reasm_config(&o, &cfg);
	CHECK(cfg.allow == o.allow && cfg.nallow == 2, "core config: allow");
}

UNIT_TESTS(UNIT_TEST(test_recvopts))
