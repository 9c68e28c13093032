#!/bin/sh
# Runs inside the lab VM, chrooted into the host's (read-only) root.
# usage: guest.sh KROOT KVER PLAN
# PLAN lines: NAME DIR BINARY [ARGS...]  (run BINARY ARGS in DIR)
#             env KEY=VALUE            (export it for what follows)
KROOT=$1 KVER=$2 PLAN=$3
export PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp MULTILINK_LAB=1 MULTILINK_LAB_LEAD GOCACHE=/tmp/gocache GOFLAGS=-mod=mod
echo "LAB-KERNEL: $(uname -r)"
for m in tls bonding veth tun bridge macvlan sch_netem sch_ingress cls_bpf nf_tables nft_chain_nat; do
  modprobe -d "$KROOT" "$m" 2>/dev/null || echo "LAB-WARN: modprobe $m failed"
done
sysctl -qw net.ipv4.ping_group_range="0 2147483647" 2>/dev/null
rc_all=0
while read -r name dir bin args; do
  case "$name" in ''|'#'*) continue ;; env) export "$dir"; continue ;; esac
  echo "LAB-PKG-BEGIN $name"
  ( cd "$dir" && "$bin" $args )
  rc=$?
  echo "LAB-PKG-END $name $rc"
  [ $rc -eq 0 ] || rc_all=1
done < "$PLAN"
exit $rc_all
