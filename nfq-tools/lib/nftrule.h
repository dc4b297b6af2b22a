/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The nftables rule that hands tlstap's datagrams to a queue: a table
 * `inet tlstap` of its own with one chain in the input hook (a target) or
 * the forward hook (a middlebox), matching the UDP destination port and
 * the DSCP of the configured TOS, with `queue num N bypass` (no program on
 * the queue: the packets pass as if the rule were not there). Installed
 * and removed through libnftables, the library nft itself uses. And what
 * feeds a queue: the rules of the whole ruleset that queue to it, read
 * with libnftnl, since a queue nothing feeds stays silent.
 */
#ifndef TLSTAP_NFQ_NFTRULE_H
#define TLSTAP_NFQ_NFTRULE_H

#include <stddef.h>
#include <stdint.h>

#define NFTRULE_TABLE	"tlstap"	/* family inet */

struct nftrule {
	const char *hook;	/* "input" or "forward" */
	uint16_t port;		/* UDP destination port */
	uint8_t tos;		/* its DSCP (tos >> 2) is matched */
	uint16_t queue;
};

/* The ruleset text (nft syntax) into buf; 0, or -1 if it does not fit. */
int nftrule_text(const struct nftrule *r, char *buf, size_t len);

/*
 * Replaces the table with one holding the rule, in one transaction.
 * 0, or -1 with nft's own message in err.
 */
int nftrule_install(const struct nftrule *r, char *err, size_t errlen);

/* Deletes the table if there is one. 0, or -1 with a message in err. */
int nftrule_remove(char *err, size_t errlen);

/* What feeds a queue, as this network namespace's ruleset shows it now. */
struct nftrule_feed {
	unsigned int rules;	/* rules that queue to it */
	unsigned int computed;	/* ... to a number an expression computes */
	unsigned int own;	/* rules of table inet tlstap, to any queue */
	uint16_t own_queue;	/* the queue the first of them feeds */
	char where[512];	/* "table inet tlstap chain nfqueue (2 rules), ..." */
};

/*
 * The rules that queue packets to queue (nft's `queue`, the xtables
 * NFQUEUE target of iptables-nft and of nft_compat kernels), and those
 * of table inet tlstap (a tlstap-nfq's, perhaps left
 * behind). iptables-legacy rules are not in the nftables ruleset and not
 * seen. 0, or -1 with a message in err.
 */
int nftrule_feed(uint16_t queue, struct nftrule_feed *f, char *err,
		 size_t errlen);

/*
 * Runs an nft script (nft's language) as one transaction. 0, or -1 with
 * "what: " and nft's own message in err.
 */
int nftrule_run(const char *script, const char *what, char *err,
		size_t errlen);

#endif
