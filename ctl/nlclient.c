// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "nlclient.h"

/* Requests are small; dumps come in pages of up to 32 KiB. */
#define REQ_BUF_LEN 8192
#define RX_BUF_LEN 32768

struct transact {
	mnl_cb_t cb;
	void *data;
	const struct nlc_req *req;
	struct nlc_error *e;
	int interrupted;
};

static int extack_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (mnl_attr_type_valid(attr, NLMSGERR_ATTR_MAX) < 0)
		return MNL_CB_OK;	/* newer than us: ignore */
	switch (type) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) < 0)
			return MNL_CB_OK;
		break;
	case NLMSGERR_ATTR_OFFS:
	case NLMSGERR_ATTR_MISS_TYPE:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) < 0)
			return MNL_CB_OK;
		break;
	case NLMSGERR_ATTR_POLICY:
		if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
			return MNL_CB_OK;
		break;
	default:
		return MNL_CB_OK;
	}
	tb[type] = attr;
	return MNL_CB_OK;
}

static int policy_attr_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if ((type == NL_POLICY_TYPE_ATTR_MIN_VALUE_U ||
	     type == NL_POLICY_TYPE_ATTR_MAX_VALUE_U) &&
	    mnl_attr_validate(attr, MNL_TYPE_U64) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static const char *label_at(const struct nlc_req *req, uint32_t offset)
{
	unsigned int i;

	for (i = 0; i < req->nlabels; i++)
		if (req->labels[i].offset == offset)
			return req->labels[i].name;
	return NULL;
}

/* The extended ACK attributes start at offset in nlh's payload. */
static void parse_extack(const struct nlmsghdr *nlh, unsigned int offset,
			 const struct nlc_req *req, struct nlc_error *e)
{
	const struct nlattr *tb[NLMSGERR_ATTR_MAX + 1] = { NULL };
	const struct nlattr *pol[NL_POLICY_TYPE_ATTR_MAX + 1] = { NULL };

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS) ||
	    mnl_attr_parse(nlh, offset, extack_attr_cb, tb) < 0)
		return;
	if (tb[NLMSGERR_ATTR_MSG])
		snprintf(e->msg, sizeof(e->msg), "%s",
			 mnl_attr_get_str(tb[NLMSGERR_ATTR_MSG]));
	if (tb[NLMSGERR_ATTR_OFFS])
		e->attr = label_at(req, mnl_attr_get_u32(tb[NLMSGERR_ATTR_OFFS]));
	if (tb[NLMSGERR_ATTR_MISS_TYPE]) {
		e->missing = 1;
		e->missing_type = mnl_attr_get_u32(tb[NLMSGERR_ATTR_MISS_TYPE]);
	}
	if (tb[NLMSGERR_ATTR_POLICY] &&
	    mnl_attr_parse_nested(tb[NLMSGERR_ATTR_POLICY], policy_attr_cb,
				  pol) >= 0 &&
	    pol[NL_POLICY_TYPE_ATTR_MIN_VALUE_U] &&
	    pol[NL_POLICY_TYPE_ATTR_MAX_VALUE_U]) {
		e->has_range = 1;
		e->min = mnl_attr_get_u64(pol[NL_POLICY_TYPE_ATTR_MIN_VALUE_U]);
		e->max = mnl_attr_get_u64(pol[NL_POLICY_TYPE_ATTR_MAX_VALUE_U]);
	}
}

static int error_cb(const struct nlmsghdr *nlh, void *data)
{
	struct transact *t = data;
	const struct nlmsgerr *err;
	unsigned int offset;

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*err))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	err = mnl_nlmsg_get_payload(nlh);
	if (!err->error)
		return MNL_CB_STOP;	/* the ACK */
	t->e->err = err->error < 0 ? -err->error : err->error;
	/* Unless capped, the request is echoed before the attributes. */
	offset = sizeof(*err);
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += MNL_ALIGN(mnl_nlmsg_get_payload_len(&err->msg));
	parse_extack(nlh, offset, t->req, t->e);
	errno = t->e->err;
	return MNL_CB_ERROR;
}

/* The end of a dump; a dump that failed midway says so here. */
static int done_cb(const struct nlmsghdr *nlh, void *data)
{
	struct transact *t = data;
	int status;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(status))
		return MNL_CB_STOP;
	memcpy(&status, mnl_nlmsg_get_payload(nlh), sizeof(status));
	if (status >= 0)
		return MNL_CB_STOP;
	t->e->err = -status;
	parse_extack(nlh, MNL_ALIGN(sizeof(status)), t->req, t->e);
	errno = t->e->err;
	return MNL_CB_ERROR;
}

static int data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct transact *t = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		t->interrupted = 1;
	return t->cb ? t->cb(nlh, t->data) : MNL_CB_OK;
}

/* Not const: mnl_cb_run2() takes a plain pointer. */
static mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = error_cb,
	[NLMSG_DONE] = done_cb,
};

void nlc_req_init(struct nlc_sock *gs, struct nlc_req *req, uint8_t cmd,
		  uint16_t flags)
{
	struct genlmsghdr *genl;

	memset(req, 0, sizeof(*req));
	req->nlh = mnl_nlmsg_put_header(gs->req_buf);
	req->nlh->nlmsg_type = gs->family_id;
	req->nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	genl = mnl_nlmsg_put_extra_header(req->nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = gs->version;
}

void nlc_req_label(struct nlc_req *req, const struct nlattr *attr,
		   const char *name)
{
	if (req->nlabels == NLC_REQ_MAX_LABELS)
		return;
	req->labels[req->nlabels].offset =
		(uint32_t)((const char *)attr - (const char *)req->nlh);
	req->labels[req->nlabels].name = name;
	req->nlabels++;
}

int nlc_transact(struct nlc_sock *gs, struct nlc_req *req, mnl_cb_t cb,
		 void *data, struct nlc_error *e)
{
	struct transact t = { .cb = cb, .data = data, .req = req, .e = e };
	struct nlmsghdr *nlh = req->nlh;
	ssize_t n;
	int rc;

	memset(e, 0, sizeof(*e));
	/* Without a dump, the ACK tells when the answer is complete. */
	if (!(nlh->nlmsg_flags & NLM_F_DUMP))
		nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++gs->seq;
	if (mnl_socket_sendto(gs->nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	do {
		n = mnl_socket_recvfrom(gs->nl, gs->rx_buf, gs->rx_len);
		if (n < 0)
			return -1;
		rc = mnl_cb_run2(gs->rx_buf, (size_t)n, nlh->nlmsg_seq,
				 gs->portid, data_cb, &t, ctl_cbs,
				 MNL_ARRAY_SIZE(ctl_cbs));
		if (rc == MNL_CB_ERROR)
			return -1;
	} while (rc != MNL_CB_STOP);
	if (t.interrupted) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

struct family_info {
	const char *group;	/* to look for, or NULL */
	uint16_t id;
	uint32_t group_id;
	int group_found;
};

static int group_cb(const struct nlattr *attr, void *data)
{
	const struct nlattr **tb = data;
	uint16_t type = mnl_attr_get_type(attr);

	if (type == CTRL_ATTR_MCAST_GRP_NAME &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
		tb[type] = attr;
	else if (type == CTRL_ATTR_MCAST_GRP_ID &&
		 mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
		tb[type] = attr;
	return MNL_CB_OK;
}

static int family_attr_cb(const struct nlattr *attr, void *data)
{
	struct family_info *fi = data;
	const struct nlattr *grp;

	switch (mnl_attr_get_type(attr)) {
	case CTRL_ATTR_FAMILY_ID:
		if (mnl_attr_validate(attr, MNL_TYPE_U16) == 0)
			fi->id = mnl_attr_get_u16(attr);
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		if (!fi->group || mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
			break;
		mnl_attr_for_each_nested(grp, attr) {
			const struct nlattr *tb[CTRL_ATTR_MCAST_GRP_MAX + 1] = {
				NULL };

			if (mnl_attr_parse_nested(grp, group_cb, tb) < 0 ||
			    !tb[CTRL_ATTR_MCAST_GRP_NAME] ||
			    !tb[CTRL_ATTR_MCAST_GRP_ID])
				continue;
			if (!strcmp(mnl_attr_get_str(tb[CTRL_ATTR_MCAST_GRP_NAME]),
				    fi->group)) {
				fi->group_id = mnl_attr_get_u32(tb[CTRL_ATTR_MCAST_GRP_ID]);
				fi->group_found = 1;
			}
		}
		break;
	}
	return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, NLC_HDRLEN_ALIGNED, family_attr_cb, data);
}

static int get_family(struct nlc_sock *gs, const char *family,
		      struct family_info *fi)
{
	struct nlc_error e;
	struct nlc_req req;
	uint16_t own_id = gs->family_id;
	uint8_t own_version = gs->version;
	int rc;

	/* The controller is a family too, with a fixed id. */
	gs->family_id = GENL_ID_CTRL;
	gs->version = 1;
	nlc_req_init(gs, &req, CTRL_CMD_GETFAMILY, 0);
	gs->family_id = own_id;
	gs->version = own_version;
	mnl_attr_put_strz(req.nlh, CTRL_ATTR_FAMILY_NAME, family);
	rc = nlc_transact(gs, &req, family_cb, fi, &e);
	if (!rc && !fi->id) {
		errno = EBADMSG;
		return -1;
	}
	return rc;
}

int nlc_group_id(struct nlc_sock *gs, const char *family,
		 const char *group, uint32_t *id)
{
	struct family_info fi = { .group = group };

	if (get_family(gs, family, &fi))
		return -1;
	if (!fi.group_found) {
		errno = ENOENT;
		return -1;
	}
	*id = fi.group_id;
	return 0;
}

int nlc_join(struct nlc_sock *gs, uint32_t group)
{
	int g = (int)group;

	return mnl_socket_setsockopt(gs->nl, NETLINK_ADD_MEMBERSHIP, &g,
				     sizeof(g));
}

int nlc_open(struct nlc_sock *gs, const char *family, uint8_t version)
{
	struct family_info fi = { 0 };
	int one = 1, saved;

	memset(gs, 0, sizeof(*gs));
	gs->req_buf = malloc(REQ_BUF_LEN);
	gs->rx_len = RX_BUF_LEN;
	gs->rx_buf = malloc(gs->rx_len);
	if (!gs->req_buf || !gs->rx_buf) {
		errno = ENOMEM;
		goto fail;
	}
	gs->nl = mnl_socket_open2(NETLINK_GENERIC, SOCK_CLOEXEC);
	if (!gs->nl || mnl_socket_bind(gs->nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	gs->portid = mnl_socket_get_portid(gs->nl);
	/* Error messages from the kernel; no echo of the request. */
	if (mnl_socket_setsockopt(gs->nl, NETLINK_EXT_ACK, &one, sizeof(one)) ||
	    mnl_socket_setsockopt(gs->nl, NETLINK_CAP_ACK, &one, sizeof(one)))
		goto fail;
	if (get_family(gs, family, &fi))
		goto fail;
	gs->family_id = fi.id;
	gs->version = version;
	return 0;

fail:
	saved = errno;
	nlc_close(gs);
	errno = saved;
	return -1;
}

void nlc_close(struct nlc_sock *gs)
{
	if (gs->nl)
		mnl_socket_close(gs->nl);
	free(gs->req_buf);
	free(gs->rx_buf);
	memset(gs, 0, sizeof(*gs));
}

int nlc_recv_events(struct nlc_sock *gs, mnl_cb_t cb, void *data)
{
	ssize_t n;

	n = mnl_socket_recvfrom(gs->nl, gs->rx_buf, gs->rx_len);
	if (n < 0)
		return -1;
	return mnl_cb_run(gs->rx_buf, (size_t)n, 0, 0, cb, data);
}
