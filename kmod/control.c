// SPDX-License-Identifier: GPL-2.0
/*
 * NACKs arrive in softirq on the module's UDP socket. One is honoured only
 * when its source address is a configured target's and it names that
 * target's current stream; its ranges are queued for the target's worker,
 * which resends what the ring still holds, flagged as a retransmission and
 * at a bounded rate, and answers a GAP for what is gone. Resends always go
 * to the target's configured address, never to where the NACK came from.
 * A target that sent data and went quiet gets HEARTBEATs with the highest
 * sequence number sent, so that its receiver can ask for a lost last one.
 */
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <linux/mm.h>
#include <linux/tlstap.h>

#include "tlstap.h"
#include "control.h"
#include "flowtable.h"
#include "target.h"
#include "socket.h"
#include "send.h"
#include "dgram.h"

#define TLSTAP_HEARTBEATS	3	/* after the last DATA, then silence */

static bool source_is(const struct sk_buff *skb, const struct tlstap_target *t)
{
	if (ip_hdr(skb)->version == 4)
		return t->ep.family == TLSTAP_FAMILY_IPV4 &&
		       !memcmp(&ip_hdr(skb)->saddr, t->ep.addr, 4);
	return t->ep.family == TLSTAP_FAMILY_IPV6 &&
	       !memcmp(&ipv6_hdr(skb)->saddr, t->ep.addr, 16);
}

static struct tlstap_target *nack_target(struct tlstap *tt,
					 const struct sk_buff *skb,
					 u32 stream_id)
{
	struct tlstap_flowtable *ft = srcu_dereference(tt->table, &tt->srcu);
	unsigned int i;

	for (i = 0; ft && i < ft->ntargets; i++)
		if (ft->targets[i]->stream_id == stream_id &&
		    source_is(skb, ft->targets[i]))
			return ft->targets[i];
	return NULL;
}

/* Softirq, skb at its UDP header. Consumes skb. */
void tlstap_control_rcv(struct tlstap *tt, struct sk_buff *skb)
{
	struct wire_range ranges[TLSTAP_NACK_MAX_RANGES];
	u32 off = skb_transport_offset(skb) + sizeof(struct udphdr);
	struct tlstap_target *t;
	int n, idx, i, queued;
	u32 len, stream_id;

	if (skb->len < off)
		goto reject;
	len = skb->len - off;
	if (len > TLSTAP_NACK_MAX_LEN || !pskb_may_pull(skb, off + len))
		goto reject;
	n = tlstap_wire_parse_nack(skb->data + off, len, &stream_id, ranges);
	if (n < 0)
		goto reject;

	idx = srcu_read_lock(&tt->srcu);
	t = nack_target(tt, skb, stream_id);
	if (!t) {
		srcu_read_unlock(&tt->srcu, idx);
		goto reject;
	}
	spin_lock(&t->nack_lock);
	for (i = 0, queued = 0; i < n; i++) {
		if (t->nnacks == ARRAY_SIZE(t->nacks))
			break;
		t->nacks[t->nnacks++] = ranges[i];
		queued++;
	}
	spin_unlock(&t->nack_lock);
	if (queued < n)
		tlstap_stat_inc(tt, TLSTAP_STAT_NACK_RATELIMITED);
	tlstap_send_kick(t);
	srcu_read_unlock(&tt->srcu, idx);
	tlstap_stat_inc(tt, TLSTAP_STAT_NACKS_RECEIVED);
	consume_skb(skb);
	return;

reject:
	tlstap_stat_inc(tt, TLSTAP_STAT_NACK_REJECTED);
	kfree_skb(skb);
}

static int send_linear(struct tlstap_target *t, const void *data, u32 len,
		       struct page *frag, u32 frag_off, u32 frag_len)
{
	struct sk_buff *skb = alloc_skb(TLSTAP_HEADROOM + len, GFP_KERNEL);

	if (!skb) {
		if (frag)
			put_page(frag);
		return -ENOMEM;
	}
	skb_reserve(skb, TLSTAP_HEADROOM);
	skb_put_data(skb, data, len);
	if (frag) {
		skb_fill_page_desc(skb, 0, frag, frag_off, frag_len);
		skb->len += frag_len;
		skb->data_len = frag_len;
		skb->truesize += PAGE_SIZE;
	}
	return tlstap_socket_send(t->tt, t, skb);
}

/*
 * The slot a sequence number went out in, if the ring still holds it as
 * it was sent: its page is pinned for the caller. Worker only.
 */
static struct page *replay_find(struct tlstap_ring *r, u32 seq, u32 *len)
{
	struct page *page = NULL;
	u32 lo, hi, retained, base;

	spin_lock(&r->lock);
	retained = tlstap_ring_retained(r);
	if (!retained)
		goto out;
	lo = r->sent - retained;
	hi = r->sent;
	base = tlstap_ring_slot(r, lo)->seq;
	if (seq - base >= r->next_seq - base)
		goto out;
	/* Slot seqs grow with the ring index: the last slot at or below. */
	while (hi - lo > 1) {
		u32 mid = lo + (hi - lo) / 2;

		if (tlstap_ring_slot(r, mid)->seq - base <= seq - base)
			lo = mid;
		else
			hi = mid;
	}
	{
		struct tlstap_slot *s = tlstap_ring_slot(r, lo);

		/* A slot re-cut into several datagrams is not kept as sent. */
		if (s->seq == seq && s->nseq == 1) {
			page = s->page;
			get_page(page);
			*len = s->len;
		}
	}
out:
	spin_unlock(&r->lock);
	return page;
}

/*
 * Refills the token bucket; true when one more resend is allowed. The time
 * a partial token stands for is kept, or the rate would fall short of
 * retransmit_pps by the fraction dropped at every refill.
 */
static bool retransmit_allowed(struct tlstap_target *t)
{
	u32 pps = READ_ONCE(t->tt->retransmit_pps);
	ktime_t now = ktime_get();
	u64 elapsed, add;

	/* Long enough to fill the bucket at 1/s; keeps elapsed * pps in u64. */
	elapsed = min_t(u64, ktime_to_ns(ktime_sub(now, t->tokens_at)),
			(u64)TLSTAP_RETRANSMIT_BURST * NSEC_PER_SEC);
	add = div_u64(elapsed * pps, NSEC_PER_SEC);
	if (t->tokens + add >= TLSTAP_RETRANSMIT_BURST) {
		t->tokens = TLSTAP_RETRANSMIT_BURST;
		t->tokens_at = now;
	} else if (add) {
		t->tokens += add;
		t->tokens_at = ktime_add_ns(t->tokens_at,
					    div_u64(add * NSEC_PER_SEC, pps));
	}
	if (!t->tokens)
		return false;
	t->tokens--;
	return true;
}

static void retransmit(struct tlstap_target *t, u32 seq, struct page *page,
		       u32 len)
{
	struct tlstap_msg_hdr h;

	memcpy(&h, page_address(page), sizeof(h));
	h.flags |= TLSTAP_MSG_F_RETRANSMIT;
	if (send_linear(t, &h, sizeof(h), page, sizeof(h), len - sizeof(h))) {
		WRITE_ONCE(t->errors, t->errors + 1);
		tlstap_stat_inc(t->tt, TLSTAP_STAT_TX_ERRORS);
		return;
	}
	tlstap_stat_inc(t->tt, TLSTAP_STAT_RETRANSMITS);
}

static void send_gap(struct tlstap_target *t, const struct wire_range *gaps,
		     unsigned int n)
{
	size_t len = wire_build_ranges(t->gap_msg, TLSTAP_MSG_GAP,
				       t->stream_id, gaps, n);

	if (!send_linear(t, t->gap_msg, len, NULL, 0, 0))
		tlstap_stat_add(t->tt, TLSTAP_STAT_GAPS_SENT, n);
}

/*
 * Appends seq to the GAP being collected in gaps[0..*n). A GAP's ranges
 * ascend, are disjoint and span at most TLSTAP_NACK_MAX_SPAN seqs each, or
 * receivers reject it whole; queued NACKs need not ascend among themselves.
 * A seq that cannot join the GAP under those rules sends it first.
 */
static void gap_add(struct tlstap_target *t, struct wire_range *gaps,
		    unsigned int *n, u32 seq)
{
	struct wire_range *last = *n ? &gaps[*n - 1] : NULL;

	if (last && last->last + 1 == seq &&
	    seq - last->first < TLSTAP_NACK_MAX_SPAN) {
		last->last = seq;
		return;
	}
	if (last && ((s32)(seq - last->last) <= 0 ||
		     *n == TLSTAP_NACK_MAX_RANGES)) {
		send_gap(t, gaps, *n);
		*n = 0;
	}
	gaps[*n].first = seq;
	gaps[*n].last = seq;
	(*n)++;
}

static void serve_nacks(struct tlstap_target *t)
{
	struct wire_range *nacks = t->nacks_work, *gaps = t->gaps_work;
	unsigned int n, i, ngaps = 0;
	u32 seq, next = t->ring.next_seq;

	spin_lock_bh(&t->nack_lock);
	n = t->nnacks;
	memcpy(nacks, t->nacks, n * sizeof(nacks[0]));
	t->nnacks = 0;
	spin_unlock_bh(&t->nack_lock);

	for (i = 0; i < n; i++) {
		for (seq = nacks[i].first; ; seq++) {
			struct page *page;
			u32 len;

			/* Not sent yet: nothing to resend, nothing lost. */
			if ((s32)(seq - next) >= 0)
				break;
			if (!retransmit_allowed(t)) {
				tlstap_stat_inc(t->tt, TLSTAP_STAT_NACK_RATELIMITED);
				goto out;
			}
			page = replay_find(&t->ring, seq, &len);
			if (page)
				retransmit(t, seq, page, len);
			else
				gap_add(t, gaps, &ngaps, seq);
			if (seq == nacks[i].last)
				break;
		}
	}
out:
	if (ngaps)
		send_gap(t, gaps, ngaps);
}

static void send_heartbeat(struct tlstap_target *t)
{
	struct tlstap_ring *r = &t->ring;
	u8 buf[WIRE_HEARTBEAT_LEN];
	u32 retained, oldest;

	spin_lock(&r->lock);
	retained = tlstap_ring_retained(r);
	oldest = retained ? tlstap_ring_slot(r, r->sent - retained)->seq :
			    r->next_seq;
	spin_unlock(&r->lock);

	wire_build_heartbeat(buf, t->stream_id, r->next_seq - 1, oldest);
	if (!send_linear(t, buf, sizeof(buf), NULL, 0, 0))
		tlstap_stat_inc(t->tt, TLSTAP_STAT_HEARTBEATS);
}

void tlstap_control_hb_timer(struct timer_list *timer)
{
	struct tlstap_target *t = from_timer(t, timer, hb_timer);

	WRITE_ONCE(t->hb_due, true);
	tlstap_send_kick(t);
}

/* Worker: NACKs first, then heartbeats while the stream is quiet. */
void tlstap_control_work(struct tlstap_target *t, bool sent_data)
{
	unsigned long interval;

	serve_nacks(t);
	interval = msecs_to_jiffies(READ_ONCE(t->tt->heartbeat_ms));
	if (sent_data) {
		t->hb_sent = 0;
		WRITE_ONCE(t->hb_due, false);
		mod_timer(&t->hb_timer, jiffies + interval);
		return;
	}
	if (!READ_ONCE(t->hb_due))
		return;
	WRITE_ONCE(t->hb_due, false);
	if (t->hb_sent < TLSTAP_HEARTBEATS && !READ_ONCE(t->dead)) {
		send_heartbeat(t);
		if (++t->hb_sent < TLSTAP_HEARTBEATS)
			mod_timer(&t->hb_timer, jiffies + interval);
	}
}
