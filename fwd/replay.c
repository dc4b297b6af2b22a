// SPDX-License-Identifier: GPL-2.0 OR MIT
#include "replay.h"

#define NANO		1000000000ull

void tokenbucket_init(struct tokenbucket *tb, uint64_t rate, uint64_t burst,
		      uint64_t now_ns)
{
	tb->rate = rate;
	tb->cap = burst * NANO;
	tb->level = tb->cap;
	tb->last_ns = now_ns;
}

int tokenbucket_take(struct tokenbucket *tb, uint64_t now_ns)
{
	if (now_ns > tb->last_ns) {
		uint64_t idle = now_ns - tb->last_ns;

		/* Long enough idle fills it (and no product overflows). */
		if (idle >= (tb->cap - tb->level) / tb->rate + 1)
			tb->level = tb->cap;
		else
			tb->level += idle * tb->rate;
		tb->last_ns = now_ns;
	}
	if (tb->level < NANO)
		return 0;
	tb->level -= NANO;
	return 1;
}

void replay_answer(struct txring *ring, struct tokenbucket *tb,
		   const struct wire_msg *nack, uint64_t now_ns,
		   replay_resend_fn resend, void *arg,
		   struct wire_range *gap, unsigned int *ngap,
		   struct replay_counts *counts)
{
	unsigned long long limited = counts->ratelimited_seqs;

	*ngap = 0;
	for (unsigned int i = 0; i < nack->count; i++) {
		struct wire_range want = wire_get_range(nack, i);
		uint32_t s = want.first;

		do {
			uint8_t *d;
			size_t len;

			if ((int32_t)(s - ring->unsent) >= 0) {
				/* Newer than the highest sent: so is the rest. */
				counts->unsent_seqs += want.last - s + 1;
				break;
			}
			d = txring_held(ring, s, &len);
			if (d) {
				if (!tokenbucket_take(tb, now_ns)) {
					/* So are the rest held: count, skip. */
					uint32_t end = (int32_t)(want.last -
								 ring->unsent) < 0
							       ? want.last
							       : ring->unsent - 1;

					counts->ratelimited_seqs += end - s + 1;
					s = end;
					continue;
				}
				d[3] |= TLSTAP_MSG_F_RETRANSMIT;
				counts->retransmits++;
				resend(arg, s, d, len);
				continue;
			}
			/* Older than the oldest held: gone for good. */
			counts->gap_seqs++;
			if (*ngap && gap[*ngap - 1].last + 1 == s &&
			    s - gap[*ngap - 1].first < TLSTAP_NACK_MAX_SPAN) {
				gap[*ngap - 1].last = s;
			} else {
				gap[*ngap].first = gap[*ngap].last = s;
				(*ngap)++;
			}
		} while (s++ != want.last);
	}
	if (counts->ratelimited_seqs != limited)
		counts->ratelimited++;
}
