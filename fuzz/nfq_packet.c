// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * tlstap-nfq's packet parser (udp_parse in nfq-tools/lib/nfqueue.c, on
 * libnetfilter_queue's pkt_buff helpers) on one queued IP packet, then
 * the datagram parser on the UDP payload it finds, as tlstap-nfq does.
 * Checks: an accepted packet is one whole unfragmented IPv4 or IPv6 UDP
 * datagram whose lengths agree; the payload lies inside the packet right
 * after the UDP header; a verified checksum is the one the packet
 * carries (recomputed here independently).
 *
 * Input: u8 flags (bit 0: the copy is truncated, bit 1: checksum not
 * ready), then the IP packet.
 */
#include <arpa/inet.h>

#include "fuzz.h"
#include "nfqueue.h"
#include "wire.h"

/* RFC 768 over the pseudo-header: 0xffff (or 0) when the packet's is right. */
static uint16_t udp_sum(const uint8_t *pkt, size_t len, int v6, size_t l4)
{
	uint32_t sum = 0;
	size_t ulen = len - l4;

	if (v6)
		sum = sum16(pkt + 8, 32, 0);
	else
		sum = sum16(pkt + 12, 8, 0);
	sum += 17 + (uint32_t)ulen;
	return fold(sum16(pkt + l4, ulen, sum));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nfqueue_packet pkt = { 0 };
	struct udp_view v;
	enum udp_status st;
	uint8_t *copy;
	size_t l4;
	int v6;

	if (!size)
		return 0;
	pkt.truncated = data[0] & 1;
	pkt.csum_not_ready = !!(data[0] & 2);
	pkt.len = size - 1;
	/* Its own heap block, so that ASan sees a read past the packet. */
	copy = malloc(pkt.len ? pkt.len : 1);
	CHECK(copy, "malloc");
	memcpy(copy, data + 1, pkt.len);
	pkt.data = copy;
	st = udp_parse(&pkt, &v);
	CHECK(udp_status_name(st) != NULL, "no name");
	CHECK(!memcmp(copy, data + 1, pkt.len), "udp_parse wrote into the packet");
	if (st != UDP_OK) {
		free(copy);
		return 0;
	}
	CHECK(!pkt.truncated, "a truncated copy accepted");
	v6 = copy[0] >> 4 == 6;
	l4 = v6 ? 40 : (size_t)(copy[0] & 15) * 4;
	CHECK(v6 || copy[0] >> 4 == 4, "version %u", copy[0] >> 4);
	CHECK(l4 + 8 <= pkt.len, "no room for a UDP header");
	CHECK(v.payload == copy + l4 + 8 && v.payload_len == pkt.len - l4 - 8,
	      "payload at %td (+%zu) of %zu", v.payload - copy, v.payload_len,
	      pkt.len);
	CHECK(v.src.family == (v6 ? TLSTAP_FAMILY_IPV6 : TLSTAP_FAMILY_IPV4) &&
	      v.dst.family == v.src.family, "family");
	CHECK((size_t)(copy[l4 + 4] << 8 | copy[l4 + 5]) == pkt.len - l4, "UDP length");
	if (v.csum_checked) {
		uint16_t s = udp_sum(copy, pkt.len, v6, l4);

		CHECK(s == 0xffff || (!v6 && s == 0), "checksum 0x%04x accepted", s);
	} else {
		CHECK(pkt.csum_not_ready || (!v6 && !copy[l4 + 6] && !copy[l4 + 7]),
		      "checksum neither checked nor excused");
	}
	{
		struct wire_msg msg;

		if (wire_parse_msg(v.payload, v.payload_len, &msg) == WIRE_OK &&
		    msg.type == TLSTAP_MSG_DATA)
			(void)wire_check_data(&msg, TLSTAP_DEFAULT_MAX_RECORD);
	}
	free(copy);
	return 0;
}
