/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * A generic netlink client on libmnl: resolve a family and its multicast
 * groups by name, send a request and run its answers (a reply, a dump or
 * an ACK), and tell what the kernel said when it refused: errno, extack
 * message, which attribute of the request was wrong and its valid range.
 * Its names start with nlc_ (netlink client): genl_ is the kernel's API.
 */
#ifndef TLSTAP_CTL_NLCLIENT_H
#define TLSTAP_CTL_NLCLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>

/* Attributes of a request, so that an extack offset can be named. */
#define NLC_REQ_MAX_LABELS 16

struct nlc_req {
	struct nlmsghdr *nlh;
	unsigned int nlabels;
	struct {
		uint32_t offset;	/* of the attribute in the request */
		const char *name;
	} labels[NLC_REQ_MAX_LABELS];
};

/* What the kernel answered to a refused request. */
struct nlc_error {
	int err;		/* errno, positive; 0: none */
	char msg[256];		/* NLMSGERR_ATTR_MSG, or "" */
	const char *attr;	/* the request's attribute it blames, or NULL */
	int has_range;		/* that attribute's valid range: */
	uint64_t min, max;
	int missing;		/* an attribute was missing: */
	uint32_t missing_type;
};

struct nlc_sock {
	struct mnl_socket *nl;
	uint32_t portid;
	uint32_t seq;
	uint16_t family_id;
	uint8_t version;
	char *req_buf;		/* the request being built */
	char *rx_buf;
	size_t rx_len;
};

/*
 * Opens a socket with extended ACKs on and resolves family. 0; -1 with
 * errno set: ENOENT if no such family is registered (module not loaded).
 */
int nlc_open(struct nlc_sock *gs, const char *family, uint8_t version);
void nlc_close(struct nlc_sock *gs);

/* The id of a multicast group of a family; -1 with errno (ENOENT). */
int nlc_group_id(struct nlc_sock *gs, const char *family,
		 const char *group, uint32_t *id);
/* Joins a multicast group (NETLINK_ADD_MEMBERSHIP). 0, or -1. */
int nlc_join(struct nlc_sock *gs, uint32_t group);

/* A new request for cmd in gs's request buffer (REQUEST flag added). */
void nlc_req_init(struct nlc_sock *gs, struct nlc_req *req, uint8_t cmd,
		  uint16_t flags);
/* Names attr, just put into req, for error messages. */
void nlc_req_label(struct nlc_req *req, const struct nlattr *attr,
		   const char *name);

/*
 * Sends req and runs cb (may be NULL) on each answer until the ACK, the
 * reply or the end of a dump. A dump interrupted by a change
 * (NLM_F_DUMP_INTR) is reported as -1 with errno EINTR: ask again.
 * 0, or -1 with errno and, for the kernel's refusals, *e filled in.
 */
int nlc_transact(struct nlc_sock *gs, struct nlc_req *req, mnl_cb_t cb,
		 void *data, struct nlc_error *e);

/*
 * Waits for messages sent to the groups joined and runs cb on each.
 * The return of mnl_cb_run (>= 0: go on), or -1 with errno (ENOBUFS:
 * messages were lost because the socket buffer was full).
 */
int nlc_recv_events(struct nlc_sock *gs, mnl_cb_t cb, void *data);

/* The payload after the genl header, for mnl_attr_parse(). */
#define NLC_HDRLEN_ALIGNED MNL_ALIGN(sizeof(struct genlmsghdr))

#endif
