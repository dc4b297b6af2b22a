// SPDX-License-Identifier: GPL-2.0
/*
 * Every change of targets or hash key builds a whole new table and
 * publishes it; writers look it up under SRCU, since they may sleep while
 * they hold a target.
 */
#include <linux/slab.h>
#include <linux/mm.h>
#include <linux/rcupdate.h>

#include "tlstap.h"
#include "flowtable.h"
#include "steering.h"
#include "target.h"

u64 tlstap_flow_hash(const siphash_key_t *key,
		     const struct tlstap_record_info *ri)
{
	struct tlstap_flow_key fk;

	steer_flow_key(&fk, ri->family, ri->saddr, ri->sport, ri->daddr,
		       ri->dport, ri->conn_id);
	return siphash(&fk, sizeof(fk), key);
}

struct steer_scratch {
	struct steer_target perm[TLSTAP_MAX_TARGETS];
	u32 next[TLSTAP_MAX_TARGETS];
};

/*
 * config_lock held. Publishes a table for tt->targets; the targets on
 * dying (already off tt->targets) are marked dead once no new lookup can
 * find them, so that writers waiting on them re-steer, and no writer
 * holds them when this returns.
 */
int tlstap_flowtable_rebuild(struct tlstap *tt, struct list_head *dying)
{
	struct tlstap_flowtable *ft, *old;
	struct steer_scratch *scratch;
	struct tlstap_target *t;
	unsigned int n = 0;

	ft = kvzalloc(sizeof(*ft), GFP_KERNEL);
	scratch = kmalloc(sizeof(*scratch), GFP_KERNEL);
	if (!ft || !scratch) {
		kvfree(ft);
		kfree(scratch);
		return -ENOMEM;
	}
	ft->key = tt->hash_key;
	list_for_each_entry(t, &tt->targets, list) {
		u64 h = siphash(&t->key, sizeof(t->key), &ft->key);

		steer_target_init(&scratch->perm[n], h, t->weight);
		ft->targets[n++] = t;
	}
	ft->ntargets = n;
	steer_fill(ft->bucket, scratch->perm, scratch->next, n);
	kfree(scratch);

	old = rcu_replace_pointer(tt->table, ft,
				  lockdep_is_held(&tt->config_lock));
	list_for_each_entry(t, dying, list) {
		WRITE_ONCE(t->dead, true);
		wake_up_interruptible_all(&t->ring.wait);
	}
	synchronize_srcu(&tt->srcu);
	kvfree(old);
	return 0;
}

/*
 * Module exit, before the targets go: NACKs and ICMP errors still arrive
 * (softirq) and look targets up in the table until it is gone.
 */
void tlstap_flowtable_free(struct tlstap *tt)
{
	struct tlstap_flowtable *old;

	old = rcu_replace_pointer(tt->table, NULL, true);
	synchronize_srcu(&tt->srcu);
	kvfree(old);
}

/* SRCU read side held by the caller. */
struct tlstap_target *tlstap_flowtable_lookup(struct tlstap *tt,
					      const struct tlstap_record_info *ri)
{
	struct tlstap_flowtable *ft = srcu_dereference(tt->table, &tt->srcu);
	u16 i;

	if (!ft || !ft->ntargets)
		return NULL;
	i = ft->bucket[steer_bucket(tlstap_flow_hash(&ft->key, ri))];
	return ft->targets[i];
}
