// SPDX-License-Identifier: GPL-2.0
/*
 * Parsing of what root writes to /sys/class/misc/tlstap/targets. Anything
 * not exactly of the documented form is -EINVAL, so a typo never becomes
 * a destination.
 */
#include <linux/kernel.h>
#include <linux/string.h>
#include <linux/inet.h>
#include <linux/errno.h>
#include <linux/tlstap.h>

#include "target_parse.h"

#define CMD_MAX 128

static int parse_port(const char *s, __be16 *port)
{
	u16 v;

	if (kstrtou16(s, 10, &v) || !v)
		return -EINVAL;
	*port = cpu_to_be16(v);
	return 0;
}

bool tlstap_endpoint_unspecified(const struct tlstap_endpoint *ep)
{
	return !memchr_inv(ep->addr, 0,
			   ep->family == TLSTAP_FAMILY_IPV6 ? 16 : 4);
}

/* ADDR:PORT for IPv4, [ADDR]:PORT for IPv6. */
int tlstap_parse_endpoint(const char *s, struct tlstap_endpoint *ep)
{
	const char *end, *colon;
	size_t alen;

	memset(ep, 0, sizeof(*ep));
	if (*s == '[') {
		end = strchr(s, ']');
		if (!end || end[1] != ':')
			return -EINVAL;
		alen = end - s - 1;
		if (!alen || in6_pton(s + 1, alen, ep->addr, -1, &colon) != 1 ||
		    colon != end)
			return -EINVAL;
		ep->family = TLSTAP_FAMILY_IPV6;
		if (tlstap_endpoint_unspecified(ep))
			return -EINVAL;
		return parse_port(end + 2, &ep->port);
	}
	colon = strrchr(s, ':');
	if (!colon || colon == s)
		return -EINVAL;
	alen = colon - s;
	if (in4_pton(s, alen, ep->addr, -1, &end) != 1 || end != colon)
		return -EINVAL;
	ep->family = TLSTAP_FAMILY_IPV4;
	if (tlstap_endpoint_unspecified(ep))
		return -EINVAL;
	return parse_port(colon + 1, &ep->port);
}

int tlstap_parse_target_cmd(const char *buf, size_t len,
			    struct tlstap_target_cmd *cmd)
{
	char line[CMD_MAX], *p, *verb, *arg, *key, *val;

	if (len >= sizeof(line) || memchr(buf, '\0', len))
		return -EINVAL;
	memcpy(line, buf, len);
	line[len] = '\0';
	p = strim(line);

	memset(cmd, 0, sizeof(*cmd));
	verb = strsep(&p, " ");
	if (!strcmp(verb, "flush")) {
		cmd->op = TLSTAP_TARGET_FLUSH;
		return p ? -EINVAL : 0;
	}
	if (!strcmp(verb, "add"))
		cmd->op = TLSTAP_TARGET_ADD;
	else if (!strcmp(verb, "del"))
		cmd->op = TLSTAP_TARGET_DEL;
	else
		return -EINVAL;

	arg = strsep(&p, " ");
	if (!arg || tlstap_parse_endpoint(arg, &cmd->ep))
		return -EINVAL;
	cmd->weight = 1;
	if (!p)
		return 0;
	if (cmd->op != TLSTAP_TARGET_ADD)
		return -EINVAL;
	key = strsep(&p, " ");
	val = strsep(&p, " ");
	if (strcmp(key, "weight") || !val || p)
		return -EINVAL;
	if (kstrtou32(val, 10, &cmd->weight) || !cmd->weight ||
	    cmd->weight > TLSTAP_MAX_WEIGHT)
		return -EINVAL;
	return 0;
}
