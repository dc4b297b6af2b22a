#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR MIT
# Runs inside the VM (bench/nginx/vm-run starts it): loads tlstap.ko and
# runs bench/nginx/run.sh with MODULE=1, so that nginx's capture into the
# module (by write() and by capture ring) and into tlstap-fwd are measured
# in one boot, rounds alternating them. Environment: as run.sh's (ROUNDS,
# RATE, VARIANTS, DURATION...), passed through.
set -eu
SRC=${TLSTAP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
modprobe -q udp_tunnel
modprobe -q ip6_udp_tunnel
modprobe -q veth
insmod "$SRC/kmod/tlstap.ko"
trap 'rmmod tlstap 2>/dev/null || true' EXIT
ip link set lo up
MODULE=1 "$SRC/bench/nginx/run.sh"
