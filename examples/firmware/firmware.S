/*
 * refvmm guest firmware.
 *
 * A flat binary loaded at guest-physical 0x100000 and entered there in
 * 32-bit protected mode (flat segments, paging and interrupts off). It
 * switches to long mode, installs an IDT, prints a banner and a heartbeat
 * on COM1 every 250 ms (timed with the PIT), sets the CMOS RTC every
 * 50 ms (to its own time: only the VMM notices), reports NMIs and turns the
 * machine off when the power button of the refvmm power device is pressed.
 * With a virtio balloon (virtio-mmio at 0xd0000000) it inflates and
 * deflates the balloon to the host's target and reports `actual`.
 *
 * Between its work the CPU halts. PIT channel 0 interrupts 40 times a
 * second (IRQ0 through the 8259 PIC, vector 0x20) to wake it; time is
 * measured on PIT channel 2, a free-running counter, so ticks that come
 * late, merged or in a catch-up burst change nothing. An idle guest costs
 * its VMM 40 short wake-ups a second instead of a busy host core.
 * See README.md in this directory for the ABI and the memory map.
 *
 * GNU as, AT&T syntax, assembled with `as --64` without the C preprocessor.
 * Comments are C-style so that `cc -c` would read the file the same way.
 */

/* Memory map (see README.md). */
.equ PML4_ADDR,         0x1000          /* one PML4 entry -> PDPT */
.equ PDPT_ADDR,         0x2000          /* one PDPT entry -> PD */
.equ PD_ADDR,           0x3000          /* 512 x 2 MiB pages: 0..1 GiB */
.equ IDT_ADDR,          0x4000          /* 256 gates x 16 bytes */
.equ IDT_VECTORS,       256
.equ PD3_ADDR,          0x5000          /* PD for 3..4 GiB: the virtio-mmio page */
.equ VQ_INFLATE_ADDR,   0x6000          /* balloon queue 0: desc, avail +0x100, used +0x200 */
.equ VQ_DEFLATE_ADDR,   0x7000          /* balloon queue 1, the same layout */
.equ PFN_BUF,           0x8000          /* up to BALLOON_BATCH page numbers */
/*
 * The balloon driver's variables live outside the image, so that the
 * load region stays equal to the file (pmemsave tests rely on it).
 */
.equ BALLOON_PRESENT,   0x9000          /* 1 once the balloon is up */
.equ BALLOON_ACTUAL,    0x9004          /* pages in the balloon */
.equ BALLOON_POOL,      0x9008          /* pages the balloon may take */
.equ STACK_TOP,         0x80000         /* grows down towards 0x70000 */

/* GDT selectors (our own GDT; 0x10 and 0x18 match the entry state). */
.equ SEL_CODE64,        0x08
.equ SEL_CODE32,        0x10
.equ SEL_DATA,          0x18

/* Control registers and MSRs. */
.equ CR0_PE,            0x00000001
.equ CR0_NW,            0x20000000
.equ CR0_CD,            0x40000000
.equ CR0_PG,            0x80000000
.equ CR4_PAE,           0x00000020
.equ MSR_EFER,          0xc0000080
.equ EFER_LME,          0x00000100
.equ PTE_P_RW,          0x003           /* present, writable */
.equ PTE_P_RW_PS,       0x083           /* present, writable, 2 MiB page */
.equ PAGE_2M,           0x200000
.equ PTE_MMIO_2M,       0x09b           /* present, writable, PWT, PCD, 2 MiB page */

/* virtio-mmio (version 2) balloon. */
.equ VIRTIO_BASE,       0xd0000000
.equ VIRTIO_PD3_INDEX,  128             /* (VIRTIO_BASE - 3 GiB) / 2 MiB */
.equ VIRTIO_MAGIC,      0x74726976      /* "virt" */
.equ VIRTIO_VERSION,    2
.equ VIRTIO_ID_BALLOON, 5
.equ VIO_MAGIC,         0x000
.equ VIO_VERSION,       0x004
.equ VIO_DEVICE_ID,     0x008
.equ VIO_DEV_FEATURES,  0x010
.equ VIO_DEV_FEAT_SEL,  0x014
.equ VIO_DRV_FEATURES,  0x020
.equ VIO_DRV_FEAT_SEL,  0x024
.equ VIO_QUEUE_SEL,     0x030
.equ VIO_QUEUE_NUM_MAX, 0x034
.equ VIO_QUEUE_NUM,     0x038
.equ VIO_QUEUE_READY,   0x044
.equ VIO_QUEUE_NOTIFY,  0x050
.equ VIO_STATUS,        0x070
.equ VIO_DESC_LOW,      0x080
.equ VIO_DESC_HIGH,     0x084
.equ VIO_AVAIL_LOW,     0x090
.equ VIO_AVAIL_HIGH,    0x094
.equ VIO_USED_LOW,      0x0a0
.equ VIO_USED_HIGH,     0x0a4
.equ VIO_NUM_PAGES,     0x100           /* config: the host's target, in pages */
.equ VIO_ACTUAL,        0x104           /* config: pages in the balloon */
.equ VS_ACK_DRIVER,     0x03
.equ VS_FEATURES_OK,    0x08
.equ VS_DRIVER_OK,      0x04
.equ VS_FAILED,         0x80
.equ VQ_SIZE,           4               /* one request in flight is enough */
.equ VQ_AVAIL,          0x100           /* offsets in a queue's page */
.equ VQ_USED,           0x200
.equ VRING_AVAIL_F_NO_INTERRUPT, 1
.equ BALLOON_BATCH,     1024            /* page numbers per request (4 KiB) */
.equ BALLOON_POOL_PFN,  0x1000          /* the pool starts at 16 MiB */
.equ BALLOON_WAIT,      100000          /* used-ring polls before giving up */
.equ CMOS_MEM_ABOVE_16M_LO, 0x34        /* 64 KiB blocks above 16 MiB */
.equ CMOS_MEM_ABOVE_16M_HI, 0x35

/* COM1, a 16550 UART. */
.equ COM1,              0x3f8
.equ UART_THR,          COM1 + 0        /* DLAB=0: transmit holding */
.equ UART_DLL,          COM1 + 0        /* DLAB=1: divisor latch low */
.equ UART_IER,          COM1 + 1        /* DLAB=0: interrupt enable */
.equ UART_DLM,          COM1 + 1        /* DLAB=1: divisor latch high */
.equ UART_FCR,          COM1 + 2
.equ UART_LCR,          COM1 + 3
.equ UART_MCR,          COM1 + 4
.equ UART_LSR,          COM1 + 5
.equ LCR_DLAB,          0x80
.equ LCR_8N1,           0x03
.equ FCR_ENABLE_CLEAR,  0x07            /* enable FIFOs, clear both */
.equ MCR_DTR_RTS,       0x03
.equ LSR_THRE,          0x20            /* transmit holding register empty */
.equ UART_DIVISOR,      1               /* 115200 baud */

/*
 * i8254 PIT, input clock 1,193,182 Hz. Channel 0 is the wake-up timer
 * (IRQ0); channel 2 is the clock: a free-running counter that no
 * interrupt depends on, its gate held high through port 0x61.
 */
.equ PIT_CH0,           0x40
.equ PIT_CH2,           0x42
.equ PIT_CMD,           0x43
.equ PIT_CH0_MODE2,     0x34            /* ch 0, lobyte/hibyte, mode 2, binary */
.equ PIT_CH2_MODE2,     0xb4            /* ch 2, lobyte/hibyte, mode 2, binary */
.equ PIT_CH2_LATCH,     0x80            /* ch 2, counter latch */
/*
 * Channel 0's reload: 40 Hz (25.0004 ms). The RTC's 50 ms are 2 ticks and
 * the heartbeat's 250 ms are 10, and channel 2 (wraps after 55 ms) is
 * read at least every 25 ms. Each wake-up costs the VMM a few VM exits:
 * a faster tick would cost more for nothing.
 */
.equ PIT_TICK_RELOAD,   29830
.equ PORT_B,            0x61            /* bit 0: ch 2 gate, bit 1: speaker */
.equ PORT_B_GATE2,      0x01
.equ PORT_B_SPEAKER,    0x02
.equ HEARTBEAT_TICKS,   298296          /* 250 ms at 1,193,182 Hz */
.equ RTC_SET_TICKS,     59659           /* 50 ms at 1,193,182 Hz */
/* Work is done at the wake-up nearest its time: up to half a tick early. */
.equ HEARTBEAT_DUE,     HEARTBEAT_TICKS - PIT_TICK_RELOAD / 2
.equ RTC_SET_DUE,       RTC_SET_TICKS - PIT_TICK_RELOAD / 2

/* i8259 PICs, master and slave, remapped to vectors 0x20-0x2f. */
.equ PIC1_CMD,          0x20
.equ PIC1_DATA,         0x21
.equ PIC2_CMD,          0xa0
.equ PIC2_DATA,         0xa1
.equ PIC_ICW1,          0x11            /* edge triggered, cascade, ICW4 follows */
.equ PIC1_VECTOR_BASE,  0x20            /* ICW2: IRQ0-7 -> 0x20-0x27 */
.equ PIC2_VECTOR_BASE,  0x28            /* ICW2: IRQ8-15 -> 0x28-0x2f */
.equ PIC1_ICW3,         0x04            /* slave on IRQ2 */
.equ PIC2_ICW3,         0x02            /* slave's cascade identity */
.equ PIC_ICW4,          0x01            /* 8086 mode, normal EOI */
.equ PIC1_MASK,         0xfe            /* only IRQ0 (the PIT) */
.equ PIC2_MASK,         0xff            /* nothing */
.equ PIC_EOI,           0x20            /* OCW2: non-specific EOI */
.equ TIMER_VECTOR,      0x20            /* IRQ0 */
.equ SPURIOUS_VECTOR,   0x27            /* the master's spurious IRQ7 */

/* MC146818 CMOS RTC. */
.equ RTC_INDEX,         0x70            /* bit 7 (NMI mask) left clear */
.equ RTC_DATA,          0x71
.equ RTC_SECONDS,       0x00
.equ RTC_REG_B,         0x0b
.equ RTC_B_SET,         0x80            /* hold the clock while setting it */
.equ RTC_B_RUN,         0x7f            /* mask that clears SET */

/* refvmm power device. */
.equ POWER_PORT,        0x600
.equ POWER_PRESSED_MASK, 0x81           /* bit 0 pressed, bit 7 must be clear */
.equ POWER_PRESSED,     0x01
.equ POWER_OFF,         0x01
.equ POLL_EVERY,        2               /* passes per power/balloon poll: 20 Hz */

/* Multiboot v1 header, only for running the image under QEMU -kernel. */
.equ MB_MAGIC,          0x1badb002
.equ MB_FLAGS,          0x00010000      /* addresses below are valid */

/* ------------------------------------------------------------------ */
/* 32-bit entry at 0x100000                                           */
/* ------------------------------------------------------------------ */

        .section .text.entry, "ax"
        .code32
        .globl _start
_start:
        jmp     entry32

        /*
         * Multiboot v1 header (4-byte aligned, in the first 8 KiB). The VMM
         * never looks at it; QEMU uses it to load this flat file at 0x100000
         * and enter at _start in the same state as the VMM does.
         */
        .balign 4
multiboot_header:
        .long   MB_MAGIC
        .long   MB_FLAGS
        .long   -(MB_MAGIC + MB_FLAGS)
        .long   multiboot_header        /* header_addr */
        .long   _start                  /* load_addr: file offset 0 */
        .long   0                       /* load_end_addr: whole file */
        .long   0                       /* bss_end_addr: no bss */
        .long   _start                  /* entry_addr */

entry32:
        cli
        cld
        /* Our own GDT first: the VMM's GDTR may point at nothing. */
        lgdt    gdt_ptr
        movw    $SEL_DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movl    $STACK_TOP, %esp
        ljmp    $SEL_CODE32, $1f
1:
        /* Identity map the first 1 GiB with 2 MiB pages. */
        movl    $PML4_ADDR, %edi
        xorl    %eax, %eax
        movl    $(3 * 4096 / 4), %ecx   /* PML4, PDPT and PD */
        rep stosl
        movl    $(PDPT_ADDR | PTE_P_RW), PML4_ADDR
        movl    $(PD_ADDR | PTE_P_RW), PDPT_ADDR
        movl    $PD_ADDR, %edi
        movl    $PTE_P_RW_PS, %eax
        movl    $512, %ecx
2:
        movl    %eax, (%edi)            /* high half stays zero */
        addl    $PAGE_2M, %eax
        addl    $8, %edi
        decl    %ecx
        jnz     2b

        /* PAE, page tables, EFER.LME, then paging: long mode. */
        movl    %cr4, %eax
        orl     $CR4_PAE, %eax
        movl    %eax, %cr4
        movl    $PML4_ADDR, %eax
        movl    %eax, %cr3
        movl    $MSR_EFER, %ecx
        rdmsr
        orl     $EFER_LME, %eax
        wrmsr
        movl    %cr0, %eax
        andl    $~(CR0_CD | CR0_NW), %eax
        orl     $(CR0_PG | CR0_PE), %eax
        movl    %eax, %cr0
        ljmp    $SEL_CODE64, $entry64

/* ------------------------------------------------------------------ */
/* 64-bit code                                                        */
/* ------------------------------------------------------------------ */

        .text
        .code64

/*
 * Register use in the main loop (callee-saved, untouched by the helpers):
 *   r12  heartbeat counter
 *   r13d NMIs reported so far (compared with nmi_count)
 *   r14d last PIT channel 2 count read
 *   r15  PIT ticks since the last heartbeat was due (signed)
 *   rbx  PIT ticks since the RTC was last due to be set (signed)
 *   ebp  passes left before the next power button and balloon poll
 * The helpers clobber only rax, rcx, rdx, rsi, rdi, r8 and r9.
 */
entry64:
        movw    $SEL_DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        movq    $STACK_TOP, %rsp
        /* The image may be reused after a reset: reset all state. */
        movl    $0, nmi_count(%rip)
        call    idt_init
        call    serial_init
        leaq    msg_banner(%rip), %rsi
        call    puts
.ifdef SELFTEST_EXCEPTION
        /* run-in-qemu.sh exception: check the exception handler. */
        ud2
.endif
        call    balloon_init
        call    pic_init
        call    pit_init
        movl    %eax, %r14d
        xorl    %r12d, %r12d
        xorl    %r13d, %r13d
        xorl    %r15d, %r15d
        xorl    %ebx, %ebx
        movl    $POLL_EVERY, %ebp

/*
 * One pass per wake-up (a timer tick every 25 ms, or an NMI), with
 * interrupts off until the `sti; hlt` at its end. A tick that comes
 * during the pass stays pending in the PIC and ends the `hlt` at once:
 * `sti` takes effect only after the next instruction, so no interrupt
 * is taken between the two, and none is lost. An NMI is not held off
 * by `cli`: one that comes between the NMI check and the `hlt` sends the
 * CPU back here (see isr_common) instead of letting it halt.
 */
wait_loop:
        cli
        /* Elapsed PIT ticks since the last read (counts down, mod 65536). */
        movb    $PIT_CH2_LATCH, %al
        outb    %al, $PIT_CMD
        inb     $PIT_CH2, %al
        movb    %al, %cl
        inb     $PIT_CH2, %al
        movb    %al, %ch
        movzwl  %cx, %ecx
        movl    %r14d, %eax
        subl    %ecx, %eax
        andl    $0xffff, %eax
        movl    %ecx, %r14d
        addq    %rax, %r15
        addq    %rax, %rbx
        cmpq    $HEARTBEAT_DUE, %r15
        jl      1f
        call    heartbeat
1:
        cmpq    $RTC_SET_DUE, %rbx
        jl      2f
        call    rtc_set
2:
        /*
         * Every POLL_EVERY passes, as each read is an exit to refvmm in
         * user space (the costly part of a pass): a balloon step and the
         * power button. While the balloon moves, every pass.
         */
        decl    %ebp
        jnz     nmi_check
        movl    $POLL_EVERY, %ebp
        call    balloon_poll
        jnc     3f
        movl    $1, %ebp
3:
        movw    $POWER_PORT, %dx
        inb     %dx, %al
        andb    $POWER_PRESSED_MASK, %al
        cmpb    $POWER_PRESSED, %al
        je      power_off

        /* NMIs are counted by the handler and reported here, whole lines. */
nmi_check:
        movl    nmi_count(%rip), %eax
        cmpl    %eax, %r13d
        jne     report_nmi
        sti
idle_hlt:
        hlt
        jmp     wait_loop

report_nmi:
        incl    %r13d
        leaq    msg_nmi(%rip), %rsi
        call    puts
        jmp     nmi_check

power_off:
        leaq    msg_power(%rip), %rsi
        call    puts
        movb    $POWER_OFF, %al
        movw    $POWER_PORT, %dx
        outb    %al, %dx
        jmp     halt_forever

/*
 * heartbeat and rtc_set run at the wake-up nearest their time (up to half
 * a tick early, so r15 and rbx are signed) and start their next period
 * where this one was due, not where the pass noticed it: the rate stays
 * exact, and as the periods are whole numbers of ticks (10 and 2, to a
 * few PIT counts), so does the spacing. If the next period is already
 * due (the vCPU was stopped or starved), it starts now instead: no burst.
 */
heartbeat:
        subq    $HEARTBEAT_TICKS, %r15
        cmpq    $HEARTBEAT_DUE, %r15
        jl      1f
        xorl    %r15d, %r15d
1:
        incq    %r12
        leaq    msg_heartbeat(%rip), %rsi
        call    puts
        movq    %r12, %rax
        call    print_dec
        leaq    msg_crlf(%rip), %rsi
        call    puts
        ret

/*
 * Sets the RTC to the time it holds: SET in register B (the clock holds
 * still), the seconds read back and written again, SET cleared. The
 * guest's time does not change, but the VMM sees the clock being set
 * (QEMU: one RTC_CHANGE per SET release), 20 times a second.
 */
rtc_set:
        subq    $RTC_SET_TICKS, %rbx
        cmpq    $RTC_SET_DUE, %rbx
        jl      1f
        xorl    %ebx, %ebx
1:
        movb    $RTC_REG_B, %al
        outb    %al, $RTC_INDEX
        inb     $RTC_DATA, %al
        orb     $RTC_B_SET, %al
        movb    %al, %cl
        outb    %al, $RTC_DATA
        movb    $RTC_SECONDS, %al
        outb    %al, $RTC_INDEX
        inb     $RTC_DATA, %al
        outb    %al, $RTC_DATA
        movb    $RTC_REG_B, %al
        outb    %al, $RTC_INDEX
        movb    %cl, %al
        andb    $RTC_B_RUN, %al
        outb    %al, $RTC_DATA
        ret

halt_forever:
        cli
        hlt
        jmp     halt_forever

/* ------------------------------------------------------------------ */
/* virtio balloon                                                     */
/* ------------------------------------------------------------------ */

/*
 * Maps the virtio-mmio page, finds a balloon there and brings it up:
 * VERSION_1 only, queues 0 (inflate) and 1 (deflate) of VQ_SIZE entries,
 * no interrupts wanted (the main loop polls). Sizes the pool of pages the
 * balloon may take: all RAM from 16 MiB up, as CMOS 0x34/0x35 tell it.
 * Sets BALLOON_PRESENT to 1 if all went well.
 */
balloon_init:
        movl    $0, BALLOON_PRESENT
        movl    $0, BALLOON_ACTUAL
        /* Map the 2 MiB page holding VIRTIO_BASE, uncached. */
        movl    $PD3_ADDR, %edi
        xorl    %eax, %eax
        movl    $1024, %ecx
        rep stosl
        movq    $(PD3_ADDR | PTE_P_RW), %rax
        movq    %rax, PDPT_ADDR + 3 * 8
        movl    $(VIRTIO_BASE | PTE_MMIO_2M), %eax     /* zero-extended */
        movq    %rax, PD3_ADDR + VIRTIO_PD3_INDEX * 8
        movq    %cr3, %rax
        movq    %rax, %cr3
        /* The pool, in pages. */
        movb    $CMOS_MEM_ABOVE_16M_HI, %al
        outb    %al, $RTC_INDEX
        inb     $RTC_DATA, %al
        movzbl  %al, %edx
        shll    $8, %edx
        movb    $CMOS_MEM_ABOVE_16M_LO, %al
        outb    %al, $RTC_INDEX
        inb     $RTC_DATA, %al
        movzbl  %al, %eax
        orl     %eax, %edx
        shll    $4, %edx                /* 64 KiB blocks to 4 KiB pages */
        movl    %edx, BALLOON_POOL
        /* Is there a balloon? */
        movl    $VIRTIO_BASE, %edi
        cmpl    $VIRTIO_MAGIC, VIO_MAGIC(%rdi)
        jne     9f
        cmpl    $VIRTIO_VERSION, VIO_VERSION(%rdi)
        jne     9f
        cmpl    $VIRTIO_ID_BALLOON, VIO_DEVICE_ID(%rdi)
        jne     9f
        movl    $0, VIO_STATUS(%rdi)    /* reset */
        movl    $VS_ACK_DRIVER, VIO_STATUS(%rdi)
        movl    $1, VIO_DEV_FEAT_SEL(%rdi)
        testl   $1, VIO_DEV_FEATURES(%rdi)      /* VERSION_1 (bit 32) */
        jz      8f
        movl    $1, VIO_DRV_FEAT_SEL(%rdi)
        movl    $1, VIO_DRV_FEATURES(%rdi)
        movl    $0, VIO_DRV_FEAT_SEL(%rdi)
        movl    $0, VIO_DRV_FEATURES(%rdi)
        movl    $(VS_ACK_DRIVER | VS_FEATURES_OK), VIO_STATUS(%rdi)
        testl   $VS_FEATURES_OK, VIO_STATUS(%rdi)
        jz      8f
        xorl    %ecx, %ecx
        movl    $VQ_INFLATE_ADDR, %edx
        call    vq_setup
        jc      8f
        movl    $1, %ecx
        movl    $VQ_DEFLATE_ADDR, %edx
        call    vq_setup
        jc      8f
        movl    $(VS_ACK_DRIVER | VS_FEATURES_OK | VS_DRIVER_OK), VIO_STATUS(%rdi)
        movl    $1, BALLOON_PRESENT
        leaq    msg_balloon(%rip), %rsi
        call    puts
        ret
8:
        movl    $VS_FAILED, VIO_STATUS(%rdi)
9:
        ret

/*
 * Sets up queue ecx of the device at rdi with its rings in the page at
 * edx (descriptors, available ring at +VQ_AVAIL, used ring at +VQ_USED).
 * Carry set if the device's queue is too small. Keeps rdi and edx.
 */
vq_setup:
        movl    %ecx, VIO_QUEUE_SEL(%rdi)
        cmpl    $VQ_SIZE, VIO_QUEUE_NUM_MAX(%rdi)
        jb      1f
        movq    %rdi, %r8
        movl    %edx, %edi
        xorl    %eax, %eax
        movl    $1024, %ecx
        rep stosl
        movq    %r8, %rdi
        movw    $VRING_AVAIL_F_NO_INTERRUPT, VQ_AVAIL(%rdx)
        movl    $VQ_SIZE, VIO_QUEUE_NUM(%rdi)
        movl    %edx, VIO_DESC_LOW(%rdi)
        movl    $0, VIO_DESC_HIGH(%rdi)
        leal    VQ_AVAIL(%rdx), %eax
        movl    %eax, VIO_AVAIL_LOW(%rdi)
        movl    $0, VIO_AVAIL_HIGH(%rdi)
        leal    VQ_USED(%rdx), %eax
        movl    %eax, VIO_USED_LOW(%rdi)
        movl    $0, VIO_USED_HIGH(%rdi)
        movl    $1, VIO_QUEUE_READY(%rdi)
        cmpl    $1, VIO_QUEUE_READY(%rdi)
        jne     1f
        clc
        ret
1:
        stc
        ret

/*
 * One step towards the host's target (num_pages, at most the pool): one
 * request of at most BALLOON_BATCH pages on the inflate or deflate
 * queue, then `actual` updated. Inflating takes the pool's pages from the
 * bottom up; deflating gives back the most recently taken. Carry set if
 * it took a step (the balloon may have more to go), clear if there was
 * nothing to do. Clobbers only rax, rcx, rdx, rsi, rdi, r8 and r9.
 */
balloon_poll:
        cmpl    $0, BALLOON_PRESENT
        je      9f
        movl    $VIRTIO_BASE, %edi
        movl    VIO_NUM_PAGES(%rdi), %eax
        cmpl    BALLOON_POOL, %eax
        jbe     1f
        movl    BALLOON_POOL, %eax
1:
        movl    BALLOON_ACTUAL, %edx
        cmpl    %edx, %eax
        je      9f
        ja      2f
        /* Deflate: r8d pages, from index r9d, on queue 1. */
        movl    %edx, %r8d
        subl    %eax, %r8d
        cmpl    $BALLOON_BATCH, %r8d
        jbe     3f
        movl    $BALLOON_BATCH, %r8d
3:
        movl    %edx, %r9d
        subl    %r8d, %r9d
        movl    %r9d, BALLOON_ACTUAL
        movl    $1, %ecx
        movl    $VQ_DEFLATE_ADDR, %esi
        jmp     4f
2:
        /* Inflate: r8d pages, from index r9d, on queue 0. */
        movl    %eax, %r8d
        subl    %edx, %r8d
        cmpl    $BALLOON_BATCH, %r8d
        jbe     3f
        movl    $BALLOON_BATCH, %r8d
3:
        movl    %edx, %r9d
        leal    (%rdx,%r8), %eax
        movl    %eax, BALLOON_ACTUAL
        xorl    %ecx, %ecx
        movl    $VQ_INFLATE_ADDR, %esi
4:
        /* The page numbers. */
        addl    $BALLOON_POOL_PFN, %r9d
        movl    $PFN_BUF, %edx
        movl    %r8d, %eax
5:
        movl    %r9d, (%rdx)
        incl    %r9d
        addl    $4, %edx
        decl    %eax
        jnz     5b
        /* Descriptor 0: the list, device-readable, alone. */
        movq    $PFN_BUF, %rax
        movq    %rax, (%rsi)
        leal    (,%r8,4), %eax
        movl    %eax, 8(%rsi)
        movl    $0, 12(%rsi)            /* flags 0, next 0 */
        /* Offer it: ring[idx % VQ_SIZE] = 0, then idx + 1. */
        movzwl  VQ_AVAIL + 2(%rsi), %eax
        movl    %eax, %edx
        andl    $(VQ_SIZE - 1), %edx
        movw    $0, VQ_AVAIL + 4(%rsi,%rdx,2)
        incl    %eax
        movw    %ax, VQ_AVAIL + 2(%rsi)
        movl    %ecx, VIO_QUEUE_NOTIFY(%rdi)
        /* The device uses it while handling the notify write; poll anyway. */
        movl    $BALLOON_WAIT, %edx
6:
        cmpw    %ax, VQ_USED + 2(%rsi)
        je      7f
        pause
        decl    %edx
        jnz     6b
        movl    $0, BALLOON_PRESENT
        leaq    msg_balloon_lost(%rip), %rsi
        call    puts
        jmp     9f
7:
        movl    BALLOON_ACTUAL, %eax
        movl    %eax, VIO_ACTUAL(%rdi)
        stc
        ret
9:
        clc
        ret

/* Fills the IDT at IDT_ADDR with gates to isr_stubs and loads it. */
idt_init:
        leaq    isr_stubs(%rip), %rsi
        movl    $IDT_ADDR, %edi
        movl    $IDT_VECTORS, %ecx
1:
        movq    %rsi, %rax
        movw    %ax, (%rdi)             /* offset 15:0 */
        movw    $SEL_CODE64, 2(%rdi)
        movw    $0x8e00, 4(%rdi)        /* present, DPL 0, interrupt gate, IST 0 */
        shrq    $16, %rax
        movw    %ax, 6(%rdi)            /* offset 31:16 */
        shrq    $16, %rax
        movl    %eax, 8(%rdi)           /* offset 63:32 */
        movl    $0, 12(%rdi)
        addq    $16, %rsi
        addq    $16, %rdi
        decl    %ecx
        jnz     1b
        lidt    idt_ptr(%rip)
        ret

/* COM1: no interrupts, 115200 baud, 8N1, FIFOs on. */
serial_init:
        movw    $UART_IER, %dx
        xorl    %eax, %eax
        outb    %al, %dx
        movw    $UART_LCR, %dx
        movb    $LCR_DLAB, %al
        outb    %al, %dx
        movw    $UART_DLL, %dx
        movb    $(UART_DIVISOR & 0xff), %al
        outb    %al, %dx
        movw    $UART_DLM, %dx
        movb    $(UART_DIVISOR >> 8), %al
        outb    %al, %dx
        movw    $UART_LCR, %dx
        movb    $LCR_8N1, %al
        outb    %al, %dx
        movw    $UART_FCR, %dx
        movb    $FCR_ENABLE_CLEAR, %al
        outb    %al, %dx
        movw    $UART_MCR, %dx
        movb    $MCR_DTR_RTS, %al
        outb    %al, %dx
        ret

/*
 * Both 8259s: vectors 0x20 (master) and 0x28 (slave), slave on IRQ2,
 * 8086 mode, normal EOI; every IRQ masked but IRQ0.
 */
pic_init:
        movb    $PIC_ICW1, %al
        outb    %al, $PIC1_CMD
        outb    %al, $PIC2_CMD
        movb    $PIC1_VECTOR_BASE, %al
        outb    %al, $PIC1_DATA
        movb    $PIC2_VECTOR_BASE, %al
        outb    %al, $PIC2_DATA
        movb    $PIC1_ICW3, %al
        outb    %al, $PIC1_DATA
        movb    $PIC2_ICW3, %al
        outb    %al, $PIC2_DATA
        movb    $PIC_ICW4, %al
        outb    %al, $PIC1_DATA
        outb    %al, $PIC2_DATA
        movb    $PIC1_MASK, %al
        outb    %al, $PIC1_DATA
        movb    $PIC2_MASK, %al
        outb    %al, $PIC2_DATA
        ret

/*
 * PIT channel 2: rate generator, reload 65536, gate on, speaker off: the
 * clock. Channel 0: rate generator, reload PIT_TICK_RELOAD: IRQ0 at
 * 40 Hz. Returns channel 2's first count in eax.
 */
pit_init:
        movb    $PIT_CH2_MODE2, %al
        outb    %al, $PIT_CMD
        xorl    %eax, %eax
        outb    %al, $PIT_CH2           /* reload 0 means 65536 */
        outb    %al, $PIT_CH2
        inb     $PORT_B, %al
        andb    $~PORT_B_SPEAKER, %al
        orb     $PORT_B_GATE2, %al
        outb    %al, $PORT_B
        movb    $PIT_CH0_MODE2, %al
        outb    %al, $PIT_CMD
        movb    $(PIT_TICK_RELOAD & 0xff), %al
        outb    %al, $PIT_CH0
        movb    $(PIT_TICK_RELOAD >> 8), %al
        outb    %al, $PIT_CH0
        movb    $PIT_CH2_LATCH, %al
        outb    %al, $PIT_CMD
        inb     $PIT_CH2, %al
        movb    %al, %cl
        inb     $PIT_CH2, %al
        movb    %al, %ch
        movzwl  %cx, %eax
        ret

/* Writes the byte in al to COM1 once the transmitter is empty. */
putc:
        movl    %eax, %ecx
        movw    $UART_LSR, %dx
1:
        inb     %dx, %al
        testb   $LSR_THRE, %al
        jz      1b
        movl    %ecx, %eax
        movw    $UART_THR, %dx
        outb    %al, %dx
        ret

/* Writes the NUL-terminated string at rsi. */
puts:
        lodsb
        testb   %al, %al
        jz      1f
        call    putc
        jmp     puts
1:
        ret

/* Writes rax in decimal. */
print_dec:
        subq    $32, %rsp
        leaq    31(%rsp), %rdi
        movb    $0, (%rdi)
        movl    $10, %ecx
1:
        xorl    %edx, %edx
        divq    %rcx
        addb    $'0', %dl
        decq    %rdi
        movb    %dl, (%rdi)
        testq   %rax, %rax
        jnz     1b
        movq    %rdi, %rsi
        call    puts
        addq    $32, %rsp
        ret

/* Writes rax as 16 hexadecimal digits. */
print_hex:
        movq    %rax, %r8
        movl    $16, %r9d
1:
        rolq    $4, %r8
        movl    %r8d, %eax
        andl    $0xf, %eax
        leaq    hex_digits(%rip), %rdx
        movb    (%rdx,%rax), %al
        call    putc
        decl    %r9d
        jnz     1b
        ret

/* ------------------------------------------------------------------ */
/* Interrupts                                                         */
/* ------------------------------------------------------------------ */

/*
 * One 16-byte stub per vector: push a zero error code unless the CPU
 * pushed one, push the vector number, go to isr_common. idt_init relies
 * on the fixed stride (each stub is at most 12 bytes).
 */
        .balign 16
isr_stubs:
        .set    vector, 0
        .rept   IDT_VECTORS
        .balign 16
        .if (vector == 8) || (vector == 10) || (vector == 11) || (vector == 12) || (vector == 13) || (vector == 14) || (vector == 17) || (vector == 21) || (vector == 29) || (vector == 30)
        .else
        pushq   $0
        .endif
        pushq   $vector
        jmp     isr_common
        .set    vector, vector + 1
        .endr

/*
 * Stack: vector, error code, rip, cs, rflags, rsp, ss.
 * NMI (vector 2) is counted and returns; it touches no register and iretq
 * restores the flags. One taken between the main loop's NMI check and its
 * `hlt` returns to the top of the loop instead, or the CPU would halt
 * with the NMI unreported until the next tick. The timer (IRQ0, vector
 * 0x20) only wakes the CPU: it sends the PIC its EOI and returns. The
 * master PIC's spurious IRQ7 (vector 0x27) gets no EOI and is ignored.
 * Anything else is reported and halts the CPU.
 */
isr_common:
        cmpq    $TIMER_VECTOR, (%rsp)
        je      timer_interrupt
        cmpq    $2, (%rsp)
        jne     1f
        incl    nmi_count(%rip)
        cmpq    $nmi_check, 16(%rsp)
        jb      2f
        cmpq    $idle_hlt, 16(%rsp)
        ja      2f
        movq    $wait_loop, 16(%rsp)
2:
        addq    $16, %rsp
        iretq
1:
        cmpq    $SPURIOUS_VECTOR, (%rsp)
        jne     fatal_interrupt
        addq    $16, %rsp
        iretq

timer_interrupt:
        pushq   %rax
        movb    $PIC_EOI, %al
        outb    %al, $PIC1_CMD
        popq    %rax
        addq    $16, %rsp
        iretq

fatal_interrupt:
        movq    %rsp, %rbx
        leaq    msg_exception(%rip), %rsi
        cmpq    $32, (%rbx)
        jb      1f
        leaq    msg_interrupt(%rip), %rsi
1:
        call    puts
        movq    (%rbx), %rax
        call    print_dec
        leaq    msg_error(%rip), %rsi
        call    puts
        movq    8(%rbx), %rax
        call    print_hex
        leaq    msg_rip(%rip), %rsi
        call    puts
        movq    16(%rbx), %rax
        call    print_hex
        cmpq    $14, (%rbx)
        jne     2f
        leaq    msg_cr2(%rip), %rsi
        call    puts
        movq    %cr2, %rax
        call    print_hex
2:
        leaq    msg_crlf(%rip), %rsi
        call    puts
        jmp     halt_forever

/* ------------------------------------------------------------------ */
/* Data                                                               */
/* ------------------------------------------------------------------ */

        .section .rodata, "a"
        .balign 8
gdt:
        .quad   0                       /* 0x00 null */
        .quad   0x00af9a000000ffff      /* 0x08 64-bit code */
        .quad   0x00cf9a000000ffff      /* 0x10 32-bit code, flat */
        .quad   0x00cf92000000ffff      /* 0x18 data, flat */
gdt_end:

        .balign 8
        .word   0                       /* align the base field */
gdt_ptr:
        .word   gdt_end - gdt - 1
        .quad   gdt

        .balign 8
        .word   0
idt_ptr:
        .word   IDT_VECTORS * 16 - 1
        .quad   IDT_ADDR

hex_digits:
        .ascii  "0123456789abcdef"
msg_banner:
        .asciz  "refvmm firmware: booted in long mode\r\n"
msg_heartbeat:
        .asciz  "heartbeat "
msg_nmi:
        .asciz  "NMI received\r\n"
msg_balloon:
        .asciz  "virtio balloon ready\r\n"
msg_balloon_lost:
        .asciz  "virtio balloon: the device does not answer, giving up\r\n"
msg_power:
        .asciz  "power button pressed, powering off\r\n"
msg_exception:
        .asciz  "EXCEPTION "
msg_interrupt:
        .asciz  "UNEXPECTED INTERRUPT "
msg_error:
        .asciz  " error=0x"
msg_rip:
        .asciz  " rip=0x"
msg_cr2:
        .asciz  " cr2=0x"
msg_crlf:
        .asciz  "\r\n"

        .data
        .balign 4
nmi_count:
        .long   0                       /* NMIs taken; set to 0 at boot */

        .section .note.GNU-stack, "", @progbits
