#!/bin/sh
# PID 1 of the User-Mode Linux guest (docs: kernel-tests.md, "Recipe").
# The kernel hands KTEST (the script to run), KOUT (the one writable host
# folder) and KREPO (the checkout) to us as environment variables.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root PYTHONDONTWRITEBYTECODE=1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm 2>/dev/null
mount -t devpts devpts /dev/pts
for dir in /dev/shm /run /var/tmp /tmp; do
    mount -t tmpfs tmpfs "$dir"
done
# UML's own kernel modules (sctp, esp4, xfrm_user, veth ...)
if [ -d /lib/modules ]; then
    mount -r -t hostfs -o /usr/lib/uml/modules hostfs /lib/modules
else
    # no /lib/modules on the read-only root to mount over: a modprobe that
    # looks in /run/uml/lib/modules (-d), also for the kernel's autoloading
    mkdir -p /run/uml/lib /run/uml/bin
    ln -s /usr/lib/uml/modules /run/uml/lib/modules
    printf '#!/bin/sh\nexec /usr/sbin/modprobe -d /run/uml "$@"\n' > /run/uml/bin/modprobe
    chmod +x /run/uml/bin/modprobe
    echo /run/uml/bin/modprobe > /proc/sys/kernel/modprobe
    export PATH="/run/uml/bin:$PATH"
fi
# A checkout under one of the tmpfs folders just mounted (a CI clone in /tmp)
# would be hidden by it: show the host's copy again, read-only.
case "$KREPO" in
    /tmp/*|/var/tmp/*|/run/*|/dev/shm/*)
        mkdir -p "$KREPO"
        mount -r -t hostfs -o "$KREPO" hostfs "$KREPO"
        ;;
esac
mkdir -p "$KOUT"  # under a tmpfs just mounted (/tmp): make the mount point
mount -t hostfs -o "$KOUT" hostfs "$KOUT"
ip link set lo up

"$KTEST" > "$KOUT/guest.log" 2>&1
echo $? > "$KOUT/rc"

sync
umount "$KOUT"
echo o > /proc/sysrq-trigger
sleep 30
