// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The ECN bits (the low two of the TOS) are not matched: routers on the
 * path may set them. The chain runs at priority filter - 10 so that it
 * sees the datagrams before the usual filter chains (priority filter)
 * decide about them.
 *
 * Kernels built without the nft queue expression (CONFIG_NFT_QUEUE) but
 * with nft_compat and the xtables NFQUEUE target get the same table,
 * chain and matches with the NFQUEUE target (revision 3, bypass) in
 * place of `queue`, built with libnftnl as iptables-nft builds such
 * rules: nft's language cannot write xtables targets.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libmnl/libmnl.h>
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/table.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/xt_NFQUEUE.h>
#include <nftables/libnftables.h>

#include "nftrule.h"

int nftrule_text(const struct nftrule *r, char *buf, size_t len)
{
	unsigned int dscp = r->tos >> 2;
	int n = snprintf(buf, len,
			 "table inet " NFTRULE_TABLE " {\n"
			 "\tchain nfqueue {\n"
			 "\t\ttype filter hook %s priority filter - 10; policy accept;\n"
			 "\t\tudp dport %u ip dscp 0x%02x queue num %u bypass\n"
			 "\t\tudp dport %u ip6 dscp 0x%02x queue num %u bypass\n"
			 "\t}\n"
			 "}\n",
			 r->hook, r->port, dscp, r->queue, r->port, dscp,
			 r->queue);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int nftrule_run(const char *script, const char *what, char *err,
		size_t errlen)
{
	struct nft_ctx *ctx = nft_ctx_new(NFT_CTX_DEFAULT);
	int rc = 0;

	if (!ctx) {
		snprintf(err, errlen, "%s: cannot create an nftables context",
			 what);
		return -1;
	}
	if (nft_ctx_buffer_output(ctx) || nft_ctx_buffer_error(ctx)) {
		snprintf(err, errlen, "%s: cannot buffer nftables messages",
			 what);
		nft_ctx_free(ctx);
		return -1;
	}
	if (nft_run_cmd_from_buffer(ctx, script)) {
		const char *msg = nft_ctx_get_error_buffer(ctx);
		size_t n;

		snprintf(err, errlen, "%s: %s", what,
			 msg && *msg ? msg : "nftables refused the ruleset");
		/* nft's messages end with a newline; ours do not. */
		n = strlen(err);
		while (n && (err[n - 1] == '\n' || err[n - 1] == ' '))
			err[--n] = '\0';
		rc = -1;
	}
	nft_ctx_free(ctx);
	return rc;
}

/*
 * "add table" then "delete table" makes the delete succeed whether or not
 * the table was there: install replaces, remove is idempotent.
 */
#define RESET "add table inet " NFTRULE_TABLE "\n" \
	      "delete table inet " NFTRULE_TABLE "\n"

/* ------------------------------------------ xtables NFQUEUE fallback */

#define CHAIN_NAME	"nfqueue"

static int add_expr(struct nftnl_rule *rule, struct nftnl_expr *e)
{
	if (!e)
		return -1;
	nftnl_rule_add_expr(rule, e);
	return 0;
}

static struct nftnl_expr *meta(uint32_t key)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *payload(uint32_t base, uint32_t offset,
				  uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, NFT_REG_1);
	}
	return e;
}

static struct nftnl_expr *mask(const void *m, uint32_t len)
{
	static const uint8_t zero[4];
	struct nftnl_expr *e = nftnl_expr_alloc("bitwise");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, m, len);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, zero, len);
	}
	return e;
}

static struct nftnl_expr *equal(const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, NFT_CMP_EQ);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *nfqueue_target(uint16_t queue)
{
	/* libnftnl takes the info's memory over and frees it. */
	struct xt_NFQ_info_v3 *info = calloc(1, sizeof(*info));
	struct nftnl_expr *e = nftnl_expr_alloc("target");

	if (!info || !e) {
		free(info);
		if (e)
			nftnl_expr_free(e);
		return NULL;
	}
	info->queuenum = queue;
	info->queues_total = 1;
	info->flags = NFQ_FLAG_BYPASS;
	nftnl_expr_set_str(e, NFTNL_EXPR_TG_NAME, "NFQUEUE");
	nftnl_expr_set_u32(e, NFTNL_EXPR_TG_REV, 3);
	nftnl_expr_set(e, NFTNL_EXPR_TG_INFO, info, sizeof(*info));
	return e;
}

/*
 * The rule for one IP version, expression by expression as nft builds
 * `udp dport P ip dscp D` / `ip6 dscp D`, then the NFQUEUE target.
 */
static struct nftnl_rule *compat_rule(const struct nftrule *r, int ipv6)
{
	struct nftnl_rule *rule = nftnl_rule_alloc();
	uint8_t nfproto = ipv6 ? NFPROTO_IPV6 : NFPROTO_IPV4;
	uint8_t l4 = IPPROTO_UDP, dscp4 = (uint8_t)(r->tos & 0xfc);
	uint8_t mask4 = 0xfc;
	uint16_t port = htons(r->port);
	/* IPv6: the traffic class spans bits 4..11 of the first 16. */
	uint16_t mask6 = htons(0x0fc0), dscp6 = htons((r->tos >> 2) << 6);
	int bad;

	if (!rule)
		return NULL;
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, NFTRULE_TABLE);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, CHAIN_NAME);
	bad = add_expr(rule, meta(NFT_META_L4PROTO)) ||
	      add_expr(rule, equal(&l4, 1)) ||
	      add_expr(rule, payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)) ||
	      add_expr(rule, equal(&port, 2)) ||
	      add_expr(rule, meta(NFT_META_NFPROTO)) ||
	      add_expr(rule, equal(&nfproto, 1));
	if (!bad && !ipv6)
		bad = add_expr(rule, payload(NFT_PAYLOAD_NETWORK_HEADER, 1, 1)) ||
		      add_expr(rule, mask(&mask4, 1)) ||
		      add_expr(rule, equal(&dscp4, 1));
	else if (!bad)
		bad = add_expr(rule, payload(NFT_PAYLOAD_NETWORK_HEADER, 0, 2)) ||
		      add_expr(rule, mask(&mask6, 2)) ||
		      add_expr(rule, equal(&dscp6, 2));
	if (bad || add_expr(rule, nfqueue_target(r->queue))) {
		nftnl_rule_free(rule);
		return NULL;
	}
	return rule;
}

/* Sends one batch; the first error the kernel reports, as -errno. */
static int send_batch(const char *buf, size_t len, uint32_t last_seq)
{
	char rbuf[MNL_SOCKET_BUFFER_SIZE];
	struct timeval tv = { .tv_sec = 5 };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER,
						 SOCK_CLOEXEC);
	unsigned int portid;
	int first_err = 0, done = 0;

	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		       sizeof(tv)) ||
	    mnl_socket_sendto(nl, buf, len) < 0) {
		int e = errno;

		mnl_socket_close(nl);
		return -e;
	}
	portid = mnl_socket_get_portid(nl);
	/* Errors come back for any message; the last one is acked. */
	while (!done) {
		ssize_t n = mnl_socket_recvfrom(nl, rbuf, sizeof(rbuf));
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int left = (int)n;

		if (n < 0) {
			first_err = first_err ? first_err : -errno;
			break;
		}
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			if (nlh->nlmsg_pid != portid)
				continue;
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);

				if (e->error && !first_err)
					first_err = e->error;
			}
			if (nlh->nlmsg_seq == last_seq)
				done = 1;
		}
	}
	mnl_socket_close(nl);
	return first_err;
}

/* The header of the batch's next message, in family inet. */
static struct nlmsghdr *batch_hdr(struct mnl_nlmsg_batch *b, uint16_t type,
				  uint16_t flags, uint32_t seq)
{
	return nftnl_nlmsg_build_hdr(mnl_nlmsg_batch_current(b), type,
				     NFPROTO_INET, flags, seq);
}

static void batch_table(struct mnl_nlmsg_batch *b, uint16_t type,
			uint16_t flags, uint32_t seq,
			const struct nftnl_table *t)
{
	nftnl_table_nlmsg_build_payload(batch_hdr(b, type, flags, seq), t);
	mnl_nlmsg_batch_next(b);
}

static void batch_rule(struct mnl_nlmsg_batch *b, uint16_t flags,
		       uint32_t seq, struct nftnl_rule *r)
{
	nftnl_rule_nlmsg_build_payload(batch_hdr(b, NFT_MSG_NEWRULE, flags,
						 seq), r);
	mnl_nlmsg_batch_next(b);
}

static int install_compat(const struct nftrule *r)
{
	char buf[16384];	/* seven small messages */
	struct mnl_nlmsg_batch *b = mnl_nlmsg_batch_start(buf, sizeof(buf));
	struct nftnl_table *t = nftnl_table_alloc();
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nftnl_rule *r4 = compat_rule(r, 0), *r6 = compat_rule(r, 1);
	uint32_t seq = (uint32_t)time(NULL), last;
	int rc = -ENOMEM;

	if (!b || !t || !c || !r4 || !r6)
		goto out;
	nftnl_table_set_u32(t, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFTRULE_TABLE);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFTRULE_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, CHAIN_NAME);
	nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
	nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM,
			    strcmp(r->hook, "forward") ? NF_INET_LOCAL_IN
						       : NF_INET_FORWARD);
	nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, -10);
	nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);

	nftnl_batch_begin(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	/* As RESET: create, delete, create, so that it replaces. */
	batch_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++, t);
	batch_table(b, NFT_MSG_DELTABLE, 0, seq++, t);
	batch_table(b, NFT_MSG_NEWTABLE, NLM_F_CREATE, seq++, t);
	nftnl_chain_nlmsg_build_payload(
		batch_hdr(b, NFT_MSG_NEWCHAIN, NLM_F_CREATE, seq++), c);
	mnl_nlmsg_batch_next(b);
	batch_rule(b, NLM_F_CREATE | NLM_F_APPEND, seq++, r4);
	last = seq++;
	batch_rule(b, NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, last, r6);
	nftnl_batch_end(mnl_nlmsg_batch_current(b), seq++);
	mnl_nlmsg_batch_next(b);
	rc = send_batch(mnl_nlmsg_batch_head(b), mnl_nlmsg_batch_size(b), last);
out:
	if (r4)
		nftnl_rule_free(r4);
	if (r6)
		nftnl_rule_free(r6);
	if (c)
		nftnl_chain_free(c);
	if (t)
		nftnl_table_free(t);
	if (b)
		mnl_nlmsg_batch_stop(b);
	return rc;
}

int nftrule_install(const struct nftrule *r, char *err, size_t errlen)
{
	char script[1024], native[512];
	size_t n = strlen(RESET);
	int rc;

	memcpy(script, RESET, n);
	if (nftrule_text(r, script + n, sizeof(script) - n)) {
		snprintf(err, errlen, "installing the nft rule: too long");
		return -1;
	}
	if (!nftrule_run(script, "installing the nft rule", native, sizeof(native)))
		return 0;
	/* No queue expression in this kernel? Then the xtables target. */
	rc = install_compat(r);
	if (!rc)
		return 0;
	snprintf(err, errlen,
		 "%s; with the xtables NFQUEUE target instead: %s", native,
		 strerror(-rc));
	return -1;
}

int nftrule_remove(char *err, size_t errlen)
{
	return nftrule_run(RESET, "removing the nft rule", err, errlen);
}

/* ------------------------------------------------ what feeds a queue */

#define DUMP_BUF	65536	/* more than a netlink dump message holds */
#define DUMP_TRIES	3	/* a ruleset changed under the dump: again */

/* The queues one rule feeds, from its statements. */
struct rule_queues {
	uint16_t queue;		/* the one asked about */
	int queues;		/* it queues packets at all */
	int feeds;		/* ... to queue */
	int computed;		/* ... to a number an expression computes */
	uint16_t first;		/* the first queue it names */
};

static void names_queues(struct rule_queues *q, uint16_t first,
			 uint16_t total)
{
	if (!total)
		total = 1;
	if (!q->queues)
		q->first = first;
	q->queues = 1;
	if (q->queue >= first && q->queue - first < total)
		q->feeds = 1;
}

static int expr_queues(struct nftnl_expr *e, void *data)
{
	struct rule_queues *q = data;
	const char *name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);

	if (!name)
		return MNL_CB_OK;
	if (!strcmp(name, "queue")) {
		if (nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_SREG_QNUM)) {
			/* queue to numgen/hash/map: it may be any queue */
			q->queues = q->feeds = q->computed = 1;
			return MNL_CB_OK;
		}
		names_queues(q, nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_NUM)
				? nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_NUM) : 0,
			     nftnl_expr_is_set(e, NFTNL_EXPR_QUEUE_TOTAL)
				? nftnl_expr_get_u16(e, NFTNL_EXPR_QUEUE_TOTAL)
				: 1);
	} else if (!strcmp(name, "target")) {
		const char *tg = nftnl_expr_get_str(e, NFTNL_EXPR_TG_NAME);
		uint32_t len = 0;
		const uint8_t *info = nftnl_expr_get(e, NFTNL_EXPR_TG_INFO,
						     &len);
		/* xt_NFQ_info (revision 0), then _v1.._v3: total after num. */
		uint16_t num, total = 1;

		if (!tg || strcmp(tg, "NFQUEUE") || !info || len < 2)
			return MNL_CB_OK;
		memcpy(&num, info, 2);
		if (nftnl_expr_get_u32(e, NFTNL_EXPR_TG_REV) >= 1 && len >= 4)
			memcpy(&total, info + 2, 2);
		names_queues(q, num, total);
	}
	return MNL_CB_OK;
}

static const char *family_name(uint32_t family)
{
	switch (family) {
	case NFPROTO_IPV4:
		return "ip";
	case NFPROTO_IPV6:
		return "ip6";
	case NFPROTO_INET:
		return "inet";
	case NFPROTO_ARP:
		return "arp";
	case NFPROTO_BRIDGE:
		return "bridge";
	case NFPROTO_NETDEV:
		return "netdev";
	}
	return "?";
}

struct feed_dump {
	struct nftrule_feed *f;
	uint16_t queue;
	/* The chain whose feeding rules are being counted, for where. */
	char chain[3 * NFT_NAME_MAXLEN];
	unsigned int in_chain;
	size_t used;
	int full;
};

/* Says where the rules counted in the current chain are, if any. */
static void where_flush(struct feed_dump *d)
{
	struct nftrule_feed *f = d->f;
	size_t room = sizeof(f->where) - d->used;
	int n;

	if (!d->in_chain || d->full)
		goto out;
	n = snprintf(f->where + d->used, room, "%s%s (%u rule%s)",
		     d->used ? ", " : "", d->chain, d->in_chain,
		     d->in_chain == 1 ? "" : "s");
	if (n < 0 || (size_t)n >= room - 4) {
		/* Cut: say so where it was cut. */
		snprintf(f->where + d->used, room, "%s...", d->used ? ", " : "");
		d->full = 1;
	} else {
		d->used += (size_t)n;
	}
out:
	d->in_chain = 0;
}

static int rule_feeds(const struct nlmsghdr *nlh, void *data)
{
	struct feed_dump *d = data;
	struct nftrule_feed *f = d->f;
	struct rule_queues q = { .queue = d->queue };
	struct nftnl_rule *r = nftnl_rule_alloc();
	const char *table, *chain;
	uint32_t family;
	char where[sizeof(d->chain)];

	if (!r)
		return MNL_CB_ERROR;
	/* A rule libnftnl cannot read (an expression newer than it): skip. */
	if (nftnl_rule_nlmsg_parse(nlh, r) < 0)
		goto out;
	nftnl_expr_foreach(r, expr_queues, &q);
	if (!q.queues)
		goto out;
	family = nftnl_rule_get_u32(r, NFTNL_RULE_FAMILY);
	table = nftnl_rule_get_str(r, NFTNL_RULE_TABLE);
	chain = nftnl_rule_get_str(r, NFTNL_RULE_CHAIN);
	if (!table || !chain)
		goto out;
	if (family == NFPROTO_INET && !strcmp(table, NFTRULE_TABLE)) {
		if (!f->own++)
			f->own_queue = q.first;
	}
	if (!q.feeds)
		goto out;
	f->rules++;
	f->computed += q.computed;
	snprintf(where, sizeof(where), "table %s %s chain %s",
		 family_name(family), table, chain);
	if (d->in_chain && strcmp(where, d->chain))
		where_flush(d);
	memcpy(d->chain, where, sizeof(d->chain));
	d->in_chain++;
out:
	nftnl_rule_free(r);
	return MNL_CB_OK;
}

/* One dump of every rule; -errno, or -EINTR if the ruleset changed. */
static int dump_feeds(struct feed_dump *d, char *buf)
{
	struct timeval tv = { .tv_sec = 5 };
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_NETFILTER,
						 SOCK_CLOEXEC);
	uint32_t seq = (uint32_t)time(NULL), portid;
	struct nlmsghdr *nlh;
	int rc = 0;

	if (!nl)
		return -errno;
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETRULE, NFPROTO_UNSPEC,
				    NLM_F_DUMP, seq);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0 ||
	    setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVTIMEO, &tv,
		       sizeof(tv)) ||
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
		rc = -errno;
		goto out;
	}
	portid = mnl_socket_get_portid(nl);
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, DUMP_BUF);

		if (n < 0) {
			rc = -errno;
			break;
		}
		rc = mnl_cb_run(buf, (size_t)n, seq, portid, rule_feeds, d);
		if (rc <= 0) {
			rc = rc < 0 ? -errno : 0;
			break;
		}
	}
out:
	mnl_socket_close(nl);
	return rc;
}

int nftrule_feed(uint16_t queue, struct nftrule_feed *f, char *err,
		 size_t errlen)
{
	char *buf = malloc(DUMP_BUF);
	struct feed_dump d;
	int rc = -EINTR;

	if (!buf) {
		snprintf(err, errlen, "listing the nft ruleset: %s",
			 strerror(ENOMEM));
		return -1;
	}
	for (int i = 0; i < DUMP_TRIES && rc == -EINTR; i++) {
		memset(f, 0, sizeof(*f));
		memset(&d, 0, sizeof(d));
		d.f = f;
		d.queue = queue;
		rc = dump_feeds(&d, buf);
	}
	free(buf);
	if (rc) {
		snprintf(err, errlen, "listing the nft ruleset: %s",
			 strerror(-rc));
		return -1;
	}
	where_flush(&d);
	return 0;
}
