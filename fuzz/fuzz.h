/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * Shared by the libFuzzer harnesses: reading structured values off the
 * fuzzer's input, a check that aborts (so that libFuzzer keeps the
 * input) with a message saying which invariant broke, and the Internet
 * checksum, to recompute the checksums of what the code under test
 * parsed or wrote independently of it.
 */
#ifndef TLSTAP_FUZZ_H
#define TLSTAP_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond, ...)                                                    \
	do {                                                                \
		if (!(cond)) {                                              \
			fprintf(stderr, "%s:%d: invariant broken: %s: ",    \
				__FILE__, __LINE__, #cond);                 \
			fprintf(stderr, __VA_ARGS__);                       \
			fputc('\n', stderr);                                \
			abort();                                            \
		}                                                           \
	} while (0)

/* The input as a stream of values; reading past its end yields zeros. */
struct input {
	const uint8_t *p;
	size_t left;
};

static inline void input_init(struct input *in, const uint8_t *data,
			      size_t size)
{
	in->p = data;
	in->left = size;
}

static inline void input_bytes(struct input *in, void *out, size_t n)
{
	size_t k = n < in->left ? n : in->left;

	memcpy(out, in->p, k);
	memset((uint8_t *)out + k, 0, n - k);
	in->p += k;
	in->left -= k;
}

static inline uint8_t input_u8(struct input *in)
{
	uint8_t v;

	input_bytes(in, &v, 1);
	return v;
}

/* Little-endian, so that seeds written by fuzz/mkseeds.py read naturally. */
static inline uint16_t input_u16(struct input *in)
{
	uint8_t b[2];

	input_bytes(in, b, 2);
	return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t input_u32(struct input *in)
{
	uint8_t b[4];

	input_bytes(in, b, 4);
	return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
	       (uint32_t)b[3] << 24;
}

static inline uint64_t input_u64(struct input *in)
{
	uint64_t lo = input_u32(in);

	return lo | (uint64_t)input_u32(in) << 32;
}

/* Up to n bytes of the input, in place; *len says how many. */
static inline const uint8_t *input_take(struct input *in, size_t n,
					size_t *len)
{
	const uint8_t *p = in->p;

	*len = n < in->left ? n : in->left;
	in->p += *len;
	in->left -= *len;
	return p;
}

/* RFC 1071: the 16-bit big-endian words of p added to sum... */
static inline uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

/* ... and folded to 16 bits: 0xffff over data whose checksum is right. */
static inline uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#endif
