/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * tlstap-fwd's state and the calls between its parts, one job per file:
 * options.c the command line, input.c the input sockets, FIFO and stdin,
 * capture.c the seqpacket writers and their capture rings, records.c
 * steering and the records' way into the targets' rings, send.c the
 * datagrams' way out, control.c NACKs, GAPs and heartbeats, stats.c the
 * counters, tlstap-fwd.c the loop (its comment tells the design).
 */
#ifndef TLSTAP_FWD_H
#define TLSTAP_FWD_H

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "cli.h"
#include "fwdring.h"
#include "mmsg.h"
#include "ratelog.h"
#include "record.h"
#include "replay.h"
#include "sockerr.h"
#include "statprint.h"
#include "steer.h"
#include "txring.h"
#include "wire.h"

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

#define PROG "tlstap-fwd"
#define die(...) cli_die(PROG, __VA_ARGS__)
#define parse_ulong(...) cli_ulong(PROG, __VA_ARGS__)
#define EXIT_FRAMING 3		/* a byte stream lost its record framing */

#define IN_BATCH	64		/* messages per recvmmsg */
#define IN_MSG_SIZE	(256 * 1024)	/* one input message at most */
#define SEND_MSGS	64		/* mmsghdr per sendmmsg */
#define GSO_MAX_SEGS	64		/* UDP_MAX_SEGMENTS of Linux 6.1 */
#define SEND_AT_DGRAMS	128		/* send once a ring has this many */
#define MAX_CONNS	1024		/* seqpacket writers at once */
#define SEND_TRIES	3		/* attempts per datagram on errors */
#define CTL_BATCH	32		/* control datagrams per recvmmsg */
#define CTL_BUF		2048		/* larger than any valid NACK */
#define POLL_DEFAULT_US	500		/* tlstap.ko's flush interval */
#define HEARTBEATS	3		/* after the last DATA, at most */
#define POLL_IDLE_NS	50000000ull	/* polling: block again after 50 ms idle */
#define ICMP_LOG_NS	1000000000ull	/* a target's ICMP reports: a line a second */
/*
 * A datagram socket queues at most net.unix.max_dgram_qlen messages
 * whatever its buffer (Debian: 10); polling needs room for what arrives
 * between two drains, so below this it waits on the socket instead.
 */
#define DGRAM_POLL_MIN_QLEN	256
/* Frames a ring hands on per walk: then the other rings have their turn. */
#define RING_WALK_FRAMES	1024

/* What an epoll event's data names: a seqpacket connection's index below. */
#define EV_SIGNAL	0xffffffffu
#define EV_INPUT	0xfffffffeu	/* listener, datagram socket, stream */
#define EV_SOCK_BASE	0x10000u	/* + target index, or + 64 + family */

enum input_kind { IN_STDIN, IN_FIFO, IN_UNIX_DGRAM, IN_UNIX_SEQPACKET };

struct options {
	struct endpoint target_ep[TLSTAP_MAX_TARGETS];
	uint32_t target_weight[TLSTAP_MAX_TARGETS];
	unsigned int ntargets;
	uint8_t hash_key[TLSTAP_HASH_KEY_LEN];
	int hash_key_given;
	int tos;
	uint16_t port;
	uint32_t max_record;
	size_t max_datagram;
	size_t replay_bytes;
	unsigned int heartbeat_ms;
	unsigned int retransmit_rate, retransmit_burst;
	unsigned int linger_ms;
	unsigned int poll_us;		/* 0: always wait on the input */
	size_t ring_memory;		/* all capture rings together; 0: none */
	enum input_kind in_kind;
	const char *in_path;
	mode_t mode;
	int print_target;
	int stats_json;
	int gso;
};

struct target_stats {
	unsigned long long records, record_bytes, loss_reports;
	unsigned long long datagrams, bytes, gso_sends, send_calls;
	unsigned long long send_errors, dropped_datagrams, repacks;
	unsigned long long nacks;		/* honoured */
	struct replay_counts replay;
	unsigned long long retransmit_errors;
	unsigned long long gaps_sent;		/* ranges */
	unsigned long long gap_messages, heartbeats;
	unsigned long long icmp_unreachable;	/* ICMP destination unreachable */
};

struct target {
	struct endpoint ep;
	uint32_t weight;
	char name[ENDPOINT_STRLEN];
	int fd;
	int hdr_overhead;	/* IP + UDP header bytes */
	int gso;		/* UDP_SEGMENT still accepted */
	struct txring ring;
	struct target_stats st;
	struct tokenbucket bucket;	/* retransmissions */
	unsigned int heartbeats_left;	/* since the last DATA */
	uint64_t next_heartbeat_ns;
	enum tlstap_target_state state;
	int probe_sent;			/* RESOLVING: the first datagram left */
	uint64_t resolve_by_ns;		/* ... and may hold the rest until then */
	unsigned long long icmp_logged;	/* icmp_unreachable at the last line */
	uint64_t icmp_logged_ns;	/* when that was */
	char icmp_what[32];		/* the last report's kind */
};

struct fwd_stats {
	unsigned long long input_calls, input_messages, input_bytes;
	unsigned long long records, record_bytes, loss_reports;
	unsigned long long malformed[RECORD_STATUS_COUNT];
	unsigned long long discarded_bytes;	/* input bytes not forwarded */
	unsigned long long oversized_messages;
	/* datagrams on the source port that are not honoured NACKs */
	unsigned long long nack_rejected_not_target;	/* unknown address */
	unsigned long long nack_rejected_stream;	/* not its stream id */
	unsigned long long nack_rejected_malformed;	/* not a good NACK */
	unsigned long long resolve_timeouts;	/* targets sent unresolved */
	/* capture rings */
	unsigned long long rings_created, ring_wakeups, rings_ended;
	unsigned long long ring_room_sent;
	struct fwdring_counts ring;	/* records, abandoned, too long */
};

enum ctl_family { CTL_V4, CTL_V6, CTL_COUNT };

/* Retransmissions of one target being gathered for one sendmmsg. */
struct resend_batch {
	struct target *t;
	unsigned int n;
	struct mmsghdr msgs[SEND_MSGS];
	struct iovec iov[SEND_MSGS];
};

struct conn {
	int fd;
	struct ucred cred;	/* SO_PEERCRED: the writer of its records */
	bool has_ring;
	struct fwdring ring;
};

struct fwd {
	struct options opt;
	struct steer_hasher hasher;
	struct steer_table table;
	struct target targets[TLSTAP_MAX_TARGETS];	/* steering order */
	unsigned int ntargets;
	struct fwd_stats st;
	struct ratelog log;
	int epfd, sigfd;
	int ctl_fd[CTL_COUNT];		/* unconnected, on the source port */
	uint16_t src_port;		/* what the target sockets bound */
	int input_done;			/* byte stream at its end: linger */
	uint64_t linger_from_ns;	/* end of input or last NACK */
	int in_fd;			/* socket, FIFO or stdin */
	int in_unpollable;		/* stdin is a regular file */
	int in_oneshot;			/* inputs armed with EPOLLONESHOT */
	int polling;			/* inputs disarmed, drained on a timer */
	uint64_t last_input_ns;		/* polling: when input last came */
	int created_path;		/* unlink opt.in_path at exit */
	struct conn conns[MAX_CONNS];	/* seqpacket connections */
	unsigned int rings;		/* live capture rings */
	size_t ring_bytes;		/* their memory */
	struct fwdring_sink ring_sink;
	/* input buffers */
	uint8_t *msg_bufs;		/* IN_BATCH * IN_MSG_SIZE */
	struct mmsghdr in_msgs[IN_BATCH];
	struct iovec in_iov[IN_BATCH];
	/*
	 * A datagram's SCM_CREDENTIALS, and room for nothing more: file
	 * descriptors a writer passes (SCM_RIGHTS) are then closed by the
	 * kernel instead of landing here.
	 */
	union {
		char buf[CMSG_SPACE(sizeof(struct ucred))];
		struct cmsghdr align;
	} in_cmsg[IN_BATCH];
	uint8_t *stream_buf;		/* byte-stream input */
	size_t stream_cap, stream_len;
	unsigned long long stream_offset;	/* bytes consumed so far */
	/* send scratch */
	struct mmsghdr out_msgs[SEND_MSGS];
	uint32_t out_dgrams[SEND_MSGS];
	struct iovec out_iov[SEND_MSGS * GSO_MAX_SEGS];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} out_cmsg[SEND_MSGS];
	/* control receive */
	uint8_t ctl_bufs[CTL_BATCH][CTL_BUF];
	struct mmsghdr ctl_msgs[CTL_BATCH];
	struct iovec ctl_iov[CTL_BATCH];
	struct sockaddr_storage ctl_from[CTL_BATCH];
	struct resend_batch resend;
};

/* options.c */
void parse_options(struct options *o, int argc, char **argv);

/* stats.c */
void print_stats(const struct fwd *f);

/* send.c */
uint64_t now_ns(void);
void pack_piece(struct fwd *f, struct target *t,
		const struct wire_chunk_meta *m, uint32_t offset,
		const uint8_t *data, size_t len);
unsigned int target_errors(struct fwd *f, struct target *t);
int earlier_error(struct fwd *f, struct target *t, int err);
uint64_t unreachable_due(struct fwd *f, uint64_t now);
void target_send(struct fwd *f, struct target *t);
void flush_all(struct fwd *f);
void finish_all(struct fwd *f);
uint64_t resolve_due(const struct fwd *f);
void __attribute__((noreturn)) die_bind(struct fwd *f, const char *who);
void open_target(struct fwd *f, struct target *t);

/* records.c */
/* The writer of records from a FIFO or stdin: nobody knows it. */
extern const struct ucred writer_unknown;
void setup_steering(struct fwd *f);
void forward_record(struct fwd *f, const struct record_info *r,
		    const struct ucred *writer);
void report_malformed(struct fwd *f, enum record_status st,
		      size_t discarded, const char *where);
void process_message(struct fwd *f, const uint8_t *buf, size_t len,
		     int truncated, const struct ucred *writer);
int process_stream(struct fwd *f);

/* input.c */
int epoll_add(struct fwd *f, int fd, uint32_t data);
int epoll_add_input(struct fwd *f, int fd, uint32_t data);
void arm_input(struct fwd *f, int fd, uint32_t data);
void open_fifo(struct fwd *f);
void open_input(struct fwd *f);

/* capture.c */
void ring_record(void *ctx, const struct fwdring *ring,
		 const struct record_info *r);
void ring_release(struct fwd *f, struct conn *c);
void rings_idle(struct fwd *f, bool idle);
int drain_input(struct fwd *f, uint32_t source);
int drain_all(struct fwd *f);
int poll_inputs(struct fwd *f, uint64_t now);
void stop_polling(struct fwd *f);

/* control.c */
void open_control(struct fwd *f);
void read_socket(struct fwd *f, uint32_t ev);
uint64_t heartbeats_due(struct fwd *f, uint64_t now);

#endif /* TLSTAP_FWD_H */
