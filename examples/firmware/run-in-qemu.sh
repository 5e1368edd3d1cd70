#!/bin/sh
# Manual check of the refvmm guest firmware under QEMU (TCG, no KVM needed).
# Not part of the cargo tests.
#
#   run-in-qemu.sh [heartbeat|nmi|power|exception]
#
#   heartbeat  banner, then `heartbeat N` about 4 times a second (default)
#   nmi        as heartbeat; the QEMU monitor sends two NMIs, each printing
#              `NMI received`
#   power      the power button path: on `-machine pc` with ACPI, SeaBIOS
#              puts the PIIX4 PM1 status register at port 0x600, whose bit 0
#              (PM timer status) reads as 1, which the firmware takes for a
#              press. It prints `power button pressed, powering off`, writes
#              0x01 (harmless there) and halts; QEMU itself keeps running
#              until the timeout.
#   exception  a build with `ud2` after the banner: prints `EXCEPTION 6 ...`
#              and halts
#
# QEMU loads the flat image through its Multiboot header and enters it in
# the same state refvmm does. The image is assembled here with the same
# commands as build.rs; FIRMWARE=path/to/firmware.bin runs a given image
# instead (not for `exception`). DURATION (seconds, default 3) bounds each
# run. Serial output goes to stdout.
set -eu

mode=${1:-heartbeat}
duration=${DURATION:-3}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build() {
    as --64 "$@" -o "$work/firmware.o" "$here/firmware.S"
    ld -m elf_x86_64 --build-id=none -T "$here/firmware.ld" \
        -o "$work/firmware.elf" "$work/firmware.o"
    objcopy -O binary "$work/firmware.elf" "$work/firmware.bin"
    echo "$work/firmware.bin"
}

case $mode in
    heartbeat|nmi|power) image=${FIRMWARE:-$(build)} ;;
    exception) image=$(build --defsym SELFTEST_EXCEPTION=1) ;;
    *) echo "usage: $0 [heartbeat|nmi|power|exception]" >&2; exit 2 ;;
esac

# acpi=off leaves port 0x600 unassigned (reads 0xff: not pressed).
machine=pc,acpi=off
[ "$mode" = power ] && machine=pc

set -- qemu-system-x86_64 -machine "$machine" -cpu qemu64 -m 64 \
    -kernel "$image" -display none -nodefaults -no-reboot

if [ "$mode" = nmi ]; then
    {
        sleep 1.2; echo nmi
        sleep 0.6; echo nmi
        sleep "$duration"; echo quit
    } | "$@" -serial "file:$work/serial.log" -monitor stdio >/dev/null
    cat "$work/serial.log"
else
    timeout "$duration" "$@" -serial stdio 2>/dev/null || [ $? -eq 124 ]
fi
