#!/bin/busybox sh
# The lab VM's init: reach the host's root over 9p and run guest.sh in it.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
. /lab.conf
fail() { echo "LAB-ERROR: $*"; echo "LAB-EXIT: 125"; poweroff -f; }
for m in $(cat /lib/mods/order); do insmod "/lib/mods/$m" || fail "insmod $m"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144 hostroot /host || fail "mount host root over 9p"
mount -t proc proc /host/proc
mount -t sysfs sys /host/sys
mount -t devtmpfs dev /host/dev
mkdir -p /host/dev/pts 2>/dev/null; mount -t devpts devpts /host/dev/pts 2>/dev/null
# The fresh /tmp hides the host's; KEEP (a checkout under /tmp) is bound back at its path.
if [ -n "$KEEP" ]; then mkdir -p /keep && mount -o bind "/host$KEEP" /keep || fail "bind $KEEP"; fi
mount -t tmpfs -o mode=1777 tmp /host/tmp
if [ -n "$KEEP" ]; then mkdir -p "/host$KEEP" && mount -o bind /keep "/host$KEEP" || fail "bind $KEEP back"; fi
mount -t tmpfs -o mode=755 run /host/run
mount -t bpf bpf /host/sys/fs/bpf || echo "LAB-WARN: no bpffs"
mount -t tracefs tracefs /host/sys/kernel/tracing 2>/dev/null
MULTILINK_LAB_LEAD=$LEAD chroot /host /bin/sh "$GUEST" "$KROOT" "$KVER" "$PLAN"
echo "LAB-EXIT: $?"
sync
poweroff -f
