/*
 * Entry, descriptor-table loads and interrupt stubs of the mini PV kernel.
 * Multiboot 0.6.96 §3.1.1 header; §3.2 machine state at entry (EAX = 0x2BADB002, EBX = info,
 * flat 4 GiB CS/DS, paging and interrupts off, ESP undefined).
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003   /* page-align modules, provide memory information */

    .section .multiboot, "a"
    .align 4
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)

    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    mov $stack_top, %esp
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

    .section .bss
    .align 16
stack_bottom:
    .skip 16384
    .globl stack_top
stack_top:

    .section .note.GNU-stack,"",@progbits
