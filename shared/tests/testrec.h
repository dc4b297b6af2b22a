/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Records and datagrams for the userspace unit tests, built with the
 * shared encoders (record_encode_hdr(), wire_builder_*()).
 */
#ifndef TLSTAP_TESTREC_H
#define TLSTAP_TESTREC_H

#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "wire.h"

/*
 * A DATA record of msg_len bytes of plaintext ((uint8_t)(fill + i * 7))
 * into buf: port 443 to 50000 + conn_id % 1000 (IPv4 10.0.0.1 to
 * 10.0.0.2, IPv6 fdfd.. to fefe..), pid 4242, dropped 7. Returns its
 * length.
 */
size_t make_record(uint8_t *buf, uint8_t family, uint8_t dir,
		   uint32_t msg_len, uint64_t conn_id, uint8_t fill);

/*
 * The datagram of one chunk holding a whole record: stream 0xabcdef01,
 * seq 9, record id 3, writer 31337 (uid 1000). Returns its length.
 */
size_t build_one(uint8_t *dg, const uint8_t *rec, size_t rec_len);

/* A DATA datagram's verdict: its header, then its chunks. */
enum wire_status check_dgram(const uint8_t *dg, size_t len);

#endif /* TLSTAP_TESTREC_H */
