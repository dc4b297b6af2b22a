// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * Setting the interface up, in this order: the TAP file attached
 * (TUNSETIFF), refused if the interface carries addresses or has a
 * master, its synthetic peers' MAC addresses checked against its own,
 * IPv6 and IPv4 forwarding turned off on it, the nft table installed,
 * and only then the interface up, without ARP: no frame of ours reaches
 * it before the drop is in place.
 */
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "nftrule.h"
#include "tapout.h"

int tapout_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (!n || n >= IFNAMSIZ)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') ||
		      (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '_' ||
		      name[i] == '-' || name[i] == '.'))
			return 0;
	return 1;
}

static int failed(const struct tapout *t, char *err, size_t errlen,
		  const char *what)
{
	snprintf(err, errlen, "tap:%s: %s: %s", t->name, what,
		 strerror(errno));
	return -1;
}

/* An address the interface must not have: IPv4, or IPv6 not link-local. */
static int addressed(const struct tapout *t, char *err, size_t errlen)
{
	struct ifaddrs *all, *a;
	char text[INET6_ADDRSTRLEN] = "";

	if (getifaddrs(&all))
		return failed(t, err, errlen, "listing its addresses");
	for (a = all; a; a = a->ifa_next) {
		const struct sockaddr *sa = a->ifa_addr;

		if (!sa || strcmp(a->ifa_name, t->name))
			continue;
		if (sa->sa_family == AF_INET)
			inet_ntop(AF_INET,
				  &((const struct sockaddr_in *)sa)->sin_addr,
				  text, sizeof(text));
		else if (sa->sa_family == AF_INET6 &&
			 !IN6_IS_ADDR_LINKLOCAL(
				 &((const struct sockaddr_in6 *)sa)->sin6_addr))
			inet_ntop(AF_INET6,
				  &((const struct sockaddr_in6 *)sa)->sin6_addr,
				  text, sizeof(text));
		if (text[0])
			break;
	}
	freeifaddrs(all);
	if (!text[0])
		return 0;
	snprintf(err, errlen, "tap:%s: it has the address %s: frames given to it could reach this host's stack; use an interface without addresses", t->name, text);
	return -1;
}

/* A bridge or bond would forward what the interface receives. */
static int enslaved(const struct tapout *t, char *err, size_t errlen)
{
	char path[64], link[256];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/class/net/%s/master", t->name);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return errno == ENOENT ? 0 : failed(t, err, errlen, path);
	link[n] = '\0';
	snprintf(err, errlen, "tap:%s: it is a port of %s, which would forward its frames; use an interface of its own", t->name,
		 strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
	return -1;
}

/* One of /proc/sys/net/IPV/conf/NAME/KEY; a missing file is no error. */
static int sysctl_set(const struct tapout *t, const char *ipv, const char *key,
		      const char *value, char *err, size_t errlen)
{
	char path[128];
	int fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/%s", ipv,
		 t->name, key);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;	/* a kernel without that protocol */
	if (fd < 0)
		return failed(t, err, errlen, path);
	n = write(fd, value, strlen(value));
	close(fd);
	if (n != (ssize_t)strlen(value))
		return failed(t, err, errlen, path);
	return 0;
}

/* The table that drops everything the interface receives. */
static int install_table(struct tapout *t, char *err, size_t errlen)
{
	char script[512];

	snprintf(script, sizeof(script),
		 "add table netdev " TAPOUT_TABLE_PREFIX "%s\n"
		 "delete table netdev " TAPOUT_TABLE_PREFIX "%s\n"
		 "table netdev " TAPOUT_TABLE_PREFIX "%s {\n"
		 "\tchain ingress {\n"
		 "\t\ttype filter hook ingress device \"%s\" priority -500; policy drop;\n"
		 "\t\tcounter\n"
		 "\t}\n"
		 "}\n", t->name, t->name, t->name, t->name);
	if (nftrule_run(script, "installing the ingress drop", err, errlen)) {
		char why[400];

		snprintf(why, sizeof(why), "%s", err);
		snprintf(err, errlen, "tap:%s: %s", t->name, why);
		return -1;
	}
	t->table = 1;
	return 0;
}

/* Up, no ARP; its MTU, and a MAC address that is none of our frames'. */
static int link_up(struct tapout *t, char *err, size_t errlen)
{
	static const uint8_t ours[2][ETH_ALEN] = {
		TCPSYNTH_MAC_CLIENT, TCPSYNTH_MAC_SERVER,
	};
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;

	if (s < 0)
		return failed(t, err, errlen, "socket");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, t->name);
	if (ioctl(s, SIOCGIFHWADDR, &ifr)) {
		failed(t, err, errlen, "SIOCGIFHWADDR");
		goto out;
	}
	if (!memcmp(ifr.ifr_hwaddr.sa_data, ours[0], ETH_ALEN) ||
	    !memcmp(ifr.ifr_hwaddr.sa_data, ours[1], ETH_ALEN)) {
		snprintf(err, errlen, "tap:%s: its MAC address is one of the synthetic connections' ends (02:74:6c:73:00:0x): give it another", t->name);
		goto out;
	}
	if (ioctl(s, SIOCGIFMTU, &ifr)) {
		failed(t, err, errlen, "SIOCGIFMTU");
		goto out;
	}
	t->mtu = (unsigned int)ifr.ifr_mtu;
	if (t->mtu < TCPSYNTH_MIN_MTU || t->mtu > TCPSYNTH_MAX_MTU) {
		snprintf(err, errlen, "tap:%s: MTU %u, want %u to %u", t->name,
			 t->mtu, TCPSYNTH_MIN_MTU, TCPSYNTH_MAX_MTU);
		goto out;
	}
	if (ioctl(s, SIOCGIFFLAGS, &ifr)) {
		failed(t, err, errlen, "SIOCGIFFLAGS");
		goto out;
	}
	ifr.ifr_flags |= IFF_UP | IFF_NOARP;
	if (ioctl(s, SIOCSIFFLAGS, &ifr)) {
		failed(t, err, errlen, "setting it up (SIOCSIFFLAGS)");
		goto out;
	}
	rc = 0;
out:
	close(s);
	return rc;
}

int tapout_open(struct tapout *t, const char *prog, const char *name,
		char *err, size_t errlen)
{
	struct ifreq ifr;
	char ignored[256];

	memset(t, 0, sizeof(*t));
	t->prog = prog;
	t->fd = -1;
	if (!tapout_name_ok(name)) {
		snprintf(err, errlen, "tap:%s: not an interface name this takes (1 to %d letters, digits, '_', '-', '.')", name,
			 IFNAMSIZ - 1);
		return -1;
	}
	strcpy(t->name, name);
	t->created = !if_nametoindex(name);
	t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (t->fd < 0)
		return failed(t, err, errlen, "/dev/net/tun");
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, name);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(t->fd, TUNSETIFF, &ifr)) {
		if (errno == EINVAL && !t->created)
			snprintf(err, errlen, "tap:%s: an interface of that name exists and is no TAP interface", name);
		else
			failed(t, err, errlen, t->created
				       ? "creating it (TUNSETIFF; CAP_NET_ADMIN?)"
				       : "attaching to it (TUNSETIFF)");
		goto fail;
	}
	if (addressed(t, err, errlen) || enslaved(t, err, errlen) ||
	    sysctl_set(t, "ipv6", "disable_ipv6", "1", err, errlen) ||
	    sysctl_set(t, "ipv4", "forwarding", "0", err, errlen) ||
	    install_table(t, err, errlen) || link_up(t, err, errlen))
		goto fail;
	return 0;
fail:
	tapout_close(t, ignored, sizeof(ignored));
	return -1;
}

int tapout_frame(void *arg, const struct tcpsynth_frame *f)
{
	struct tapout *t = arg;
	ssize_t n;

	do
		n = write(t->fd, f->data, f->len);
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)f->len) {
		t->st.frames++;
		t->st.bytes += f->len;
		return 0;
	}
	/* The interface down (EIO), memory short: counted, said once. */
	t->st.write_errors++;
	if (n < 0 && errno != t->last_errno) {
		t->last_errno = errno;
		fprintf(stderr, "%s: tap:%s: writing a frame: %s (counted in tap.write_errors)\n", t->prog, t->name,
			strerror(errno));
	}
	return 0;
}

int tapout_close(struct tapout *t, char *err, size_t errlen)
{
	char script[128];
	int rc = 0;

	if (t->table) {
		snprintf(script, sizeof(script),
			 "delete table netdev " TAPOUT_TABLE_PREFIX "%s\n",
			 t->name);
		rc = nftrule_run(script, "removing the ingress drop", err,
				 errlen);
		t->table = 0;
	}
	/* An interface we created goes away with its last descriptor. */
	if (t->fd >= 0)
		close(t->fd);
	t->fd = -1;
	return rc;
}
