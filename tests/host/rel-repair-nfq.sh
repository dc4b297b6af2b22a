#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# rel-repair.sh with tlstap-nfq as the receiver (its own nft rule, NFQUEUE,
# drop verdict) in place of tlstap-recv: the same checks.
RECEIVER=nfq exec "$(dirname "$0")/rel-repair.sh"
