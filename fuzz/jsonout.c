// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * The JSON lines writer (nfq-tools/lib/jsonout.c) fed arbitrary records
 * (any flow, addresses, ports, pid, writer, times, conn_id, dropped,
 * plaintext; everything the record parser accepts) and arbitrary LOST
 * markers, from any sender. Checks: each call writes exactly one line
 * that is one JSON object (checked by a strict RFC 8259 parser below)
 * with no key twice; "type" says data, loss, open or close; "time_ns" is
 * the record's timestamp and "time" the same as RFC 3339 (checked against
 * a calendar computed here, not by the C library); "len" is the plaintext
 * length; "writer_pid" and "writer_uid" are the writer's, null exactly
 * when unknown; "data" is there exactly when there is plaintext and
 * decodes (base64) to it.
 */
#include <openssl/evp.h>

#include "fuzz.h"
#include "jsonout.h"

struct json {
	const char *p, *end;
};

struct member {
	const char *key, *val;
	size_t key_len, val_len;
};

static int json_value(struct json *j, int depth);

static void ws(struct json *j)
{
	while (j->p < j->end && strchr(" \t\r\n", *j->p) && *j->p)
		j->p++;
}

static int lit(struct json *j, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
		return 0;
	j->p += n;
	return 1;
}

static int json_string(struct json *j)
{
	if (j->p >= j->end || *j->p != '"')
		return 0;
	for (j->p++; j->p < j->end; j->p++) {
		unsigned char c = (unsigned char)*j->p;

		if (c == '"') {
			j->p++;
			return 1;
		}
		if (c < 0x20)
			return 0;
		if (c == '\\') {
			if (++j->p >= j->end)
				return 0;
			if (*j->p == 'u') {
				for (int i = 0; i < 4; i++)
					if (++j->p >= j->end || !strchr("0123456789abcdefABCDEF", *j->p) || !*j->p)
						return 0;
			} else if (!*j->p || !strchr("\"\\/bfnrt", *j->p)) {
				return 0;
			}
		}
	}
	return 0;
}

static int digits(struct json *j)
{
	const char *s = j->p;

	while (j->p < j->end && *j->p >= '0' && *j->p <= '9')
		j->p++;
	return j->p > s;
}

static int json_number(struct json *j)
{
	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p < j->end && *j->p == '0')
		j->p++;
	else if (!digits(j))
		return 0;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (!digits(j))
			return 0;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (!digits(j))
			return 0;
	}
	return 1;
}

/* An object; its members are listed when out is not NULL. */
static int json_object(struct json *j, int depth, struct member *out,
		       size_t max, size_t *n)
{
	size_t count = 0;

	j->p++;
	ws(j);
	if (j->p < j->end && *j->p == '}') {
		j->p++;
		goto done;
	}
	for (;;) {
		const char *k, *k_end, *v;

		ws(j);
		k = j->p;
		if (!json_string(j))
			return 0;
		k_end = j->p - 1;	/* the closing quote */
		ws(j);
		if (j->p >= j->end || *j->p != ':')
			return 0;
		j->p++;
		ws(j);
		v = j->p;
		if (!json_value(j, depth + 1))
			return 0;
		if (out) {
			CHECK(count < max, "too many members");
			out[count] = (struct member){
				.key = k + 1,
				.key_len = (size_t)(k_end - k - 1),
				.val = v,
				.val_len = (size_t)(j->p - v),
			};
		}
		count++;
		ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == '}') {
			j->p++;
			break;
		}
		return 0;
	}
done:
	if (n)
		*n = count;
	return 1;
}

static int json_value(struct json *j, int depth)
{
	if (depth > 32 || j->p >= j->end)
		return 0;
	switch (*j->p) {
	case '{':
		return json_object(j, depth, NULL, 0, NULL);
	case '[':
		j->p++;
		ws(j);
		if (j->p < j->end && *j->p == ']') {
			j->p++;
			return 1;
		}
		for (;;) {
			ws(j);
			if (!json_value(j, depth + 1))
				return 0;
			ws(j);
			if (j->p < j->end && *j->p == ',') {
				j->p++;
				continue;
			}
			if (j->p < j->end && *j->p == ']') {
				j->p++;
				return 1;
			}
			return 0;
		}
	case '"':
		return json_string(j);
	case 't':
		return lit(j, "true");
	case 'f':
		return lit(j, "false");
	case 'n':
		return lit(j, "null");
	default:
		return json_number(j);
	}
}

#define MAX_MEMBERS 32

/* One line, one object: its members. */
static size_t parse_line(const char *buf, size_t len, struct member *m)
{
	struct json j = { buf, buf + len - 1 };
	size_t n;

	CHECK(len >= 2 && buf[len - 1] == '\n' && !memchr(buf, '\n', len - 1),
	      "not one line: %.*s", (int)len, buf);
	CHECK(!memchr(buf, '\0', len), "NUL in the output");
	CHECK(*j.p == '{' && json_object(&j, 0, m, MAX_MEMBERS, &n) && j.p == j.end,
	      "not a JSON object: %.*s", (int)len, buf);
	for (size_t a = 0; a < n; a++)
		for (size_t b = 0; b < a; b++)
			CHECK(m[a].key_len != m[b].key_len ||
			      memcmp(m[a].key, m[b].key, m[a].key_len),
			      "key %.*s twice", (int)m[a].key_len, m[a].key);
	return n;
}

static const struct member *get(const struct member *m, size_t n,
				const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (m[i].key_len == strlen(key) && !memcmp(m[i].key, key, m[i].key_len))
			return &m[i];
	return NULL;
}

/* Member key is exactly want. */
static void check_member(const struct member *m, size_t n, const char *key,
			 const char *want)
{
	const struct member *got = get(m, n, key);

	CHECK(got && got->val_len == strlen(want) &&
	      !memcmp(got->val, want, got->val_len), "%s %.*s, want %s", key,
	      got ? (int)got->val_len : 0, got ? got->val : "", want);
}

/* Member key is v as a decimal number, or null when !known. */
static void check_u32(const struct member *m, size_t n, const char *key,
		      int known, uint32_t v)
{
	char want[16];

	if (known)
		snprintf(want, sizeof(want), "%u", v);
	else
		snprintf(want, sizeof(want), "null");
	check_member(m, n, key, want);
}

/*
 * The civil date of a day count since 1970-01-01: March-based years of
 * 400-year eras of 146097 days, so that February's length comes last.
 */
static void civil_date(uint64_t days, unsigned int *year, unsigned int *month,
		       unsigned int *day)
{
	uint64_t z = days + 719468;		/* days since 0000-03-01 */
	uint64_t era = z / 146097;
	unsigned int doe = (unsigned int)(z % 146097);	/* day of the era */
	unsigned int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned int mp = (5 * doy + 2) / 153;	/* month from March */

	*day = doy - (153 * mp + 2) / 5 + 1;
	*month = mp < 10 ? mp + 3 : mp - 9;
	*year = (unsigned int)(era * 400 + yoe) + (*month <= 2);
}

/* "time" and "time_ns": the record's timestamp, in both forms. */
static void check_time(const struct member *m, size_t n, uint64_t ns)
{
	uint64_t sec = ns / 1000000000u;
	unsigned int year, month, day, s = (unsigned int)(sec % 86400);
	char want[48];

	civil_date(sec / 86400, &year, &month, &day);
	snprintf(want, sizeof(want), "\"%04u-%02u-%02uT%02u:%02u:%02u.%09uZ\"",
		 year, month, day, s / 3600, s / 60 % 60, s % 60,
		 (unsigned int)(ns % 1000000000u));
	check_member(m, n, "time", want);
	snprintf(want, sizeof(want), "%llu", (unsigned long long)ns);
	check_member(m, n, "time_ns", want);
}

static void check_record_line(const char *buf, size_t len,
			      const struct reasm_record *rr)
{
	const struct record_info *ri = rr->rec;
	struct member m[MAX_MEMBERS];
	size_t n = parse_line(buf, len, m);
	const struct member *type = get(m, n, "type"), *l = get(m, n, "len"),
			    *d = get(m, n, "data");
	const char *want_type = ri->type == TLSTAP_RECORD_OPEN ? "\"open\"" :
				ri->type == TLSTAP_RECORD_CLOSE ? "\"close\"" :
				ri->msg_len ? "\"data\"" : "\"loss\"";
	char want[16];
	int loss = !ri->msg_len;

	CHECK(type && type->val_len == strlen(want_type) &&
	      !memcmp(type->val, want_type, type->val_len), "type %.*s, want %s",
	      type ? (int)type->val_len : 0, type ? type->val : "", want_type);
	snprintf(want, sizeof(want), "%u", ri->msg_len);
	CHECK(l && l->val_len == strlen(want) && !memcmp(l->val, want, l->val_len),
	      "len %.*s, want %s", l ? (int)l->val_len : 0, l ? l->val : "", want);
	check_time(m, n, ri->timestamp_ns);
	check_u32(m, n, "writer_pid", rr->writer_pid != 0, rr->writer_pid);
	check_u32(m, n, "writer_uid",
		  rr->writer_uid != TLSTAP_WRITER_UID_UNKNOWN, rr->writer_uid);
	CHECK((d == NULL) == loss, "data %s for len %u", d ? "present" : "missing",
	      ri->msg_len);
	if (d) {
		size_t b64 = d->val_len - 2;
		unsigned char *dec = malloc(b64 / 4 * 3 + 1);
		int got;

		CHECK(dec, "malloc");
		CHECK(d->val[0] == '"' && b64 % 4 == 0, "data not base64");
		got = EVP_DecodeBlock(dec, (const unsigned char *)d->val + 1, (int)b64);
		/* EVP_DecodeBlock keeps the padding's zero bytes: drop them. */
		if (b64 >= 4 && d->val[b64] == '=')
			got -= 1 + (d->val[b64 - 1] == '=');
		CHECK(got == (int)ri->msg_len && !memcmp(dec, ri->msg, ri->msg_len),
		      "data decodes to %d bytes that differ", got);
		free(dec);
	}
}

static void build_endpoint(struct input *in, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	ep->family = input_u8(in) & 1 ? TLSTAP_FAMILY_IPV6 : TLSTAP_FAMILY_IPV4;
	input_bytes(in, ep->addr, ep->family == TLSTAP_FAMILY_IPV4 ? 4 : 16);
	ep->port = input_u16(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t rec[TLSTAP_RECORD_HDR_LEN + 4096];
	struct input in;
	struct jsonout j;
	char *out = NULL;
	size_t out_len = 0;
	FILE *f;

	input_init(&in, data, size);
	while (in.left) {
		uint8_t kind = input_u8(&in);
		struct endpoint sender;

		f = open_memstream(&out, &out_len);
		CHECK(f, "open_memstream");
		build_endpoint(&in, &sender);
		if (kind & 1) {
			struct reasm_lost l = {
				.sender = &sender,
				.stream_id = input_u32(&in),
				.seq_first = input_u32(&in),
				.seq_last = input_u32(&in),
				.record_first = input_u32(&in),
				.record_last = input_u32(&in),
				.has_record_first = kind & 2,
				.has_record_last = kind & 4,
				.reason = kind & 8 ? GAP_REASON_GAP : GAP_REASON_TIMEOUT,
			};
			struct member m[MAX_MEMBERS];

			CHECK(jsonout_lost(f, &l) == 0, "jsonout_lost failed");
			CHECK(fclose(f) == 0, "fclose");
			parse_line(out, out_len, m);
		} else {
			struct record_info ri = { 0 }, parsed;
			struct reasm_record rr = { .sender = &sender };
			static const uint8_t families[] = {
				TLSTAP_FAMILY_NONE, TLSTAP_FAMILY_IPV4,
				TLSTAP_FAMILY_IPV6,
			};
			const uint8_t *msg;
			size_t msg_len;

			ri.flow.family = families[(kind >> 1) % 3];
			ri.flow.dir = kind & 8 ? TLSTAP_DIR_READ : TLSTAP_DIR_WRITE;
			if (ri.flow.family != TLSTAP_FAMILY_NONE) {
				size_t alen = ri.flow.family == TLSTAP_FAMILY_IPV4 ? 4 : 16;

				input_bytes(&in, ri.flow.saddr, alen);
				input_bytes(&in, ri.flow.daddr, alen);
				ri.flow.sport = input_u16(&in) | 1;
				ri.flow.dport = input_u16(&in) | 1;
			}
			ri.pid = input_u32(&in);
			ri.timestamp_ns = input_u64(&in);
			ri.conn_id = input_u64(&in);
			ri.dropped = input_u64(&in);
			rr.stream_id = input_u32(&in);
			rr.record_id = input_u32(&in);
			rr.seq_first = input_u32(&in);
			rr.writer_pid = input_u32(&in);
			rr.writer_uid = input_u32(&in);
			msg = input_take(&in, input_u16(&in) % 4096, &msg_len);
			/* An OPEN or CLOSE when kind says so and the rest fits. */
			ri.type = TLSTAP_RECORD_DATA;
			if (kind & 0x30 && !msg_len && !ri.dropped)
				ri.type = kind & 0x10 ? TLSTAP_RECORD_OPEN
						      : TLSTAP_RECORD_CLOSE;
			ri.msg_len = (uint32_t)msg_len;
			if (ri.type == TLSTAP_RECORD_DATA && !ri.msg_len &&
			    !ri.dropped)
				ri.dropped = 1;
			record_encode_hdr((struct tlstap_record *)rec, &ri);
			memcpy(rec + TLSTAP_RECORD_HDR_LEN, msg, msg_len);
			CHECK(record_parse(rec, TLSTAP_RECORD_HDR_LEN + msg_len,
					   UINT32_MAX - TLSTAP_RECORD_HDR_LEN,
					   &parsed) == RECORD_OK, "record built");
			rr.rec = &parsed;
			jsonout_init(&j, f);
			CHECK(jsonout_record(&j, &rr) == 0, "jsonout_record failed");
			jsonout_free(&j);
			CHECK(fclose(f) == 0, "fclose");
			check_record_line(out, out_len, &rr);
		}
		free(out);
		out = NULL;
	}
	return 0;
}
