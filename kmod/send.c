// SPDX-License-Identifier: GPL-2.0
/*
 * The worker sends a target's ready slots in ring order. It writes each
 * slot's message header (sequence numbers are given at send time), then
 * hands the slot pages to the stack as skb fragments: the payload is never
 * copied again. Runs of full slots go out as one UDP GSO skb. A slot packed
 * for a larger MTU than the route now has is re-cut, by copying: rare.
 * A target's worker runs on one CPU, so that its datagrams leave in order.
 */
#include <linux/skbuff.h>
#include <linux/udp.h>
#include <net/ip.h>
#include <linux/mm.h>
#include <linux/tlstap.h>

#include "tlstap.h"
#include "target.h"
#include "send.h"
#include "socket.h"
#include "dgram.h"
#include "control.h"
#include "neigh.h"

#define TLSTAP_BATCH		64
/* An IP packet, GSO or not, may not exceed 64 KiB. */
#define TLSTAP_GSO_MAX_BYTES	(IP_MAX_MTU - TLSTAP_HEADROOM)

/*
 * A target's datagrams leave in order only if its worker always runs on
 * one CPU: sent from two CPUs they pass two backlogs (veth, loopback) or
 * two transmit queues (XPS) and may overtake each other, and each one
 * overtaken costs a NACK and a resend, or a GAP (a loss) once writers
 * have reused its slot. The CPU is picked when the target is made, spread
 * over the online ones; should it go offline, the work runs elsewhere.
 */
void tlstap_send_kick(struct tlstap_target *t)
{
	queue_work_on(t->cpu, t->tt->tx_wq, &t->tx_work);
}

enum hrtimer_restart tlstap_send_flush_timer(struct hrtimer *timer)
{
	tlstap_send_kick(container_of(timer, struct tlstap_target,
				      flush_timer));
	return HRTIMER_NORESTART;
}

void tlstap_send_arm_flush(struct tlstap_target *t, ktime_t at)
{
	if (!hrtimer_is_queued(&t->flush_timer))
		hrtimer_start(&t->flush_timer, at, HRTIMER_MODE_ABS);
}

/* What t's open slot holds goes now, not at its flush time. */
void tlstap_send_flush_now(struct tlstap_target *t)
{
	if (tlstap_ring_expire(&t->ring))
		tlstap_send_kick(t);
}

static void account(struct tlstap_target *t, u32 datagrams, u32 bytes,
		    int err)
{
	struct tlstap *tt = t->tt;

	if (err) {
		WRITE_ONCE(t->errors, t->errors + datagrams);
		tlstap_stat_add(tt, TLSTAP_STAT_TX_ERRORS, datagrams);
		return;
	}
	WRITE_ONCE(t->packets, t->packets + datagrams);
	WRITE_ONCE(t->bytes, t->bytes + bytes);
	tlstap_stat_add(tt, TLSTAP_STAT_DATAGRAMS, datagrams);
	if (datagrams > 1)
		tlstap_stat_inc(tt, TLSTAP_STAT_GSO_BATCHES);
}

/* Sends slots [first, first + k) as one skb; all but the last are full. */
static void send_run(struct tlstap_target *t, u32 first, u32 k)
{
	struct tlstap_slot *s = tlstap_ring_slot(&t->ring, first);
	u32 gso_size = s->len, bytes = 0, i;
	struct sk_buff *skb;

	skb = alloc_skb(TLSTAP_HEADROOM, GFP_KERNEL);
	if (!skb) {
		account(t, k, 0, -ENOMEM);
		return;
	}
	skb_reserve(skb, TLSTAP_HEADROOM);
	for (i = 0; i < k; i++) {
		s = tlstap_ring_slot(&t->ring, first + i);
		get_page(s->page);
		skb_fill_page_desc(skb, i, s->page, 0, s->len);
		bytes += s->len;
	}
	skb->len = bytes;
	skb->data_len = bytes;
	skb->truesize += k * PAGE_SIZE;
	if (k > 1) {
		skb_shinfo(skb)->gso_size = gso_size;
		skb_shinfo(skb)->gso_type = SKB_GSO_UDP_L4;
		skb_shinfo(skb)->gso_segs = k;
		/* Where the UDP header will be pushed. */
		skb->ip_summed = CHECKSUM_PARTIAL;
		skb->csum_start = skb_headroom(skb) - sizeof(struct udphdr);
		skb->csum_offset = offsetof(struct udphdr, check);
	}
	account(t, k, bytes, tlstap_socket_send(t->tt, t, skb));
}

struct recut {
	struct tlstap_target *t;
	struct sk_buff *skb;
	u16 count;
	u32 cap;
};

static void recut_finish(struct recut *rc)
{
	struct tlstap_target *t = rc->t;
	struct tlstap_ring *r = &t->ring;
	u32 len;

	if (!rc->skb)
		return;
	len = rc->skb->len;
	wire_put_msg_hdr(rc->skb->data, TLSTAP_MSG_DATA, 0, t->stream_id,
			    r->next_seq++, len, rc->count);
	account(t, 1, len, tlstap_socket_send(t->tt, t, rc->skb));
	rc->skb = NULL;
}

static bool recut_start(struct recut *rc)
{
	rc->skb = alloc_skb(TLSTAP_HEADROOM + rc->cap, GFP_KERNEL);
	if (!rc->skb) {
		account(rc->t, 1, 0, -ENOMEM);
		return false;
	}
	skb_reserve(rc->skb, TLSTAP_HEADROOM);
	skb_put(rc->skb, TLSTAP_MSG_HDR_LEN);
	rc->count = 0;
	return true;
}

/* Re-cuts the chunks of slot s into datagrams of at most cap bytes. */
static void send_recut(struct tlstap_target *t, struct tlstap_slot *s,
		       u32 cap)
{
	const u8 *base = page_address(s->page);
	struct recut rc = { .t = t, .cap = cap };
	u32 pos = TLSTAP_MSG_HDR_LEN, c;

	tlstap_stat_inc(t->tt, TLSTAP_STAT_RESEGMENTED);
	for (c = 0; c < s->count; c++) {
		struct tlstap_chunk_hdr ch;
		u32 off, left;

		memcpy(&ch, base + pos, sizeof(ch));
		pos += sizeof(ch);
		off = be32_to_cpu(ch.offset);
		left = be16_to_cpu(ch.len);
		while (left) {
			u32 piece;

			if (rc.skb && !tlstap_wire_room(rc.skb->len, cap))
				recut_finish(&rc);
			if (!rc.skb && !recut_start(&rc))
				return;
			piece = min(left, cap - rc.skb->len - TLSTAP_CHUNK_HDR_LEN);
			ch.offset = cpu_to_be32(off);
			ch.len = cpu_to_be16(piece);
			skb_put_data(rc.skb, &ch, sizeof(ch));
			skb_put_data(rc.skb, base + pos, piece);
			rc.count++;
			pos += piece;
			off += piece;
			left -= piece;
		}
	}
	recut_finish(&rc);
}

static bool run_continues(const struct tlstap_slot *head,
			  const struct tlstap_slot *last,
			  const struct tlstap_slot *next, u32 k, u32 bytes)
{
	return tlstap_gso && k < MAX_SKB_FRAGS && last->len == head->len &&
	       next->len <= head->len &&
	       bytes + next->len <= TLSTAP_GSO_MAX_BYTES;
}

static void send_slots(struct tlstap_target *t, u32 first, u32 n, u32 cap)
{
	struct tlstap_ring *r = &t->ring;
	u32 run = first, k = 0, bytes = 0, i;

	for (i = first; i != first + n; i++) {
		struct tlstap_slot *s = tlstap_ring_slot(r, i);

		if (s->len > cap) {
			if (k)
				send_run(t, run, k);
			k = 0;
			s->seq = r->next_seq;
			send_recut(t, s, cap);
			s->nseq = r->next_seq - s->seq;
			continue;
		}
		s->seq = r->next_seq++;
		s->nseq = 1;
		wire_put_msg_hdr(page_address(s->page), TLSTAP_MSG_DATA, 0,
				    t->stream_id, s->seq, s->len, s->count);
		if (k && run_continues(tlstap_ring_slot(r, run),
				       tlstap_ring_slot(r, i - 1), s, k, bytes)) {
			k++;
			bytes += s->len;
			continue;
		}
		if (k)
			send_run(t, run, k);
		run = i;
		k = 1;
		bytes = s->len;
	}
	if (k)
		send_run(t, run, k);
}

void tlstap_send_worker(struct work_struct *work)
{
	struct tlstap_target *t = container_of(work, struct tlstap_target,
					       tx_work);
	bool flush_all = READ_ONCE(t->dead), sent = false;
	ktime_t flush_at;
	u32 first, n, cap;

	/* Nothing goes before the next hop is known, unless t is going. */
	if (!flush_all && tlstap_neigh_held(t))
		return;
	for (;;) {
		n = tlstap_ring_collect(&t->ring, TLSTAP_BATCH, flush_all,
					&first, &flush_at);
		if (!n)
			break;
		/* Per batch: a path MTU learned meanwhile applies at once. */
		cap = tlstap_socket_capacity(t->tt, t);
		WRITE_ONCE(t->capacity, cap);
		send_slots(t, first, n, cap);
		tlstap_ring_advance(&t->ring, n);
		sent = true;
		cond_resched();
	}
	if (flush_at)
		tlstap_send_arm_flush(t, flush_at);
	tlstap_control_work(t, sent);
}

/* t is dead and unreachable by writers: send what is left, then stop. */
void tlstap_send_drain(struct tlstap_target *t)
{
	WRITE_ONCE(t->dead, true);
	tlstap_send_kick(t);
	flush_work(&t->tx_work);
	hrtimer_cancel(&t->flush_timer);
	del_timer_sync(&t->hb_timer);
	del_timer_sync(&t->resolve_timer);
	cancel_work_sync(&t->tx_work);
}
