/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * The frames of lib/tcpsynth.c onto a TAP interface, for what listens on
 * an interface (tcpdump, tshark, Suricata, Zeek, Snort: AF_PACKET,
 * ETH_P_ALL): /dev/net/tun, IFF_TAP | IFF_NO_PI, one write() per frame.
 * The kernel receives each frame on the interface during that write();
 * the taps get their copy first, then the frame is dropped, so that none
 * ever leaves the host:
 *  - an nft netdev table (tlstap_tap_NAME) drops whatever arrives on the
 *    interface (and counts it), in its ingress hook, which runs after the
 *    taps and before IP, bridging or anything that could forward it;
 *  - the frames' destination MAC is none of the interface's (a unicast
 *    address it does not have), so IP would drop them as for another
 *    host (PACKET_OTHERHOST) even without the table;
 *  - the interface has no address (one that has IPv4 or global IPv6
 *    addresses, or a master such as a bridge, is refused), IPv6 off
 *    (disable_ipv6: no link-local address, no router or neighbour
 *    solicitations of its own), IPv4 forwarding off, no ARP.
 * The interface is created if missing (and goes away with the receiver),
 * or an existing TAP one is used (and kept); both need CAP_NET_ADMIN.
 */
#ifndef TLSTAP_NFQ_TAPOUT_H
#define TLSTAP_NFQ_TAPOUT_H

#include <net/if.h>
#include <stddef.h>

#include "tcpsynth.h"

#define TAPOUT_TABLE_PREFIX	"tlstap_tap_"

struct tapout_stats {
	unsigned long long frames, bytes;	/* written */
	unsigned long long write_errors;	/* frames the kernel refused */
};

struct tapout {
	char name[IFNAMSIZ];
	const char *prog;
	int fd;
	int created;		/* the interface did not exist before */
	int table;		/* our nft table is installed */
	unsigned int mtu;
	struct tapout_stats st;
	int last_errno;		/* of the last failed write, said once */
};

/*
 * Whether name is one tapout_open() takes: 1 to IFNAMSIZ - 1 letters,
 * digits, '_', '-', '.' (a name nft can carry in its table's).
 */
int tapout_name_ok(const char *name);

/* Creates or takes the interface and sets it up. 0, or -1 with err. */
int tapout_open(struct tapout *t, const char *prog, const char *name,
		char *err, size_t errlen);

/* tcpsynth's sink (arg: the struct tapout): never fails the synthesis. */
int tapout_frame(void *arg, const struct tcpsynth_frame *f);

/* Removes the table, closes the descriptor. 0, or -1 with err. */
int tapout_close(struct tapout *t, char *err, size_t errlen);

#endif
