// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstapctl: configure tlstap.ko through its generic netlink family, in
 * the style of ip(8) and wg(8):
 *
 *   tlstapctl target add ADDR:PORT [weight W] | del ADDR:PORT | flush | list
 *   tlstapctl set KNOB VALUE [KNOB VALUE]...    tlstapctl get KNOB
 *   tlstapctl show    tlstapctl stats [--json]    tlstapctl monitor
 *
 * The command line is read whole before the module is asked anything:
 * syntax is checked here (an address that does not parse never leaves, a
 * number that does not fit its attribute is refused with the knob's
 * range); the ranges are the kernel's, which names the attribute and its
 * valid range when it refuses a value, so sysfs, netlink and this tool
 * share one set (include/uapi/linux/tlstap.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/tlstap.h>
#include <openssl/crypto.h>

#include "addr.h"
#include "cli.h"
#include "nlclient.h"
#include "names.h"

#define PROG "tlstapctl"
#define errorf(...) cli_error(PROG, __VA_ARGS__)

/* A dump that keeps being interrupted by changes is asked this often. */
#define DUMP_TRIES 10

enum knob_kind { KNOB_U8, KNOB_U16, KNOB_U32, KNOB_KEY };

struct knob {
	const char *name;	/* as the sysfs file */
	uint16_t attr;
	enum knob_kind kind;
	int settable;
	uint32_t min, max;	/* a settable number's range */
};

/*
 * What tlstapctl show lists, in its order: the port, the numeric knobs
 * of shared/names.c, the hash key. Filled in by knobs_init().
 */
#define NKNOBS (1 + TLSTAP_KNOB_COUNT + 1)
static struct knob knobs[NKNOBS];

static void knobs_init(void)
{
	unsigned int i;

	knobs[0] = (struct knob){ "port", TLSTAP_A_PORT, KNOB_U16, 0, 0, 0 };
	for (i = 0; i < TLSTAP_KNOB_COUNT; i++) {
		const struct tlstap_knob_name *n = &tlstap_knob_names[i];

		knobs[1 + i] = (struct knob){
			n->name, n->attr, n->size == 1 ? KNOB_U8 : KNOB_U32,
			1, n->min, n->max,
		};
	}
	knobs[NKNOBS - 1] = (struct knob){
		"hash_key", TLSTAP_A_HASH_KEY, KNOB_KEY, 1, 0, 0,
	};
}


/* enum tlstap_target_state, named as sysfs's targets file names them. */
static const char *const target_states[] = {
	[TLSTAP_TARGET_READY] = "ready",
	[TLSTAP_TARGET_RESOLVING] = "resolving",
	[TLSTAP_TARGET_UNRESOLVED] = "unresolved",
};

#define NSTATS TLSTAP_STAT_COUNT

struct target_info {
	struct endpoint ep;
	uint32_t weight;
	uint32_t stream_id;
	uint64_t packets, bytes, errors, icmp_unreachable;
	const char *state;
};

struct target_list {
	struct target_info *v;
	size_t n, cap;
	int bad;		/* a message we could not read */
};

/* The configuration as CONFIG_GET (or an event) gives it. */
struct config {
	int has[NKNOBS];
	uint64_t val[NKNOBS];
	uint8_t key[TLSTAP_HASH_KEY_LEN];
	int key_changed;	/* events: the hash key was set */
	int origin;		/* events: enum tlstap_origin */
};

/* The command line, read before the module is asked anything. */
enum target_op { TARGET_ADD, TARGET_DEL, TARGET_FLUSH, TARGET_LIST };

struct setting {
	const struct knob *k;
	uint64_t val;
	uint8_t key[TLSTAP_HASH_KEY_LEN];
};

struct request {
	enum target_op target_op;
	char what[256];		/* a change, as messages name it */
	struct endpoint ep;	/* target add, del */
	uint64_t weight;
	int has_weight;
	struct setting set[NKNOBS];	/* set: each knob once at most */
	size_t nset;
	const struct knob *get;
	int json;		/* stats --json */
};

#define USAGE_TARGET	"target add ADDR:PORT [weight W] | del ADDR:PORT | " \
			"flush | list"
#define USAGE_SET	"set KNOB VALUE [KNOB VALUE]..."

static void usage(FILE *f)
{
	size_t i;

	fprintf(f,
		"usage: " PROG " target add ADDR:PORT [weight W]\n"
		"       " PROG " target del ADDR:PORT\n"
		"       " PROG " target flush\n"
		"       " PROG " target list\n"
		"       " PROG " set KNOB VALUE [KNOB VALUE]...\n"
		"       " PROG " get KNOB\n"
		"       " PROG " show\n"
		"       " PROG " stats [--json]\n"
		"       " PROG " monitor\n"
		"       " PROG " -h | --help | help\n"
		"       " PROG " --version\n"
		"ADDR:PORT is IPV4:PORT or [IPV6]:PORT, W 1..%u. KNOB is one of:\n",
		TLSTAP_MAX_WEIGHT);
	for (i = 0; i < NKNOBS; i++) {
		if (!knobs[i].settable)
			continue;
		if (knobs[i].kind == KNOB_KEY)
			fprintf(f, "  %-16s 32 hex digits\n", knobs[i].name);
		else
			fprintf(f, "  %-16s %u..%u\n", knobs[i].name,
				knobs[i].min, knobs[i].max);
	}
	fputs("get also takes port (read-only).\n", f);
}

/* What the kernel said about the request `what`, on one line. */
static void kernel_error(const char *what, const struct nlc_error *e)
{
	int err = e->err ? e->err : errno;

	if (err == EPERM) {
		errorf("%s: not permitted (needs CAP_NET_ADMIN)", what);
		return;
	}
	fprintf(stderr, PROG ": %s: ", what);
	if (e->attr)
		fprintf(stderr, "%s: ", e->attr);
	if (e->msg[0])
		fputs(e->msg, stderr);
	if (e->has_range)
		fprintf(stderr, ", valid: %" PRIu64 "..%" PRIu64, e->min,
			e->max);
	if (e->missing)
		fprintf(stderr, ", missing attribute %u", e->missing_type);
	fprintf(stderr, e->msg[0] ? " (%s)\n" : "%s\n", strerror(err));
}

static const struct knob *knob_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < NKNOBS; i++)
		if (!strcmp(knobs[i].name, name))
			return &knobs[i];
	return NULL;
}

__attribute__((noreturn))
static void unknown_knob(const char *name, int settable_only)
{
	char list[256] = "";
	size_t i, used = 0;

	for (i = 0; i < NKNOBS && used < sizeof(list); i++)
		if (knobs[i].settable || !settable_only)
			used += (size_t)snprintf(list + used, sizeof(list) - used,
						 " %s", knobs[i].name);
	cli_usage_error(PROG, "unknown knob '%s' (knobs:%s)", name, list);
}

/* Decimal or 0x-hex, as sysfs takes it; no sign, nothing after. */
static int parse_uint(const char *s, uint64_t max, uint64_t *v)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || *end || *v > max ? -1 : 0;
}

static int parse_key(const char *s, uint8_t key[TLSTAP_HASH_KEY_LEN])
{
	unsigned char buf[TLSTAP_HASH_KEY_LEN];
	size_t len;

	if (strlen(s) != 2 * TLSTAP_HASH_KEY_LEN ||
	    !OPENSSL_hexstr2buf_ex(buf, sizeof(buf), &len, s, '\0') ||
	    len != TLSTAP_HASH_KEY_LEN)
		return -1;
	memcpy(key, buf, TLSTAP_HASH_KEY_LEN);
	return 0;
}

static void print_key(FILE *f, const uint8_t key[TLSTAP_HASH_KEY_LEN])
{
	int i;

	for (i = 0; i < TLSTAP_HASH_KEY_LEN; i++)
		fprintf(f, "%02x", key[i]);
}

/* ---- reading answers ---------------------------------------------- */

static int target_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);
	static const enum mnl_attr_data_type types[] = {
		[TLSTAP_TARGET_A_ADDR4] = MNL_TYPE_BINARY,
		[TLSTAP_TARGET_A_ADDR6] = MNL_TYPE_BINARY,
		[TLSTAP_TARGET_A_PORT] = MNL_TYPE_U16,
		[TLSTAP_TARGET_A_WEIGHT] = MNL_TYPE_U32,
		[TLSTAP_TARGET_A_STREAM_ID] = MNL_TYPE_U32,
		[TLSTAP_TARGET_A_PACKETS] = MNL_TYPE_U64,
		[TLSTAP_TARGET_A_BYTES] = MNL_TYPE_U64,
		[TLSTAP_TARGET_A_ERRORS] = MNL_TYPE_U64,
		[TLSTAP_TARGET_A_ICMP_UNREACHABLE] = MNL_TYPE_U64,
		[TLSTAP_TARGET_A_STATE] = MNL_TYPE_U8,
	};

	if (type >= sizeof(types) / sizeof(types[0]) || !types[type])
		return MNL_CB_OK;	/* newer than us */
	if (mnl_attr_validate(attr, types[type]) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int parse_target(const struct nlattr *nest, struct target_info *t)
{
	const struct nlattr *tb[TLSTAP_TARGET_A_MAX + 1] = { NULL };
	const struct nlattr *a4, *a6;

	memset(t, 0, sizeof(*t));
	if (mnl_attr_parse_nested(nest, target_attr_cb, tb) < 0)
		return -1;
	a4 = tb[TLSTAP_TARGET_A_ADDR4];
	a6 = tb[TLSTAP_TARGET_A_ADDR6];
	if (a4 && mnl_attr_get_payload_len(a4) == 4) {
		t->ep.family = TLSTAP_FAMILY_IPV4;
		memcpy(t->ep.addr, mnl_attr_get_payload(a4), 4);
	} else if (a6 && mnl_attr_get_payload_len(a6) == 16) {
		t->ep.family = TLSTAP_FAMILY_IPV6;
		memcpy(t->ep.addr, mnl_attr_get_payload(a6), 16);
	} else {
		return -1;
	}
	if (!tb[TLSTAP_TARGET_A_PORT])
		return -1;
	t->ep.port = mnl_attr_get_u16(tb[TLSTAP_TARGET_A_PORT]);
	if (tb[TLSTAP_TARGET_A_WEIGHT])
		t->weight = mnl_attr_get_u32(tb[TLSTAP_TARGET_A_WEIGHT]);
	if (tb[TLSTAP_TARGET_A_STREAM_ID])
		t->stream_id = mnl_attr_get_u32(tb[TLSTAP_TARGET_A_STREAM_ID]);
	if (tb[TLSTAP_TARGET_A_PACKETS])
		t->packets = mnl_attr_get_u64(tb[TLSTAP_TARGET_A_PACKETS]);
	if (tb[TLSTAP_TARGET_A_BYTES])
		t->bytes = mnl_attr_get_u64(tb[TLSTAP_TARGET_A_BYTES]);
	if (tb[TLSTAP_TARGET_A_ERRORS])
		t->errors = mnl_attr_get_u64(tb[TLSTAP_TARGET_A_ERRORS]);
	if (tb[TLSTAP_TARGET_A_ICMP_UNREACHABLE])
		t->icmp_unreachable =
			mnl_attr_get_u64(tb[TLSTAP_TARGET_A_ICMP_UNREACHABLE]);
	t->state = "unknown";
	if (tb[TLSTAP_TARGET_A_STATE]) {
		uint8_t s = mnl_attr_get_u8(tb[TLSTAP_TARGET_A_STATE]);

		if (s < sizeof(target_states) / sizeof(target_states[0]))
			t->state = target_states[s];
	}
	return 0;
}

static int top_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, TLSTAP_A_MAX) < 0)
		return MNL_CB_OK;	/* newer than us */
	tb[type] = attr;
	return MNL_CB_OK;
}

static int parse_top(const struct nlmsghdr *nlh,
		     const struct nlattr *tb[TLSTAP_A_MAX + 1])
{
	memset(tb, 0, (TLSTAP_A_MAX + 1) * sizeof(*tb));
	return mnl_attr_parse(nlh, NLC_HDRLEN_ALIGNED, top_attr_cb, tb) < 0 ?
	       -1 : 0;
}

static int target_list_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[TLSTAP_A_MAX + 1];
	struct target_list *l = data;
	struct target_info t;

	if (parse_top(nlh, tb) || !tb[TLSTAP_A_TARGET] ||
	    parse_target(tb[TLSTAP_A_TARGET], &t)) {
		l->bad = 1;
		return MNL_CB_OK;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct target_info *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return MNL_CB_ERROR;	/* errno is ENOMEM */
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n++] = t;
	return MNL_CB_OK;
}

/* Every knob present in tb, by kind. */
static int parse_config(const struct nlattr *const *tb, struct config *c)
{
	size_t i;

	for (i = 0; i < NKNOBS; i++) {
		const struct nlattr *a = tb[knobs[i].attr];

		if (!a)
			continue;
		switch (knobs[i].kind) {
		case KNOB_U8:
			if (mnl_attr_validate(a, MNL_TYPE_U8) < 0)
				return -1;
			c->val[i] = mnl_attr_get_u8(a);
			break;
		case KNOB_U16:
			if (mnl_attr_validate(a, MNL_TYPE_U16) < 0)
				return -1;
			c->val[i] = mnl_attr_get_u16(a);
			break;
		case KNOB_U32:
			if (mnl_attr_validate(a, MNL_TYPE_U32) < 0)
				return -1;
			c->val[i] = mnl_attr_get_u32(a);
			break;
		case KNOB_KEY:
			if (mnl_attr_get_payload_len(a) != TLSTAP_HASH_KEY_LEN)
				return -1;
			memcpy(c->key, mnl_attr_get_payload(a),
			       TLSTAP_HASH_KEY_LEN);
			break;
		}
		c->has[i] = 1;
	}
	if (tb[TLSTAP_A_HASH_KEY_CHANGED])
		c->key_changed = 1;
	if (tb[TLSTAP_A_ORIGIN] &&
	    mnl_attr_validate(tb[TLSTAP_A_ORIGIN], MNL_TYPE_U8) == 0)
		c->origin = mnl_attr_get_u8(tb[TLSTAP_A_ORIGIN]);
	return 0;
}

static int config_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[TLSTAP_A_MAX + 1];

	if (parse_top(nlh, tb) || parse_config(tb, data)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

static int stats_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, TLSTAP_STATS_A_MAX) < 0 ||
	    type == TLSTAP_STATS_A_PAD)
		return MNL_CB_OK;
	if (mnl_attr_validate(attr, MNL_TYPE_U64) < 0)
		return MNL_CB_ERROR;
	tb[type] = attr;
	return MNL_CB_OK;
}

static int stats_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[TLSTAP_A_MAX + 1];
	const struct nlattr *st[TLSTAP_STATS_A_MAX + 1] = { NULL };
	uint64_t *v = data;
	size_t i;

	if (parse_top(nlh, tb) || !tb[TLSTAP_A_STATS] ||
	    mnl_attr_parse_nested(tb[TLSTAP_A_STATS], stats_attr_cb, st) < 0) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	for (i = 0; i < NSTATS; i++) {
		if (!st[tlstap_stat_names[i].attr]) {
			errno = EBADMSG;
			return MNL_CB_ERROR;
		}
		v[i] = mnl_attr_get_u64(st[tlstap_stat_names[i].attr]);
	}
	return MNL_CB_OK;
}

/* ---- requests ----------------------------------------------------- */

static int get_targets(struct nlc_sock *gs, struct target_list *l)
{
	struct nlc_error e;
	struct nlc_req req;
	int tries;

	for (tries = 0; tries < DUMP_TRIES; tries++) {
		l->n = 0;
		l->bad = 0;
		nlc_req_init(gs, &req, TLSTAP_CMD_TARGET_GET, NLM_F_DUMP);
		if (!nlc_transact(gs, &req, target_list_cb, l, &e)) {
			if (!l->bad)
				return 0;
			errorf("target list: a target the kernel sent could not be read");
			return -1;
		}
		if (errno != EINTR || e.err)
			break;
	}
	kernel_error("target list", &e);
	return -1;
}

static int get_config(struct nlc_sock *gs, struct config *c)
{
	struct nlc_error e;
	struct nlc_req req;

	memset(c, 0, sizeof(*c));
	nlc_req_init(gs, &req, TLSTAP_CMD_CONFIG_GET, 0);
	if (nlc_transact(gs, &req, config_cb, c, &e)) {
		kernel_error("get configuration", &e);
		return -1;
	}
	return 0;
}

/* 0, 1 when not permitted (said by the caller), or -1 (said here). */
static int get_hash_key(struct nlc_sock *gs, struct config *c, int quiet_eperm)
{
	struct nlc_error e;
	struct nlc_req req;

	nlc_req_init(gs, &req, TLSTAP_CMD_HASH_KEY_GET, 0);
	if (nlc_transact(gs, &req, config_cb, c, &e)) {
		if (quiet_eperm && e.err == EPERM)
			return 1;
		kernel_error("get hash_key", &e);
		return -1;
	}
	return 0;
}

static int simple_request(struct nlc_sock *gs, struct nlc_req *req,
			  const char *what)
{
	struct nlc_error e;

	if (nlc_transact(gs, req, NULL, NULL, &e)) {
		kernel_error(what, &e);
		return -1;
	}
	return 0;
}

static void put_endpoint(struct nlc_req *req, const struct endpoint *ep)
{
	struct nlattr *a;

	a = (struct nlattr *)mnl_nlmsg_get_payload_tail(req->nlh);
	if (ep->family == TLSTAP_FAMILY_IPV6)
		mnl_attr_put(req->nlh, TLSTAP_TARGET_A_ADDR6, 16, ep->addr);
	else
		mnl_attr_put(req->nlh, TLSTAP_TARGET_A_ADDR4, 4, ep->addr);
	nlc_req_label(req, a, "address");
	a = (struct nlattr *)mnl_nlmsg_get_payload_tail(req->nlh);
	mnl_attr_put_u16(req->nlh, TLSTAP_TARGET_A_PORT, ep->port);
	nlc_req_label(req, a, "port");
}

/* ---- the command line --------------------------------------------- */

static void parse_target_args(int argc, char **argv, struct request *rq)
{
	const char *verb = argc > 0 ? argv[0] : "";
	char err[160];

	if (!strcmp(verb, "list") && argc == 1) {
		rq->target_op = TARGET_LIST;
		return;
	}
	if (!strcmp(verb, "flush") && argc == 1) {
		rq->target_op = TARGET_FLUSH;
		snprintf(rq->what, sizeof(rq->what), "target flush");
		return;
	}
	if (!strcmp(verb, "add") && (argc == 2 || argc == 4))
		rq->target_op = TARGET_ADD;
	else if (!strcmp(verb, "del") && argc == 2)
		rq->target_op = TARGET_DEL;
	else
		cli_usage_error(PROG, "usage: " PROG " " USAGE_TARGET);
	snprintf(rq->what, sizeof(rq->what), "target %s %s", verb, argv[1]);
	if (endpoint_parse(argv[1], 0, &rq->ep, err, sizeof(err)))
		cli_usage_error(PROG, "%s: bad address: %s", rq->what, err);
	if (argc == 4) {
		/* In range for the attribute; the kernel checks 1..W. */
		if (strcmp(argv[2], "weight") ||
		    parse_uint(argv[3], UINT32_MAX, &rq->weight))
			cli_usage_error(PROG, "%s: want 'weight N', not '%s %s'; N is 1..%u", rq->what, argv[2],
					argv[3], TLSTAP_MAX_WEIGHT);
		rq->has_weight = 1;
	}
}

/* Numbers that fit their attribute leave; the kernel checks the range. */
static void parse_set_args(int argc, char **argv, struct request *rq)
{
	size_t len;
	int i;

	if (argc < 2 || argc % 2)
		cli_usage_error(PROG, "usage: " PROG " " USAGE_SET);
	len = (size_t)snprintf(rq->what, sizeof(rq->what), "set");
	for (i = 0; i < argc; i += 2) {
		const struct knob *k = knob_by_name(argv[i]);
		struct setting *st;
		size_t j;

		if (!k)
			unknown_knob(argv[i], 1);
		if (!k->settable)
			cli_usage_error(PROG, "set: %s is read-only", k->name);
		for (j = 0; j < rq->nset; j++)
			if (rq->set[j].k == k)
				cli_usage_error(PROG, "set: %s given twice",
						k->name);
		if (len < sizeof(rq->what))
			len += (size_t)snprintf(rq->what + len,
						sizeof(rq->what) - len,
						" %s %s", argv[i],
						k->kind == KNOB_KEY ?
						"..." : argv[i + 1]);
		st = &rq->set[rq->nset++];
		st->k = k;
		if (k->kind == KNOB_KEY) {
			if (parse_key(argv[i + 1], st->key))
				cli_usage_error(PROG, "set hash_key: want %d hex digits",
						2 * TLSTAP_HASH_KEY_LEN);
		} else if (parse_uint(argv[i + 1], k->kind == KNOB_U8 ?
				      UINT8_MAX : UINT32_MAX, &st->val)) {
			cli_usage_error(PROG, "set %s: '%s' is not a number in %u..%u", k->name, argv[i + 1], k->min,
					k->max);
		}
	}
}

static void parse_get_args(int argc, char **argv, struct request *rq)
{
	if (argc != 1)
		cli_usage_error(PROG, "usage: " PROG " get KNOB");
	rq->get = knob_by_name(argv[0]);
	if (!rq->get)
		unknown_knob(argv[0], 0);
}

static void parse_show_args(int argc, char **argv, struct request *rq)
{
	(void)argv;
	(void)rq;
	if (argc)
		cli_usage_error(PROG, "usage: " PROG " show");
}

static void parse_stats_args(int argc, char **argv, struct request *rq)
{
	if (argc == 1 && !strcmp(argv[0], "--json"))
		rq->json = 1;
	else if (argc)
		cli_usage_error(PROG, "usage: " PROG " stats [--json]");
}

static void parse_monitor_args(int argc, char **argv, struct request *rq)
{
	(void)argv;
	(void)rq;
	if (argc)
		cli_usage_error(PROG, "usage: " PROG " monitor");
}

/* ---- commands ----------------------------------------------------- */

static int cmd_target_list(struct nlc_sock *gs)
{
	struct target_list l = { 0 };
	char addr[ENDPOINT_STRLEN];
	size_t i;
	int rc = get_targets(gs, &l);

	/* As sysfs's targets file, line for line. */
	for (i = 0; !rc && i < l.n; i++) {
		endpoint_format(&l.v[i].ep, addr, sizeof(addr));
		printf("%s weight %u packets %" PRIu64 " bytes %" PRIu64
		       " errors %" PRIu64 " icmp_unreachable %" PRIu64
		       " state %s\n", addr, l.v[i].weight, l.v[i].packets,
		       l.v[i].bytes, l.v[i].errors, l.v[i].icmp_unreachable,
		       l.v[i].state);
	}
	free(l.v);
	return rc;
}

static int cmd_target(struct nlc_sock *gs, const struct request *rq)
{
	struct nlc_req req;
	struct nlattr *nest, *a;

	if (rq->target_op == TARGET_LIST)
		return cmd_target_list(gs);
	if (rq->target_op == TARGET_FLUSH) {
		nlc_req_init(gs, &req, TLSTAP_CMD_TARGET_FLUSH, 0);
		return simple_request(gs, &req, rq->what);
	}
	nlc_req_init(gs, &req, rq->target_op == TARGET_ADD ?
		     TLSTAP_CMD_TARGET_ADD : TLSTAP_CMD_TARGET_DEL, 0);
	/* Unlabelled: the kernel's messages about it say "target". */
	nest = mnl_attr_nest_start(req.nlh, TLSTAP_A_TARGET);
	put_endpoint(&req, &rq->ep);
	if (rq->has_weight) {
		a = (struct nlattr *)mnl_nlmsg_get_payload_tail(req.nlh);
		mnl_attr_put_u32(req.nlh, TLSTAP_TARGET_A_WEIGHT,
				 (uint32_t)rq->weight);
		nlc_req_label(&req, a, "weight");
	}
	mnl_attr_nest_end(req.nlh, nest);
	return simple_request(gs, &req, rq->what);
}

static int cmd_set(struct nlc_sock *gs, const struct request *rq)
{
	struct nlc_req req;
	size_t i;

	nlc_req_init(gs, &req, TLSTAP_CMD_CONFIG_SET, 0);
	for (i = 0; i < rq->nset; i++) {
		const struct setting *st = &rq->set[i];
		struct nlattr *a;

		a = (struct nlattr *)mnl_nlmsg_get_payload_tail(req.nlh);
		switch (st->k->kind) {
		case KNOB_U8:
			mnl_attr_put_u8(req.nlh, st->k->attr, (uint8_t)st->val);
			break;
		case KNOB_U16:
		case KNOB_U32:
			mnl_attr_put_u32(req.nlh, st->k->attr,
					 (uint32_t)st->val);
			break;
		case KNOB_KEY:
			mnl_attr_put(req.nlh, st->k->attr, sizeof(st->key),
				     st->key);
			break;
		}
		nlc_req_label(&req, a, st->k->name);
	}
	return simple_request(gs, &req, rq->what);
}

static void print_knob(const struct config *c, size_t i)
{
	if (knobs[i].kind == KNOB_KEY)
		print_key(stdout, c->key);
	else
		printf("%" PRIu64, c->val[i]);
}

static int cmd_get(struct nlc_sock *gs, const struct request *rq)
{
	const struct knob *k = rq->get;
	struct config c;

	if (k->kind == KNOB_KEY) {
		memset(&c, 0, sizeof(c));
		if (get_hash_key(gs, &c, 0))
			return -1;
	} else if (get_config(gs, &c)) {
		return -1;
	}
	if (!c.has[k - knobs]) {
		errorf("get %s: the kernel did not say", k->name);
		return -1;
	}
	print_knob(&c, (size_t)(k - knobs));
	putchar('\n');
	return 0;
}

static int cmd_show(struct nlc_sock *gs, const struct request *rq)
{
	struct target_list l = { 0 };
	char addr[ENDPOINT_STRLEN];
	struct config c;
	int key_rc, rc = -1;
	size_t i;

	(void)rq;	/* show takes no arguments */
	if (get_config(gs, &c))
		return -1;
	key_rc = get_hash_key(gs, &c, 1);
	if (key_rc < 0 || get_targets(gs, &l))
		goto out;
	for (i = 0; i < NKNOBS; i++) {
		if (knobs[i].kind == KNOB_KEY && key_rc) {
			printf("%s hidden (reading it needs CAP_NET_ADMIN)\n",
			       knobs[i].name);
			continue;
		}
		printf("%s ", knobs[i].name);
		print_knob(&c, i);
		putchar('\n');
	}
	for (i = 0; i < l.n; i++) {
		endpoint_format(&l.v[i].ep, addr, sizeof(addr));
		printf("target %s weight %u stream_id 0x%08x\n", addr,
		       l.v[i].weight, l.v[i].stream_id);
	}
	rc = 0;
out:
	free(l.v);
	return rc;
}

static int cmd_stats(struct nlc_sock *gs, const struct request *rq)
{
	int json = rq->json;
	struct target_list l = { 0 };
	char addr[ENDPOINT_STRLEN];
	uint64_t v[NSTATS];
	struct nlc_error e;
	struct nlc_req req;
	size_t i;

	nlc_req_init(gs, &req, TLSTAP_CMD_STATS_GET, 0);
	if (nlc_transact(gs, &req, stats_cb, v, &e)) {
		kernel_error("stats", &e);
		return -1;
	}
	if (get_targets(gs, &l))
		return -1;
	if (json) {
		printf("{\"global\":{");
		for (i = 0; i < NSTATS; i++)
			printf("%s\"%s\":%" PRIu64, i ? "," : "", tlstap_stat_names[i].name,
			       v[i]);
		printf("},\"targets\":[");
	} else {
		for (i = 0; i < NSTATS; i++)
			printf("%s %" PRIu64 "\n", tlstap_stat_names[i].name, v[i]);
	}
	for (i = 0; i < l.n; i++) {
		const struct target_info *t = &l.v[i];

		endpoint_format(&t->ep, addr, sizeof(addr));
		if (json)
			printf("%s{\"target\":\"%s\",\"weight\":%u,\"stream_id\":%u,\"packets\":%" PRIu64
			       ",\"bytes\":%" PRIu64 ",\"errors\":%" PRIu64
			       ",\"icmp_unreachable\":%" PRIu64
			       ",\"state\":\"%s\"}",
			       i ? "," : "", addr, t->weight, t->stream_id,
			       t->packets, t->bytes, t->errors,
			       t->icmp_unreachable, t->state);
		else
			printf("target %s packets %" PRIu64 " bytes %" PRIu64
			       " errors %" PRIu64 " icmp_unreachable %" PRIu64
			       " state %s\n", addr, t->packets, t->bytes,
			       t->errors, t->icmp_unreachable, t->state);
	}
	if (json)
		printf("]}\n");
	free(l.v);
	return 0;
}

/* ---- monitor ------------------------------------------------------ */

struct monitor {
	uint16_t family_id;
	int gone;		/* the family was unregistered */
	int bad;		/* an event we could not read */
};

static const char *origin_name(int origin)
{
	switch (origin) {
	case TLSTAP_ORIGIN_SYSFS:
		return "sysfs";
	case TLSTAP_ORIGIN_NETLINK:
		return "netlink";
	default:
		return "unknown";
	}
}

static int ctrl_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;

	if (mnl_attr_get_type(attr) == CTRL_ATTR_FAMILY_ID &&
	    mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
		tb[CTRL_ATTR_FAMILY_ID] = attr;
	return MNL_CB_OK;
}

static int event_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[TLSTAP_A_MAX + 1];
	struct monitor *m = data;
	char addr[ENDPOINT_STRLEN];
	struct target_info t;
	struct config c = { 0 };
	size_t i;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*genl))
		goto bad;
	if (nlh->nlmsg_type == GENL_ID_CTRL) {
		const struct nlattr *ctb[CTRL_ATTR_MAX + 1] = { NULL };

		if (genl->cmd == CTRL_CMD_DELFAMILY &&
		    mnl_attr_parse(nlh, NLC_HDRLEN_ALIGNED, ctrl_attr_cb,
				   ctb) >= 0 &&
		    ctb[CTRL_ATTR_FAMILY_ID] &&
		    mnl_attr_get_u16(ctb[CTRL_ATTR_FAMILY_ID]) == m->family_id) {
			m->gone = 1;
			return MNL_CB_STOP;
		}
		return MNL_CB_OK;
	}
	if (nlh->nlmsg_type != m->family_id || parse_top(nlh, tb) ||
	    parse_config(tb, &c))
		goto bad;
	switch (genl->cmd) {
	case TLSTAP_CMD_TARGET_ADD:
	case TLSTAP_CMD_TARGET_DEL:
		if (!tb[TLSTAP_A_TARGET] || parse_target(tb[TLSTAP_A_TARGET], &t))
			goto bad;
		endpoint_format(&t.ep, addr, sizeof(addr));
		if (genl->cmd == TLSTAP_CMD_TARGET_ADD)
			printf("%s: target add %s weight %u\n",
			       origin_name(c.origin), addr, t.weight);
		else
			printf("%s: target del %s\n", origin_name(c.origin),
			       addr);
		break;
	case TLSTAP_CMD_CONFIG_SET:
		printf("%s: set", origin_name(c.origin));
		for (i = 0; i < NKNOBS; i++)
			if (c.has[i] && knobs[i].kind != KNOB_KEY)
				printf(" %s %" PRIu64, knobs[i].name, c.val[i]);
		if (c.key_changed)
			printf(" hash_key");
		putchar('\n');
		break;
	default:
		return MNL_CB_OK;	/* newer than us */
	}
	return fflush(stdout) ? MNL_CB_ERROR : MNL_CB_OK;

bad:
	m->bad = 1;
	return MNL_CB_OK;
}

static int cmd_monitor(struct nlc_sock *gs, const struct request *rq)
{
	struct monitor m = { .family_id = gs->family_id };
	uint32_t events, ctrl;
	int rc;

	(void)rq;	/* monitor takes no arguments */
	/*
	 * Both ids first: an event arriving while the socket still waits
	 * for an answer would be taken for part of it.
	 */
	if (nlc_group_id(gs, TLSTAP_GENL_NAME, TLSTAP_GENL_MCGRP_EVENTS,
			 &events) ||
	    /* The controller tells when the module goes away. */
	    nlc_group_id(gs, "nlctrl", "notify", &ctrl)) {
		errorf("monitor: multicast groups: %s", strerror(errno));
		return -1;
	}
	if (nlc_join(gs, events) || nlc_join(gs, ctrl)) {
		errorf("monitor: join the multicast groups: %s",
		       strerror(errno));
		return -1;
	}
	fputs(PROG ": monitoring tlstap events\n", stderr);
	for (;;) {
		rc = nlc_recv_events(gs, event_cb, &m);
		if (rc < 0 && errno == ENOBUFS) {
			/* Said in the stream, where what was missed belongs. */
			printf("events lost\n");
			if (fflush(stdout))
				break;
			continue;
		}
		if (rc < 0) {
			errorf("monitor: %s", strerror(errno));
			return -1;
		}
		if (m.bad) {
			errorf("monitor: an event could not be read");
			m.bad = 0;
		}
		if (m.gone) {
			printf("module unloaded\n");
			fflush(stdout);
			return 0;
		}
	}
	errorf("monitor: stdout: %s", strerror(errno));
	return -1;
}

/*
 * The commands, as wg has them: each reads its arguments (a usage error
 * ends the process) before the module is asked anything, then runs.
 */
static const struct command {
	const char *name;
	void (*parse)(int argc, char **argv, struct request *rq);
	int (*run)(struct nlc_sock *gs, const struct request *rq);
} commands[] = {
	{ "target", parse_target_args, cmd_target },
	{ "set", parse_set_args, cmd_set },
	{ "get", parse_get_args, cmd_get },
	{ "show", parse_show_args, cmd_show },
	{ "stats", parse_stats_args, cmd_stats },
	{ "monitor", parse_monitor_args, cmd_monitor },
};

static const struct command *command_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct command *c;
	struct nlc_sock gs;
	struct request rq;
	const char *cmd;
	int rc;

	knobs_init();
	if (argc < 2)
		cli_usage_error(PROG, "no command: target, set, get, show, stats or monitor");
	cmd = argv[1];
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "-h")) {
		usage(stdout);
		return fflush(stdout) ? 1 : 0;
	}
	if (!strcmp(cmd, "--version"))
		cli_version(PROG);
	c = command_by_name(cmd);
	if (!c)
		cli_usage_error(PROG, "unknown command '%s'", cmd);
	memset(&rq, 0, sizeof(rq));
	c->parse(argc - 2, argv + 2, &rq);
	if (nlc_open(&gs, TLSTAP_GENL_NAME, TLSTAP_GENL_VERSION)) {
		if (errno == ENOENT)
			errorf("the tlstap module is not loaded (no generic netlink family \"%s\" in this network namespace)",
			       TLSTAP_GENL_NAME);
		else
			errorf("generic netlink: %s", strerror(errno));
		return 1;
	}
	rc = c->run(&gs, &rq);
	nlc_close(&gs);
	if (fflush(stdout)) {
		errorf("stdout: %s", strerror(errno));
		return 1;
	}
	return rc ? 1 : 0;
}
