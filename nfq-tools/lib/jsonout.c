// SPDX-License-Identifier: GPL-2.0 OR MIT
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <arpa/inet.h>
#include <openssl/evp.h>

#include "jsonout.h"

void jsonout_init(struct jsonout *j, FILE *f)
{
	j->f = f;
	j->b64 = NULL;
	j->b64_cap = 0;
}

void jsonout_free(struct jsonout *j)
{
	free(j->b64);
	j->b64 = NULL;
	j->b64_cap = 0;
}

/*
 * A record's time (ns since the epoch, CLOCK_REALTIME of the TLS call) as
 * RFC 3339 in UTC with nanoseconds: "2023-11-14T22:13:20.123456789Z".
 * gmtime_r() takes any u64 of ns: the year 2554 at most.
 */
static void time_text(char *buf, size_t len, uint64_t ns)
{
	time_t sec = (time_t)(ns / 1000000000u);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, len - n, ".%09uZ", (unsigned int)(ns % 1000000000u));
}

/* A number, or null for one that cannot be known. */
static void u32_text(char *buf, size_t len, int known, uint32_t v)
{
	if (known)
		snprintf(buf, len, "%u", v);
	else
		snprintf(buf, len, "null");
}

/* "data", "loss", "open" or "close". */
static const char *type_name(const struct record_info *ri)
{
	switch (ri->type) {
	case TLSTAP_RECORD_OPEN:
		return "open";
	case TLSTAP_RECORD_CLOSE:
		return "close";
	default:
		return ri->msg_len ? "data" : "loss";
	}
}

int jsonout_record(struct jsonout *j, const struct reasm_record *r)
{
	const struct record_info *ri = r->rec;
	size_t need = 4 * ((ri->msg_len + 2) / 3) + 1;
	char sender[ENDPOINT_STRLEN], writer_pid[12], writer_uid[12], time[40];
	char src[INET6_ADDRSTRLEN + 2] = "null", dst[INET6_ADDRSTRLEN + 2] = "null";

	if (need > j->b64_cap) {
		unsigned char *nb = realloc(j->b64, need);

		if (!nb) {
			errno = ENOMEM;
			return -1;
		}
		j->b64 = nb;
		j->b64_cap = need;
	}
	EVP_EncodeBlock(j->b64, ri->msg, (int)ri->msg_len);
	endpoint_format(r->sender, sender, sizeof(sender));
	time_text(time, sizeof(time), ri->timestamp_ns);
	u32_text(writer_pid, sizeof(writer_pid), r->writer_pid != 0,
		 r->writer_pid);
	u32_text(writer_uid, sizeof(writer_uid),
		 r->writer_uid != TLSTAP_WRITER_UID_UNKNOWN, r->writer_uid);
	if (ri->flow.family != TLSTAP_FAMILY_NONE) {
		char a[INET6_ADDRSTRLEN];

		addr_format(ri->flow.family, ri->flow.saddr, a, sizeof(a));
		snprintf(src, sizeof(src), "\"%s\"", a);
		addr_format(ri->flow.family, ri->flow.daddr, a, sizeof(a));
		snprintf(dst, sizeof(dst), "\"%s\"", a);
	}
	if (fprintf(j->f,
		    "{\"type\":\"%s\",\"time\":\"%s\",\"time_ns\":%llu,\"sender\":\"%s\",\"stream\":%u,\"record_id\":%u,\"seq_first\":%u,\"pid\":%u,\"writer_pid\":%s,\"writer_uid\":%s,\"conn_id\":%llu,\"dir\":\"%s\",\"family\":%u,\"src\":%s,\"sport\":%u,\"dst\":%s,\"dport\":%u,\"len\":%u,\"dropped\":%llu",
		    type_name(ri), time,
		    (unsigned long long)ri->timestamp_ns, sender, r->stream_id,
		    r->record_id, r->seq_first, ri->pid, writer_pid, writer_uid,
		    (unsigned long long)ri->conn_id,
		    ri->flow.dir == TLSTAP_DIR_READ ? "read" : "write",
		    ri->flow.family, src, ri->flow.sport, dst, ri->flow.dport,
		    ri->msg_len, (unsigned long long)ri->dropped) < 0)
		return -1;
	/* Only a data record has plaintext; the others not even an empty one. */
	if ((ri->msg_len && fprintf(j->f, ",\"data\":\"%s\"", j->b64) < 0) ||
	    fputs("}\n", j->f) == EOF)
		return -1;
	return 0;
}

int jsonout_lost(FILE *f, const struct reasm_lost *l)
{
	char sender[ENDPOINT_STRLEN], first[12], last[12];

	endpoint_format(l->sender, sender, sizeof(sender));
	u32_text(first, sizeof(first), l->has_record_first, l->record_first);
	u32_text(last, sizeof(last), l->has_record_last, l->record_last);
	return fprintf(f,
		       "{\"type\":\"lost\",\"sender\":\"%s\",\"stream\":%u,\"record_first\":%s,\"record_last\":%s,\"seq_first\":%u,\"seq_last\":%u,\"reason\":\"%s\"}\n",
		       sender, l->stream_id, first, last, l->seq_first,
		       l->seq_last, reasm_lost_reason_name(l->reason)) < 0
		       ? -1 : 0;
}
