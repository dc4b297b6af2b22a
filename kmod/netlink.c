// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "tlstap" (include/uapi/linux/tlstap.h). A
 * strict policy per command checks every attribute before a handler runs;
 * handlers add what a policy cannot say (one address, not two; a target
 * that exists) as extack messages. Changes go through the same functions
 * as sysfs (config.c, target.c), which announce them to the event group.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/stringify.h>
#include <net/genetlink.h>

#include "tlstap.h"
#include "netlink.h"
#include "config.h"
#include "target.h"

/* The instance the handlers act on; set before the family exists. */
static struct tlstap *nl_tt;
static struct genl_family tlstap_genl_family;

static const struct nla_policy target_add_policy[TLSTAP_TARGET_A_MAX + 1] = {
	[TLSTAP_TARGET_A_ADDR4] = NLA_POLICY_EXACT_LEN(4),
	[TLSTAP_TARGET_A_ADDR6] = NLA_POLICY_EXACT_LEN(16),
	[TLSTAP_TARGET_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[TLSTAP_TARGET_A_WEIGHT] = NLA_POLICY_RANGE(NLA_U32, 1,
						    TLSTAP_MAX_WEIGHT),
};

/* A target to remove is named by its address and port only. */
static const struct nla_policy target_del_policy[TLSTAP_TARGET_A_MAX + 1] = {
	[TLSTAP_TARGET_A_ADDR4] = NLA_POLICY_EXACT_LEN(4),
	[TLSTAP_TARGET_A_ADDR6] = NLA_POLICY_EXACT_LEN(16),
	[TLSTAP_TARGET_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
};

static const struct nla_policy target_add_req_policy[TLSTAP_A_MAX + 1] = {
	[TLSTAP_A_TARGET] = NLA_POLICY_NESTED(target_add_policy),
};

static const struct nla_policy target_del_req_policy[TLSTAP_A_MAX + 1] = {
	[TLSTAP_A_TARGET] = NLA_POLICY_NESTED(target_del_policy),
};

/* The knobs' entries are filled in from shared/names.c at init. */
static struct nla_policy config_set_policy[TLSTAP_A_MAX + 1] __ro_after_init = {
	[TLSTAP_A_HASH_KEY] = NLA_POLICY_EXACT_LEN(TLSTAP_HASH_KEY_LEN),
};

static void __init config_set_policy_init(void)
{
	unsigned int k;

	for (k = 0; k < TLSTAP_KNOB_COUNT; k++) {
		struct nla_policy *p =
			&config_set_policy[tlstap_knob_names[k].attr];

		p->type = tlstap_knob_names[k].size == 1 ? NLA_U8 : NLA_U32;
		p->validation_type = NLA_VALIDATE_RANGE_PTR;
		p->range = &tlstap_knob_ranges[k];
	}
}

static int put_knob(struct sk_buff *skb, enum tlstap_knob knob, u32 val)
{
	const struct tlstap_knob_name *k = &tlstap_knob_names[knob];

	if (k->size == 1)
		return nla_put_u8(skb, k->attr, val);
	return nla_put_u32(skb, k->attr, val);
}

static int put_target(struct sk_buff *skb, const struct tlstap_target *t,
		      bool counters)
{
	const struct tlstap_endpoint *ep = &t->ep;
	struct nlattr *nest;

	nest = nla_nest_start(skb, TLSTAP_A_TARGET);
	if (!nest)
		return -EMSGSIZE;
	if (ep->family == TLSTAP_FAMILY_IPV6 ?
	    nla_put(skb, TLSTAP_TARGET_A_ADDR6, 16, ep->addr) :
	    nla_put(skb, TLSTAP_TARGET_A_ADDR4, 4, ep->addr))
		goto err;
	if (nla_put_u16(skb, TLSTAP_TARGET_A_PORT, be16_to_cpu(ep->port)) ||
	    nla_put_u32(skb, TLSTAP_TARGET_A_WEIGHT, t->weight) ||
	    nla_put_u32(skb, TLSTAP_TARGET_A_STREAM_ID, t->stream_id))
		goto err;
	if (counters &&
	    (nla_put_u64_64bit(skb, TLSTAP_TARGET_A_PACKETS,
			       READ_ONCE(t->packets), TLSTAP_TARGET_A_PAD) ||
	     nla_put_u64_64bit(skb, TLSTAP_TARGET_A_BYTES,
			       READ_ONCE(t->bytes), TLSTAP_TARGET_A_PAD) ||
	     nla_put_u64_64bit(skb, TLSTAP_TARGET_A_ERRORS,
			       READ_ONCE(t->errors), TLSTAP_TARGET_A_PAD) ||
	     nla_put_u64_64bit(skb, TLSTAP_TARGET_A_ICMP_UNREACHABLE,
			       atomic64_read(&t->icmp_unreachable),
			       TLSTAP_TARGET_A_PAD) ||
	     nla_put_u8(skb, TLSTAP_TARGET_A_STATE, READ_ONCE(t->state))))
		goto err;
	nla_nest_end(skb, nest);
	return 0;

err:
	nla_nest_cancel(skb, nest);
	return -EMSGSIZE;
}

static int parse_target(struct genl_info *info, enum tlstap_target_op op,
			struct tlstap_target_cmd *cmd)
{
	const struct nla_policy *policy = op == TLSTAP_TARGET_ADD ?
		target_add_policy : target_del_policy;
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *tb[TLSTAP_TARGET_A_MAX + 1];
	struct nlattr *nest, *addr;
	int err;

	if (GENL_REQ_ATTR_CHECK(info, TLSTAP_A_TARGET)) {
		NL_SET_ERR_MSG(extack, "no target given");
		return -EINVAL;
	}
	nest = info->attrs[TLSTAP_A_TARGET];
	err = nla_parse_nested(tb, TLSTAP_TARGET_A_MAX, nest, policy, extack);
	if (err)
		return err;
	if (tb[TLSTAP_TARGET_A_ADDR4] && tb[TLSTAP_TARGET_A_ADDR6]) {
		NL_SET_ERR_MSG_ATTR(extack, tb[TLSTAP_TARGET_A_ADDR6],
				    "bad address: a target has one address, IPv4 or IPv6");
		return -EINVAL;
	}
	memset(cmd, 0, sizeof(*cmd));
	cmd->op = op;
	addr = tb[TLSTAP_TARGET_A_ADDR4];
	cmd->ep.family = TLSTAP_FAMILY_IPV4;
	if (!addr) {
		addr = tb[TLSTAP_TARGET_A_ADDR6];
		cmd->ep.family = TLSTAP_FAMILY_IPV6;
	}
	if (!addr) {
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "bad address: the target has none (ADDR4 or ADDR6)");
		NL_SET_ERR_ATTR_MISS(extack, nest, TLSTAP_TARGET_A_ADDR4);
		return -EINVAL;
	}
	nla_memcpy(cmd->ep.addr, addr, sizeof(cmd->ep.addr));
	if (tlstap_endpoint_unspecified(&cmd->ep)) {
		NL_SET_ERR_MSG_ATTR(extack, addr,
				    "bad address: the unspecified address cannot be a target");
		return -EINVAL;
	}
	if (NL_REQ_ATTR_CHECK(extack, nest, tb, TLSTAP_TARGET_A_PORT)) {
		NL_SET_ERR_MSG_ATTR(extack, nest, "the target has no port");
		return -EINVAL;
	}
	cmd->ep.port = cpu_to_be16(nla_get_u16(tb[TLSTAP_TARGET_A_PORT]));
	cmd->weight = 1;
	if (tb[TLSTAP_TARGET_A_WEIGHT])
		cmd->weight = nla_get_u32(tb[TLSTAP_TARGET_A_WEIGHT]);
	return 0;
}

static int apply_targets(struct genl_info *info,
			 const struct tlstap_target_cmd *cmd)
{
	struct netlink_ext_ack *extack = info->extack;
	struct nlattr *nest = info->attrs[TLSTAP_A_TARGET];
	int err;

	err = tlstap_targets_apply(nl_tt, cmd, TLSTAP_ORIGIN_NETLINK);
	switch (err) {
	case -EEXIST:
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "duplicate target: it is already configured");
		break;
	case -ENOSPC:
		NL_SET_ERR_MSG(extack, "too many targets: at most "
			       __stringify(TLSTAP_MAX_TARGETS));
		break;
	case -ENOENT:
		NL_SET_ERR_MSG_ATTR(extack, nest,
				    "unknown target: no such target is configured");
		break;
	case -ENOMEM:
		NL_SET_ERR_MSG(extack, "out of memory for the target's ring (all rings together may take a quarter of RAM) or the steering table");
		break;
	}
	return err;
}

static int target_add_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlstap_target_cmd cmd;
	int err;

	err = parse_target(info, TLSTAP_TARGET_ADD, &cmd);
	return err ?: apply_targets(info, &cmd);
}

static int target_del_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlstap_target_cmd cmd;
	int err;

	err = parse_target(info, TLSTAP_TARGET_DEL, &cmd);
	return err ?: apply_targets(info, &cmd);
}

static int target_flush_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlstap_target_cmd cmd = { .op = TLSTAP_TARGET_FLUSH };

	return apply_targets(info, &cmd);
}

/*
 * One message per target. cb->args[0] counts the targets already sent;
 * a change between two parts of the dump sets NLM_F_DUMP_INTR.
 */
static int target_get_dumpit(struct sk_buff *skb, struct netlink_callback *cb)
{
	struct tlstap *tt = nl_tt;
	struct tlstap_target *t;
	long done = 0;
	void *hdr;

	mutex_lock(&tt->config_lock);
	cb->seq = tt->targets_gen;
	list_for_each_entry(t, &tt->targets, list) {
		if (done++ < cb->args[0])
			continue;
		hdr = genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
				  cb->nlh->nlmsg_seq, &tlstap_genl_family,
				  NLM_F_MULTI, TLSTAP_CMD_TARGET_GET);
		if (!hdr)
			break;
		genl_dump_check_consistent(cb, hdr);
		if (put_target(skb, t, true)) {
			genlmsg_cancel(skb, hdr);
			break;
		}
		genlmsg_end(skb, hdr);
		cb->args[0]++;
	}
	mutex_unlock(&tt->config_lock);
	return skb->len;
}

/* A reply to info's request, for the caller to fill and finish. */
static struct sk_buff *reply_new(struct genl_info *info, u8 cmd, void **hdr)
{
	struct sk_buff *msg;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put_reply(msg, info, &tlstap_genl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

static int reply_send(struct genl_info *info, struct sk_buff *msg, void *hdr,
		      int err)
{
	if (err) {
		nlmsg_free(msg);
		return err;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

static int config_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlstap *tt = nl_tt;
	struct sk_buff *msg;
	unsigned int k;
	void *hdr;
	int err;

	msg = reply_new(info, TLSTAP_CMD_CONFIG_GET, &hdr);
	if (!msg)
		return -ENOMEM;
	/* Knobs set together by one CONFIG_SET are read together. */
	mutex_lock(&tt->config_lock);
	err = nla_put_u16(msg, TLSTAP_A_PORT, tt->port);
	for (k = 0; k < TLSTAP_KNOB_COUNT && !err; k++)
		err = put_knob(msg, k, tlstap_knob_get(tt, k));
	mutex_unlock(&tt->config_lock);
	return reply_send(info, msg, hdr, err);
}

static int config_set_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct tlstap_config_change change = { 0 };
	struct nlattr *attr;
	unsigned int k;
	int err;

	for (k = 0; k < TLSTAP_KNOB_COUNT; k++) {
		attr = info->attrs[tlstap_knob_names[k].attr];
		if (!attr)
			continue;
		change.knobs |= BIT(k);
		change.val[k] = tlstap_knob_names[k].size == 1 ?
				nla_get_u8(attr) : nla_get_u32(attr);
	}
	attr = info->attrs[TLSTAP_A_HASH_KEY];
	if (attr) {
		change.hash_key_set = true;
		nla_memcpy(change.hash_key, attr, sizeof(change.hash_key));
	}
	if (!change.knobs && !change.hash_key_set) {
		NL_SET_ERR_MSG(info->extack, "nothing to set: no knob and no hash key given");
		return -EINVAL;
	}
	err = tlstap_config_apply(nl_tt, &change, TLSTAP_ORIGIN_NETLINK);
	if (err == -ENOMEM)
		NL_SET_ERR_MSG(info->extack, "out of memory for the steering table");
	memzero_explicit(change.hash_key, sizeof(change.hash_key));
	return err;
}

static int hash_key_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u8 key[TLSTAP_HASH_KEY_LEN];
	struct sk_buff *msg;
	void *hdr;
	int err;

	msg = reply_new(info, TLSTAP_CMD_HASH_KEY_GET, &hdr);
	if (!msg)
		return -ENOMEM;
	tlstap_hash_key_get(nl_tt, key);
	err = nla_put(msg, TLSTAP_A_HASH_KEY, sizeof(key), key);
	memzero_explicit(key, sizeof(key));
	return reply_send(info, msg, hdr, err);
}

static int stats_get_doit(struct sk_buff *skb, struct genl_info *info)
{
	u64 sum[TLSTAP_STAT_COUNT];
	struct sk_buff *msg;
	struct nlattr *nest;
	int i, err = -EMSGSIZE;
	void *hdr;

	msg = reply_new(info, TLSTAP_CMD_STATS_GET, &hdr);
	if (!msg)
		return -ENOMEM;
	tlstap_stats_read(nl_tt, sum);
	nest = nla_nest_start(msg, TLSTAP_A_STATS);
	if (!nest)
		goto out;
	for (i = 0; i < TLSTAP_STAT_COUNT; i++)
		if (nla_put_u64_64bit(msg, tlstap_stat_names[i].attr, sum[i],
				      TLSTAP_STATS_A_PAD))
			goto out;
	nla_nest_end(msg, nest);
	err = 0;
out:
	return reply_send(info, msg, hdr, err);
}

static const struct genl_ops tlstap_genl_ops[] = {
	{
		.cmd = TLSTAP_CMD_TARGET_ADD,
		.doit = target_add_doit,
		.policy = target_add_req_policy,
		.maxattr = TLSTAP_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = TLSTAP_CMD_TARGET_DEL,
		.doit = target_del_doit,
		.policy = target_del_req_policy,
		.maxattr = TLSTAP_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = TLSTAP_CMD_TARGET_FLUSH,
		.doit = target_flush_doit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = TLSTAP_CMD_TARGET_GET,
		.dumpit = target_get_dumpit,
	},
	{
		.cmd = TLSTAP_CMD_CONFIG_GET,
		.doit = config_get_doit,
	},
	{
		.cmd = TLSTAP_CMD_CONFIG_SET,
		.doit = config_set_doit,
		.policy = config_set_policy,
		.maxattr = TLSTAP_A_MAX,
		.flags = GENL_ADMIN_PERM,
	},
	{
		/* sysfs's hash_key is 0600 for the same reason. */
		.cmd = TLSTAP_CMD_HASH_KEY_GET,
		.doit = hash_key_get_doit,
		.flags = GENL_ADMIN_PERM,
	},
	{
		.cmd = TLSTAP_CMD_STATS_GET,
		.doit = stats_get_doit,
	},
};

/* Open to all, as sysfs's targets and knobs are: no key goes out. */
static const struct genl_multicast_group tlstap_mcgrps[] = {
	{ .name = TLSTAP_GENL_MCGRP_EVENTS },
};

/* Commands with no policy accept no attributes (resv_start_op is 0). */
static struct genl_family tlstap_genl_family __ro_after_init = {
	.name = TLSTAP_GENL_NAME,
	.version = TLSTAP_GENL_VERSION,
	.maxattr = TLSTAP_A_MAX,
	/* Handlers take config_lock: no need for the global genl mutex. */
	.parallel_ops = true,
	.module = THIS_MODULE,
	.ops = tlstap_genl_ops,
	.n_ops = ARRAY_SIZE(tlstap_genl_ops),
	.mcgrps = tlstap_mcgrps,
	.n_mcgrps = ARRAY_SIZE(tlstap_mcgrps),
};

/* An event: NULL when nobody listens or memory is short (then said). */
static struct sk_buff *event_new(u8 cmd, enum tlstap_origin origin,
				 void **hdr)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&tlstap_genl_family, &init_net, 0))
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		goto lost;
	*hdr = genlmsg_put(msg, 0, 0, &tlstap_genl_family, 0, cmd);
	if (!*hdr || nla_put_u8(msg, TLSTAP_A_ORIGIN, origin)) {
		nlmsg_free(msg);
		goto lost;
	}
	return msg;

lost:
	/* Listeners read ENOBUFS: they know they missed something. */
	genl_set_err(&tlstap_genl_family, &init_net, 0, 0, -ENOBUFS);
	return NULL;
}

static void event_send(struct sk_buff *msg, void *hdr, int err)
{
	if (err) {
		nlmsg_free(msg);
		genl_set_err(&tlstap_genl_family, &init_net, 0, 0, -ENOBUFS);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&tlstap_genl_family, msg, 0, 0, GFP_KERNEL);
}

void tlstap_netlink_notify_config(const struct tlstap_config_change *change,
				  enum tlstap_origin origin)
{
	struct sk_buff *msg;
	unsigned int k;
	void *hdr;
	int err = 0;

	msg = event_new(TLSTAP_CMD_CONFIG_SET, origin, &hdr);
	if (!msg)
		return;
	for_each_set_bit(k, &change->knobs, TLSTAP_KNOB_COUNT)
		err = err ?: put_knob(msg, k, change->val[k]);
	if (change->hash_key_set)
		err = err ?: nla_put_flag(msg, TLSTAP_A_HASH_KEY_CHANGED);
	event_send(msg, hdr, err);
}

void tlstap_netlink_notify_target(const struct tlstap_target *t, u8 cmd,
				  enum tlstap_origin origin)
{
	struct sk_buff *msg;
	void *hdr;

	msg = event_new(cmd, origin, &hdr);
	if (msg)
		event_send(msg, hdr, put_target(msg, t, false));
}

int __init tlstap_netlink_init(struct tlstap *tt)
{
	/* Every counter has its attribute. */
	BUILD_BUG_ON(TLSTAP_STATS_A_MAX - TLSTAP_STATS_A_PAD != TLSTAP_STAT_COUNT);

	config_set_policy_init();
	nl_tt = tt;
	return genl_register_family(&tlstap_genl_family);
}

void tlstap_netlink_exit(void)
{
	genl_unregister_family(&tlstap_genl_family);
}

MODULE_ALIAS_GENL_FAMILY(TLSTAP_GENL_NAME);
