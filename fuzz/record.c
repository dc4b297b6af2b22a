// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The userspace record parser (shared/record.c) as tlstap-fwd
 * uses it on what arrives at its input: a message of whole records
 * (datagram and seqpacket sockets) and a byte stream read in arbitrary
 * pieces (stream socket, FIFO). Checks: an accepted record lies inside
 * the input and re-encodes to the very header bytes it was parsed from;
 * the stream framing yields exactly the records the message framing
 * does, however the bytes are split; and every header gets the verdict
 * kmod/recinfo.c (the /dev/tlstap parser, built from its source) gives it.
 *
 * Input: u8 max_msg_len choice, u8 number of split points, that many u16
 * piece lengths, then the bytes.
 */
#include <errno.h>

#include "fuzz.h"
#include "kmod_record.h"
#include "record.h"

#define MAX_RECORDS	4096

static const uint32_t max_msg_lens[] = {
	TLSTAP_DEFAULT_MAX_RECORD, 0, 1, 100, 1000, UINT32_MAX,
};

struct found {
	size_t pos;
	uint32_t len;
};

/* Checks one accepted record at buf[pos] (avail bytes from there). */
static void check_record(const uint8_t *buf, size_t pos, size_t avail,
			 uint32_t max, const struct record_info *r)
{
	struct tlstap_record hdr;
	uint32_t sum = 0;

	CHECK(r->len == TLSTAP_RECORD_HDR_LEN + r->msg_len && r->len <= avail,
	      "len %u, msg_len %u, avail %zu", r->len, r->msg_len, avail);
	CHECK(r->bytes == buf + pos && r->msg == buf + pos + TLSTAP_RECORD_HDR_LEN,
	      "pointers outside the record");
	CHECK(r->msg_len <= max, "msg_len %u above %u", r->msg_len, max);
	if (r->type == TLSTAP_RECORD_DATA)
		CHECK(r->msg_len || r->dropped, "empty record accepted");
	else
		CHECK((r->type == TLSTAP_RECORD_OPEN ||
		       r->type == TLSTAP_RECORD_CLOSE) && !r->msg_len &&
		      !r->dropped, "type %u, msg_len %u, dropped %llu accepted",
		      r->type, r->msg_len, (unsigned long long)r->dropped);
	CHECK(record_flow_check(&r->flow) == RECORD_OK, "flow of an accepted record");
	record_encode_hdr(&hdr, r);
	CHECK(!memcmp(&hdr, r->bytes, sizeof(hdr)),
	      "re-encoded header differs from the parsed one");
	for (uint32_t i = 0; i < r->msg_len; i++)
		sum += r->msg[i];
	(void)sum;
}

/* The module's verdict on the same header must match. */
static void check_against_kmod(const uint8_t *hdr, size_t avail, uint32_t max,
			       enum record_status st,
			       const struct record_info *r)
{
	uint32_t klen = 0;
	int krc;

	if (avail < TLSTAP_RECORD_HDR_LEN)
		return;
	krc = kmod_record_check(hdr, max, &klen);
	switch (st) {
	case RECORD_OK:
		CHECK(krc == 0 && klen == r->len, "kmod says %d (len %u)", krc, klen);
		break;
	case RECORD_SHORT:	/* header fine, plaintext not all there */
		CHECK(krc == 0, "kmod refuses (%d) a header fwd takes", krc);
		break;
	case RECORD_TOO_LONG:
		CHECK(krc == -EMSGSIZE, "too_long here, kmod says %d", krc);
		break;
	default:
		CHECK(krc == -EINVAL, "%s here, kmod says %d",
		      record_status_name(st), krc);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct found msg_recs[MAX_RECORDS], stream_recs[MAX_RECORDS];
	struct input in;
	uint32_t max;
	uint16_t pieces[16];
	unsigned int npieces, nmsg = 0, nstream = 0;
	const uint8_t *bytes;
	size_t len, pos = 0, fed = 0, start = 0, have = 0;
	uint8_t *sbuf;
	int stream_broken = 0;

	input_init(&in, data, size);
	max = max_msg_lens[input_u8(&in) % (sizeof(max_msg_lens) / sizeof(max_msg_lens[0]))];
	npieces = input_u8(&in) % 16;
	for (unsigned int i = 0; i < npieces; i++)
		pieces[i] = input_u16(&in);
	bytes = input_take(&in, SIZE_MAX, &len);

	/* Message framing: records back to back until the first bad one. */
	while (pos < len) {
		struct record_info r;
		enum record_status st = record_parse(bytes + pos, len - pos, max, &r);

		CHECK(record_status_name(st) != NULL, "no name");
		check_against_kmod(bytes + pos, len - pos, max, st, &r);
		if (st != RECORD_OK)
			break;
		check_record(bytes, pos, len - pos, max, &r);
		CHECK(nmsg < MAX_RECORDS, "more records than bytes allow");
		msg_recs[nmsg].pos = pos;
		msg_recs[nmsg++].len = r.len;
		pos += r.len;
	}

	/*
	 * Stream framing, as tlstap-fwd's process_stream: append a piece,
	 * take every whole record, keep the rest (a copy in its own heap
	 * buffer, so that ASan sees any read past what arrived).
	 */
	sbuf = malloc(len ? len : 1);
	CHECK(sbuf, "malloc");
	for (unsigned int i = 0; fed < len && !stream_broken; i++) {
		size_t n = i < npieces ? pieces[i] : len - fed;
		uint8_t *window;

		if (n > len - fed)
			n = len - fed;
		memcpy(sbuf + start + have, bytes + fed, n);
		fed += n;
		have += n;
		window = malloc(have ? have : 1);
		CHECK(window, "malloc");
		memcpy(window, sbuf + start, have);
		pos = 0;
		while (pos < have) {
			struct record_info r;
			enum record_status st = record_parse(window + pos,
							     have - pos, max, &r);

			if (st == RECORD_SHORT)
				break;
			if (st != RECORD_OK) {
				stream_broken = 1;
				break;
			}
			check_record(window, pos, have - pos, max, &r);
			CHECK(nstream < MAX_RECORDS, "more records than bytes allow");
			stream_recs[nstream].pos = start + pos;
			stream_recs[nstream++].len = r.len;
			pos += r.len;
		}
		free(window);
		start += pos;
		have -= pos;
	}
	free(sbuf);
	CHECK(nstream == nmsg, "stream framing found %u records, message framing %u",
	      nstream, nmsg);
	for (unsigned int i = 0; i < nmsg; i++)
		CHECK(stream_recs[i].pos == msg_recs[i].pos &&
		      stream_recs[i].len == msg_recs[i].len,
		      "record %u differs between the framings", i);
	return 0;
}
