/*
 * Entry, descriptor-table loads and interrupt stubs of the mini PV kernel.
 * Multiboot 0.6.96 §3.1.1 header; §3.2 machine state at entry (EAX = 0x2BADB002, EBX = info,
 * flat 4 GiB CS/DS, paging and interrupts off, ESP undefined).
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules, provide memory information */
#define MAX_CPUS 32           /* kernel.h */
#define STACK_SIZE 16384      /* kernel.h: per-CPU stacks, aligned to their size */
/* Where smp.c copies the AP start-up trampoline: a free page below 1 MiB whose number is the
 * STARTUP IPI vector (SDM Vol. 3A 8.4.4.1: execution starts at vector << 12 in real mode). */
#define TRAMPOLINE_BASE 0x8000
    .globl trampoline_base
    .set trampoline_base, TRAMPOLINE_BASE

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    mov $(cpu_stacks + STACK_SIZE), %esp   /* the BSP is CPU 0 */
    cld
    push %ebx                  /* multiboot information (physical) */
    push %eax                  /* bootloader magic */
    call kmain
1:  cli
    hlt
    jmp 1b

/* void gdt_load(const struct dtr *gdtr): SDM Vol. 3A 3.4.5, 2.4.1. Reloads every segment
 * register so the hidden descriptor caches come from our own GDT (selectors as in arch.c). */
#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
    .text
    .globl gdt_load
gdt_load:
    mov 4(%esp), %eax
    lgdt (%eax)
    mov $KERNEL_DS, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    ljmp $KERNEL_CS, $1f
1:  ret

/*
 * Interrupt stubs, one per vector. SDM Vol. 3A 6.13 (Table 6-1): vectors 8, 10-14, 17, 21, 29
 * and 30 push an error code; for the others the stub pushes 0 so the frame has one shape.
 */
    .altmacro
    .macro isr n
isr_\n:
    .if (\n == 8) || ((\n >= 10) && (\n <= 14)) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
    .else
    push $0
    .endif
    push $\n
    jmp isr_common
    .endm

    .macro isr_ref n
    .long isr_\n
    .endm

    .set vec, 0
    .rept 256
    isr %vec
    .set vec, vec + 1
    .endr

isr_common:
    pusha
    cld
    push %esp                  /* struct frame * */
    call isr_dispatch
    add $4, %esp
    popa
    add $8, %esp               /* vector, error code */
    iret

    .section .rodata
    .globl isr_table
    .align 4
isr_table:
    .set vec, 0
    .rept 256
    isr_ref %vec
    .set vec, vec + 1
    .endr

/*
 * Application-processor start-up trampoline, after Linux's arch/x86/realmode/rm/trampoline_32.S.
 * smp.c copies trampoline_start..trampoline_end to TRAMPOLINE_BASE and fills the three data words;
 * a STARTUP IPI starts the AP here in real mode with CS = TRAMPOLINE_BASE >> 4, IP = 0. It loads a
 * flat GDT, sets CR0.PE (SDM Vol. 3A 9.9.1), far-jumps to 32-bit code, loads the BSP's page
 * directory and sets CR0.PG | CR0.WP (the trampoline page is identity-mapped, so execution goes
 * on at the same address), then switches to its own stack and jumps to ap_main.
 */
#define TR(sym) (TRAMPOLINE_BASE + (sym) - trampoline_start)
    .section .rodata
    .align 16
    .globl trampoline_start, trampoline_end, trampoline_data
    .code16
trampoline_start:
    cli
    cld
    mov %cs, %ax
    mov %ax, %ds
    lgdtl (tr_gdtr - trampoline_start)     /* 32-bit operand: the full base (SDM Vol. 2 LGDT) */
    mov %cr0, %eax
    or $1, %eax                            /* CR0.PE */
    mov %eax, %cr0
    ljmpl $0x08, $TR(tr_protected)
    .code32
tr_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %fs
    mov %ax, %gs
    mov %ax, %ss
    mov TR(tr_cr3), %eax
    mov %eax, %cr3
    mov %cr0, %eax
    or $0x80010000, %eax                   /* CR0.PG | CR0.WP, as paging.c sets on the BSP */
    mov %eax, %cr0
    mov TR(tr_stack), %esp
    mov TR(tr_entry), %eax
    jmp *%eax
    .align 8
tr_gdt:                                    /* the same flat descriptors as arch.c */
    .quad 0
    .quad 0x00cf9a000000ffff
    .quad 0x00cf92000000ffff
tr_gdtr:
    .word tr_gdtr - tr_gdt - 1
    .long TR(tr_gdt)
    .align 4
trampoline_data:
tr_cr3:   .long 0                          /* page directory */
tr_stack: .long 0                          /* top of the AP's stack */
tr_entry: .long 0                          /* ap_main */
trampoline_end:

    .section .bss.stacks, "aw", @nobits   /* link.ld aligns it to 16 KiB (STACK_SIZE) */
    .align 16
    .globl cpu_stacks
cpu_stacks:                                /* one STACK_SIZE stack per CPU, CPU 0 = the BSP */
    .skip STACK_SIZE * MAX_CPUS

    .section .note.GNU-stack,"",@progbits
