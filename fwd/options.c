// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-fwd's command line: its usage and its options.
 */
#include "fwd.h"

static void usage(FILE *f)
{
	fprintf(f,
"usage: " PROG " --target ADDR:PORT[,weight=W] [--target ...] [options]\n"
"  targets:\n"
"    -t, --target ADDR:PORT[,weight=W]  a target, IPV4:PORT or [IPV6]:PORT,\n"
"                         weight 1..%u (default 1); up to %u\n"
"  input (one; default stdin):\n"
"    --unix PATH          Unix datagram socket to create (whole records)\n"
"    --seqpacket PATH     Unix seqpacket socket to create (whole records)\n"
"    --fifo PATH          FIFO (created if missing): a byte stream\n"
"    --stdin              standard input: a byte stream\n"
"    --mode OCTAL         permissions of the socket or FIFO (default 0600)\n"
"    --poll-us N          while input flows, drain it every N us instead of\n"
"                         being woken by each write (default %u; 0: never)\n"
"    --ring-memory BYTES  all capture rings of --seqpacket writers together\n"
"                         (default a quarter of RAM; 0: no rings)\n"
"  sending:\n"
"    --hash-key HEX32     16-byte flow-hash key (default random)\n"
"    --tos N              IP TOS / IPv6 traffic class, 1..255 (default %u)\n"
"    --port N             UDP source port, where NACKs come back (default:\n"
"                         an ephemeral one, named in the start line)\n"
"    --max-record N       largest plaintext per record (default %u)\n"
"    --max-datagram N     cap on the UDP payload (default: path MTU)\n"
"    --no-gso             never use UDP GSO\n"
"  reliable delivery:\n"
"    --replay-bytes N     sent datagrams held per target for NACKs\n"
"                         (default 4 MiB; 0: none, every NACK gets a GAP)\n"
"    --retransmit-rate N  retransmissions per second per target (default %u)\n"
"    --retransmit-burst N ... and at once (default %u)\n"
"    --heartbeat-ms N     heartbeat interval when a target is quiet\n"
"                         (default 100; 0: none)\n"
"    --linger-ms N        at the end of a byte stream, serve NACKs until\n"
"                         none came for N ms after the heartbeats (default 500)\n"
"  other:\n"
"    --print-target       print each record's target, send nothing\n"
"    --stats-json         counters as JSON (on SIGUSR1 and at exit)\n"
"    -h, --help           this help\n"
"    --version            " PROG " and its version\n"
"A malformed record is counted and skipped. In a byte stream (FIFO,\n"
"stdin) its length cannot be trusted, so the stream cannot be resynchronised:\n"
"" PROG " then sends what it has and exits with status %d.\n",
		TLSTAP_MAX_WEIGHT, TLSTAP_MAX_TARGETS, POLL_DEFAULT_US,
		TLSTAP_DEFAULT_TOS, TLSTAP_DEFAULT_MAX_RECORD, REPLAY_DEFAULT_RATE,
		REPLAY_DEFAULT_BURST, EXIT_FRAMING);
}

static void parse_target(struct options *o, const char *arg)
{
	char spec[128], err[160];
	char *comma;
	uint32_t weight = 1;

	if (o->ntargets == TLSTAP_MAX_TARGETS)
		cli_usage_error(PROG, "--target: at most %u targets",
				TLSTAP_MAX_TARGETS);
	if (strlen(arg) >= sizeof(spec))
		cli_usage_error(PROG, "--target '%s': too long", arg);
	strcpy(spec, arg);
	comma = strchr(spec, ',');
	if (comma) {
		*comma = '\0';
		if (strncmp(comma + 1, "weight=", 7))
			cli_usage_error(PROG, "--target '%s': want ADDR:PORT[,weight=W]", arg);
		weight = (uint32_t)parse_ulong("--target weight", comma + 8, 1,
					       TLSTAP_MAX_WEIGHT);
	}
	if (endpoint_parse(spec, 0, &o->target_ep[o->ntargets], err,
			   sizeof(err)))
		cli_usage_error(PROG, "--target: %s", err);
	o->target_weight[o->ntargets++] = weight;
}

static void set_input(struct options *o, enum input_kind kind,
		      const char *path)
{
	static int given;

	if (given++)
		cli_usage_error(PROG, "give one input: --unix, --seqpacket, --fifo or --stdin");
	o->in_kind = kind;
	o->in_path = path;
}

/* A quarter of the RAM: what capture rings may take at most by default. */
static size_t ring_memory_default(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);

	if (pages <= 0 || page <= 0)
		return 256u << 20;
	return (size_t)pages / 4 * (size_t)page;
}

void parse_options(struct options *o, int argc, char **argv)
{
	enum { O_UNIX = 256, O_SEQPACKET, O_FIFO, O_STDIN, O_MODE, O_KEY,
	       O_TOS, O_PORT, O_MAXREC, O_MAXDG, O_REPLAY, O_NOGSO, O_PRINT,
	       O_JSON, O_HEARTBEAT, O_RTX_RATE, O_RTX_BURST, O_LINGER,
	       O_POLL, O_RING_MEMORY };
	static const struct option longopts[] = {
		{ "target", required_argument, NULL, 't' },
		{ "unix", required_argument, NULL, O_UNIX },
		{ "seqpacket", required_argument, NULL, O_SEQPACKET },
		{ "fifo", required_argument, NULL, O_FIFO },
		{ "stdin", no_argument, NULL, O_STDIN },
		{ "mode", required_argument, NULL, O_MODE },
		{ "poll-us", required_argument, NULL, O_POLL },
		{ "ring-memory", required_argument, NULL, O_RING_MEMORY },
		{ "hash-key", required_argument, NULL, O_KEY },
		{ "tos", required_argument, NULL, O_TOS },
		{ "port", required_argument, NULL, O_PORT },
		{ "max-record", required_argument, NULL, O_MAXREC },
		{ "max-datagram", required_argument, NULL, O_MAXDG },
		{ "replay-bytes", required_argument, NULL, O_REPLAY },
		{ "heartbeat-ms", required_argument, NULL, O_HEARTBEAT },
		{ "retransmit-rate", required_argument, NULL, O_RTX_RATE },
		{ "retransmit-burst", required_argument, NULL, O_RTX_BURST },
		{ "linger-ms", required_argument, NULL, O_LINGER },
		{ "no-gso", no_argument, NULL, O_NOGSO },
		{ "print-target", no_argument, NULL, O_PRINT },
		{ "stats-json", no_argument, NULL, O_JSON },
		CLI_LONGOPTS,
		{ NULL, 0, NULL, 0 },
	};
	struct cli cli;
	int c;

	memset(o, 0, sizeof(*o));
	o->tos = TLSTAP_DEFAULT_TOS;
	/*
	 * Ephemeral: a receiver on this host holds 7419, the targets' port
	 * by convention. NACKs go to whatever port the datagrams came from.
	 */
	o->port = 0;
	o->max_record = TLSTAP_DEFAULT_MAX_RECORD;
	o->max_datagram = TLSTAP_MAX_DGRAM;
	o->replay_bytes = 4u << 20;
	o->heartbeat_ms = 100;
	o->retransmit_rate = REPLAY_DEFAULT_RATE;
	o->retransmit_burst = REPLAY_DEFAULT_BURST;
	o->linger_ms = 500;
	o->poll_us = POLL_DEFAULT_US;
	o->ring_memory = ring_memory_default();
	o->in_kind = IN_STDIN;
	o->mode = 0600;
	o->gso = 1;

	cli_init(&cli, PROG, usage, longopts);
	while ((c = cli_getopt(&cli, argc, argv)) != -1) {
		switch (c) {
		case 't':
			parse_target(o, optarg);
			break;
		case O_UNIX:
			set_input(o, IN_UNIX_DGRAM, optarg);
			break;
		case O_SEQPACKET:
			set_input(o, IN_UNIX_SEQPACKET, optarg);
			break;
		case O_FIFO:
			set_input(o, IN_FIFO, optarg);
			break;
		case O_STDIN:
			set_input(o, IN_STDIN, NULL);
			break;
		case O_MODE: {
			char *end;
			unsigned long m = strtoul(optarg, &end, 8);

			if (*end || end == optarg || m > 0777)
				cli_usage_error(PROG, "--mode: '%s' is not an octal mode, 0..0777", optarg);
			o->mode = (mode_t)m;
			break;
		}
		case O_KEY:
			if (steer_parse_key(optarg, o->hash_key))
				cli_usage_error(PROG, "--hash-key: want 32 hex digits, not '%s'", optarg);
			o->hash_key_given = 1;
			break;
		case O_TOS:
			o->tos = (int)parse_ulong("--tos", optarg, TLSTAP_TOS_MIN,
						  TLSTAP_TOS_MAX);
			break;
		case O_PORT:
			o->port = (uint16_t)parse_ulong("--port", optarg, 0,
							65535);
			break;
		case O_MAXREC:
			o->max_record = (uint32_t)parse_ulong(
				"--max-record", optarg, TLSTAP_MAX_RECORD_MIN,
				TLSTAP_MAX_RECORD_MAX);
			break;
		case O_MAXDG:
			o->max_datagram = parse_ulong("--max-datagram", optarg,
						      TLSTAP_MIN_DGRAM,
						      TLSTAP_MAX_DGRAM);
			break;
		case O_REPLAY:
			o->replay_bytes = parse_ulong("--replay-bytes", optarg,
						      0, 1ul << 30);
			break;
		case O_HEARTBEAT:
			o->heartbeat_ms = (unsigned int)parse_ulong(
				"--heartbeat-ms", optarg, 0, 60000);
			break;
		case O_RTX_RATE:
			o->retransmit_rate = (unsigned int)parse_ulong(
				"--retransmit-rate", optarg, 1, 1000000);
			break;
		case O_RTX_BURST:
			o->retransmit_burst = (unsigned int)parse_ulong(
				"--retransmit-burst", optarg, 1, 1000000);
			break;
		case O_LINGER:
			o->linger_ms = (unsigned int)parse_ulong(
				"--linger-ms", optarg, 0, 600000);
			break;
		case O_POLL:
			o->poll_us = (unsigned int)parse_ulong("--poll-us",
							       optarg, 0,
							       100000);
			break;
		case O_RING_MEMORY:
			o->ring_memory = parse_ulong("--ring-memory", optarg, 0,
						     ULONG_MAX);
			break;
		case O_NOGSO:
			o->gso = 0;
			break;
		case O_PRINT:
			o->print_target = 1;
			break;
		case O_JSON:
			o->stats_json = 1;
			break;
		}
	}
	cli_no_operands(PROG, argc, argv);
	if (!o->ntargets)
		cli_usage_error(PROG, "no --target given");
}
