/*
 * Differential-test generator for @pv/x86-core: runs IA-32 integer instruction forms on the host
 * processor and prints, for each case, the inputs and the architectural outputs.
 *
 *   gcc -O2 -o difftest gen.c && ./difftest <seed> <cases-per-form> [form-name-substring]
 *
 * Exit status: 0 done, 1 usage, 2 an unexpected fault or stray write (a generator bug), 3 the
 * fixed low mappings are unavailable on this host.
 *
 * The host here cannot execute 32-bit code (no IA-32 compat mode in the guest kernel), so every
 * case runs in 64-bit mode with the same instruction semantics: 16- and 32-bit operand sizes only,
 * all eight registers loaded zero-extended (ESP too: RSP holds it while the instruction runs, and
 * faults are taken on an alternate signal stack), memory reached through an address-size (0x67) prefix that the
 * host adds in front of the recorded bytes, so effective addresses are computed exactly as a
 * 32-bit-address-size instruction computes them (modulo 2^32) and strings use ESI/EDI/ECX. Every
 * opcode used has the same encoding in both modes (no 40-4F, 82, PUSH/POP, moffs, disp32-only
 * ModRM, which 64-bit mode redefines as RIP-relative). The code page, data window and context are
 * mapped below 4 GiB at the addresses the emulator test uses.
 *
 * Output, one record a line (all numbers hex, registers in SDM order EAX ECX EDX EBX ESP EBP ESI EDI,
 * eight digits each, concatenated):
 *   # comment
 *   F <form-index> <form-name>
 *   C <form-index> <code> <regs-in> <eflags-in> <window-in|-> <regs-out> <eflags-out>
 *     <window-changes|-> <vector[:error-code]|-> <defined-flags> <undefined-register-bits|->
 * window-in is the 64-byte data window at WINDOW ('-' = all zero), window-changes lists
 * `offset=bytes` runs that differ after the instruction, vector is the exception (0 #DE, 6 #UD,
 * 13:<error code> #GP) whose register state is the state at the fault, defined-flags is the EFLAGS mask the SDM defines for
 * this case, and undefined-register-bits lists `reg=mask` bits whose final value the SDM leaves
 * undefined (BSF/BSR of 0, SHLD/SHRD of a 16-bit operand by more than 16).
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

/* The layout shared with difftest.test.ts. */
#define DATA_PAGE 0x00100000UL
/* The window straddles a page boundary, so misaligned operands also cross pages. */
#define WINDOW 0x00100fe0UL
#define WINSZ 64
#define GUARD 256 /* bytes on either side of the window checked for stray writes */
#define CTX_ADDR 0x00110000UL
#define CODE_ADDR 0x00200000UL
#define STACK_TOP 0x00380000U

enum { EAX, ECX, EDX, EBX, ESP, EBP, ESI, EDI };
#define CF 0x001u
#define PF 0x004u
#define AF 0x010u
#define ZF 0x040u
#define SF 0x080u
#define DF 0x400u
#define OF 0x800u
#define ARITH (CF | PF | AF | ZF | SF | OF)
#define ALLF (ARITH | DF)

/* ---------------------------------------------------------------- random numbers (splitmix64) */
static uint64_t rng_state;
static uint64_t rnd64(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static uint32_t rnd(void) { return (uint32_t)(rnd64() >> 32); }
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }
static uint32_t szmask(int size) { return size == 32 ? 0xffffffffu : (1u << size) - 1; }

/* An operand value of `size` bits: edge cases, small numbers or uniformly random. */
static uint32_t rv(int size) {
  uint32_t m = szmask(size), top = 1u << (size - 1);
  switch (below(10)) {
  case 0: {
    const uint32_t e[] = {0, 1, 2, m, m - 1, top, top - 1, top + 1, top - 2};
    return e[below(9)] & m;
  }
  case 1: {
    const uint32_t e[] = {0x55555555, 0xaaaaaaaa, 0x0000ffff, 0xffff0000, 0x00ff00ff, 0x0f0f0f0f,
                          0x00008000, 0x00007fff, 0x00000080, 0x0000007f, 0x000000ff, 0x00000100};
    return e[below(12)] & m;
  }
  case 2: return below(17) & m;
  case 3: return (uint32_t)-(int32_t)below(17) & m;
  case 4: return (1u << below(size)) & m;
  default: return rnd() & m;
  }
}

/* A shift or rotate count: 0, 1, width boundaries, values >= 32 that the CPU masks, random. */
static uint32_t rcount(int size) {
  switch (below(12)) {
  case 0: return 0;
  case 1: return 1;
  case 2: return size - 1;
  case 3: return size;
  case 4: return size + 1;
  case 5: { const uint32_t e[] = {31, 32, 33, 63, 64, 255, 2 * size, 2 * size - 1, 9, 17}; return e[below(10)]; }
  case 6: return below(256);
  default: return below(32);
  }
}

/* ---------------------------------------------------------------- one case */
typedef struct {
  uint8_t code[16];
  int len;
  int host67; /* the host prepends 0x67 */
  uint32_t r[8], fl;
  uint8_t mem[WINSZ];
  int usemem;
  uint32_t fmask;
  uint32_t undef[8];
  uint32_t addrregs; /* registers holding addresses: operand writes leave them alone */
  uint32_t ro[8], flo;
  uint8_t memo[WINSZ];
  int exc, err; /* exception vector and error code, -1: none */
  int long_form; /* a #GP for an over-long instruction is expected */
} Case;

typedef struct {
  int mem;  /* memory operand? */
  int rm;   /* register number when !mem */
  int off;  /* window offset when mem */
} Ea;

static void emit(Case *c, uint32_t b) { c->code[c->len++] = (uint8_t)b; }
static void emit32(Case *c, uint32_t v) {
  for (int i = 0; i < 4; i++) emit(c, v >> (8 * i));
}
static void opsize(Case *c, int size) {
  if (size == 16) emit(c, 0x66);
}

static void put_reg(Case *c, int reg, int size, uint32_t v) {
  if (size == 8) {
    int r = reg & 3, sh = reg & 4 ? 8 : 0;
    if (c->addrregs & (1u << r)) return;
    c->r[r] = (c->r[r] & ~(0xffu << sh)) | ((v & 0xff) << sh);
    return;
  }
  if (c->addrregs & (1u << reg)) return;
  c->r[reg] = (c->r[reg] & ~szmask(size)) | (v & szmask(size));
}
static uint32_t get_reg(Case *c, int reg, int size) {
  if (size == 8) return (c->r[reg & 3] >> (reg & 4 ? 8 : 0)) & 0xff;
  return c->r[reg] & szmask(size);
}
static void put_mem(Case *c, int off, int bytes, uint64_t v) {
  for (int i = 0; i < bytes; i++) c->mem[off + i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_mem(Case *c, int off, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; i++) v |= (uint64_t)c->mem[off + i] << (8 * i);
  return v;
}
static void put_E(Case *c, Ea *e, int size, uint32_t v) {
  if (e->mem) put_mem(c, e->off, size / 8, v);
  else put_reg(c, e->rm, size, v);
}
static uint32_t get_E(Case *c, Ea *e, int size) {
  return e->mem ? (uint32_t)get_mem(c, e->off, size / 8) : get_reg(c, e->rm, size);
}

/* ESP may be an operand or a base register in this case (not in forms that can fault: the
   emulator delivers the exception on SS:ESP, which must then be a valid stack). */
static int allow_esp;

/* A random general register not in `avoid` (nor ESP unless allow_esp). */
static int pick_reg(uint32_t avoid) {
  if (!allow_esp) avoid |= 1u << ESP;
  for (;;) {
    int r = below(8);
    if (!(avoid & (1u << r))) return r;
  }
}

/* A random segment override that is flat both here and in the emulator (ES, SS, DS). */
static void maybe_seg(Case *c) {
  if (below(8) == 0) {
    const uint8_t s[] = {0x26, 0x36, 0x3e};
    emit(c, s[below(3)]);
  }
}

/*
 * Emit ModRM (+SIB, +displacement) with `regfield` in bits 5:3. The r/m operand is a register
 * (mod = 3) or, when `allow_mem`, a memory operand of `bytes` bytes inside the window, reached
 * through any 32-bit addressing form except disp32-only (RIP-relative in 64-bit mode). Address registers avoid `avoid` and are marked in c->addrregs. `noaccess` (LEA)
 * keeps the address registers random.
 */
static void modrm(Case *c, int regfield, int size, int allow_mem, int must_mem, uint32_t avoid, int bytes,
                  int noaccess, Ea *ea) {
  if (!must_mem && (!allow_mem || below(2))) {
    ea->mem = 0;
    ea->rm = size == 8 ? (int)below(8) : pick_reg(0);
    emit(c, 0xc0 | (regfield << 3) | ea->rm);
    return;
  }
  ea->mem = 1;
  ea->off = below(WINSZ - bytes + 1);
  c->usemem = 1;
  c->host67 = 1;
  uint32_t target = (uint32_t)WINDOW + ea->off;
  int base = pick_reg(avoid), index = -1, scale = 0, mod, dispsize;
  int form = below(6);
  uint32_t disp = 0;
  /* displacement size: none, 8 or 32 bits */
  dispsize = form == 0 ? 0 : form == 1 ? 8 : form == 2 ? 32 : (int)(below(3) == 0 ? 0 : below(2) ? 8 : 32);
  if (base == EBP && dispsize == 0) dispsize = 8; /* mod 00 with EBP means disp32 only */
  if (dispsize == 8) disp = (uint32_t)(int32_t)(int8_t)rnd();
  if (dispsize == 32) disp = below(2) ? rnd() : (uint32_t)(int32_t)(int16_t)rnd();
  mod = dispsize == 0 ? 0 : dispsize == 8 ? 1 : 2;
  if (base == ESP && form < 3) form = 3; /* [ESP...] needs a SIB byte */
  if (form >= 3) { /* SIB */
    index = below(5) == 0 ? -1 : pick_reg(avoid | (1u << base) | (1u << ESP)); /* 100 = no index */
    scale = below(4);
    if (base == ESP && index >= 0 && form == 5) form = 4;
    if (form == 5 && index >= 0) { /* [index*scale + disp32], no base */
      base = -1;
      mod = 0;
      if (dispsize != 32) disp = below(2) ? rnd() : (uint32_t)(int32_t)(int16_t)rnd();
      dispsize = 32;
    }
    emit(c, (mod << 6) | (regfield << 3) | 4);
    emit(c, (scale << 6) | ((index < 0 ? 4 : index) << 3) | (base < 0 ? 5 : base));
  } else {
    emit(c, (mod << 6) | (regfield << 3) | base);
  }
  if (dispsize == 8) emit(c, disp);
  if (dispsize == 32) emit32(c, disp);
  if (noaccess) return;
  uint32_t idxval = 0;
  if (index >= 0) {
    idxval = below(3) == 0 ? rnd() : below(64);
    c->r[index] = idxval;
    c->addrregs |= 1u << index;
  }
  uint32_t rest = target - disp - (idxval << scale);
  if (base >= 0) {
    c->r[base] = rest;
    c->addrregs |= 1u << base;
  } else if (index >= 0) {
    /* no base: make index*scale + disp hit the target */
    c->r[index] = idxval = below(64);
    disp = target - (idxval << scale);
    c->len -= 4;
    emit32(c, disp);
  }
}

/* ---------------------------------------------------------------- forms */
enum {
  K_ALU, K_TEST, K_INCDEC, K_NEGNOT, K_SHIFT, K_SHD, K_MULDIV, K_IMUL, K_BT, K_BS, K_SETCC, K_CMOV,
  K_CMPXCHG, K_CMPXCHG8B, K_XADD, K_BSWAP, K_MOVX, K_XCHG, K_MOV, K_LEA, K_CBW, K_LAHF, K_FLAGOP,
  K_XLAT, K_STR, K_UD, K_LONG, K_NOP
};
typedef struct {
  char name[64];
  int kind, op, size;
} Form;

static Form forms[256];
static int nforms;
static void add(int kind, int op, int size, const char *name) {
  Form *f = &forms[nforms++];
  f->kind = kind;
  f->op = op;
  f->size = size;
  snprintf(f->name, sizeof f->name, "%s", name);
}
static void addsz(int kind, int op, const char *mn, int s8, int s16, int s32) {
  char b[64];
  if (s8) { snprintf(b, sizeof b, "%s 8", mn); add(kind, op, 8, b); }
  if (s16) { snprintf(b, sizeof b, "%s 16", mn); add(kind, op, 16, b); }
  if (s32) { snprintf(b, sizeof b, "%s 32", mn); add(kind, op, 32, b); }
}
static void build_forms(void) {
  const char *alu[] = {"ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"};
  for (int i = 0; i < 8; i++) addsz(K_ALU, i, alu[i], 1, 1, 1);
  addsz(K_TEST, 0, "TEST", 1, 1, 1);
  addsz(K_INCDEC, 0, "INC", 1, 1, 1);
  addsz(K_INCDEC, 1, "DEC", 1, 1, 1);
  addsz(K_NEGNOT, 2, "NOT", 1, 1, 1);
  addsz(K_NEGNOT, 3, "NEG", 1, 1, 1);
  const char *sh[] = {"ROL", "ROR", "RCL", "RCR", "SHL", "SHR", NULL, "SAR"};
  for (int i = 0; i < 8; i++)
    if (sh[i]) addsz(K_SHIFT, i, sh[i], 1, 1, 1);
  addsz(K_SHD, 0, "SHLD", 0, 1, 1);
  addsz(K_SHD, 1, "SHRD", 0, 1, 1);
  addsz(K_MULDIV, 4, "MUL", 1, 1, 1);
  addsz(K_MULDIV, 5, "IMUL (one operand)", 1, 1, 1);
  addsz(K_MULDIV, 6, "DIV", 1, 1, 1);
  addsz(K_MULDIV, 7, "IDIV", 1, 1, 1);
  addsz(K_IMUL, 0, "IMUL (two/three operands)", 0, 1, 1);
  addsz(K_BT, 4, "BT", 0, 1, 1);
  addsz(K_BT, 5, "BTS", 0, 1, 1);
  addsz(K_BT, 6, "BTR", 0, 1, 1);
  addsz(K_BT, 7, "BTC", 0, 1, 1);
  addsz(K_BS, 0, "BSF", 0, 1, 1);
  addsz(K_BS, 1, "BSR", 0, 1, 1);
  addsz(K_SETCC, 0, "SETcc", 1, 0, 0);
  addsz(K_CMOV, 0, "CMOVcc", 0, 1, 1);
  addsz(K_CMPXCHG, 0, "CMPXCHG", 1, 1, 1);
  add(K_CMPXCHG8B, 0, 64, "CMPXCHG8B");
  addsz(K_XADD, 0, "XADD", 1, 1, 1);
  add(K_BSWAP, 0, 32, "BSWAP 32");
  addsz(K_MOVX, 0, "MOVZX", 0, 1, 1);
  addsz(K_MOVX, 1, "MOVSX", 0, 1, 1);
  addsz(K_XCHG, 0, "XCHG", 1, 1, 1);
  addsz(K_MOV, 0, "MOV", 1, 1, 1);
  addsz(K_LEA, 0, "LEA", 0, 1, 1);
  add(K_CBW, 0, 32, "CBW/CWDE/CWD/CDQ");
  add(K_LAHF, 0, 8, "LAHF/SAHF");
  add(K_FLAGOP, 0, 32, "CLC/STC/CMC/CLD/STD");
  add(K_XLAT, 0, 8, "XLAT");
  add(K_NOP, 0, 32, "NOP (90, 0F 1F /0 with every ModRM form)");
  const char *str[] = {"MOVS", "CMPS", "STOS", "LODS", "SCAS"};
  for (int i = 0; i < 5; i++) addsz(K_STR, i, str[i], 1, 1, 1);
  add(K_UD, 0, 32, "#UD: LOCK misuse, UD2");
  add(K_LONG, 0, 32, "#GP: 15-byte limit (prefix runs)");
}

/* Flags the SDM defines after a shift or rotate (SDM Vol. 2B, SAL/SAR/SHL/SHR, RCL/RCR/ROL/ROR). */
static uint32_t shift_mask(int op, int size, uint32_t count) {
  uint32_t m = count & 31;
  if (m == 0) return ALLF; /* flags unaffected */
  if (op <= 3) {           /* rotates: SF ZF AF PF unaffected, CF set, OF only for 1-bit rotates */
    return ALLF & ~(m == 1 ? 0 : OF);
  }
  uint32_t f = DF | SF | ZF | PF | CF; /* AF undefined for a nonzero count */
  if (m == 1) f |= OF;
  if ((op == 4 || op == 5) && m >= (uint32_t)size) f &= ~CF; /* SHL/SHR: CF undefined */
  return f;
}

static void gen_alu(Case *c, Form *f) {
  int s = f->size, op = f->op, enc = below(s == 8 ? 4 : 5);
  Ea e;
  int g = 0, lock = 0;
  uint32_t immv = 0;
  int immsz = 0;
  if (below(8) == 0 && op != 7 && (enc == 0 || enc >= 3)) lock = 1; /* LOCK needs a memory destination */
  if (lock) emit(c, 0xf0);
  maybe_seg(c);
  opsize(c, s);
  switch (enc) {
  case 0: /* Eb,Gb / Ev,Gv */
  case 1: /* Gb,Eb / Gv,Ev */
    g = s == 8 ? (int)below(8) : pick_reg(0);
    emit(c, op * 8 + enc * 2 + (s != 8));
    modrm(c, g, s, 1, lock && enc == 0, 0, s / 8, 0, &e);
    break;
  case 2: /* AL,Ib / eAX,Iv */
    emit(c, op * 8 + 4 + (s != 8));
    e.mem = 0;
    e.rm = EAX;
    immsz = s;
    break;
  case 3: /* 80 /op Ib, 81 /op Iv */
    emit(c, s == 8 ? 0x80 : 0x81);
    modrm(c, op, s, 1, lock, 0, s / 8, 0, &e);
    immsz = s;
    break;
  default: /* 83 /op Ib sign-extended */
    emit(c, 0x83);
    modrm(c, op, s, 1, lock, 0, s / 8, 0, &e);
    immsz = 8;
    break;
  }
  put_E(c, &e, s, rv(s));
  if (enc <= 1) put_reg(c, g, s, rv(s));
  if (immsz) {
    immv = rv(immsz);
    for (int i = 0; i < immsz / 8; i++) emit(c, immv >> (8 * i));
  }
  c->fmask = (op == 1 || op == 4 || op == 6) ? ALLF & ~AF : ALLF;
}

static void gen_case(Case *c, Form *f) {
  int s = f->size, op = f->op;
  Ea e;
  memset(c, 0, sizeof *c);
  /* Registers the form does not set are random or (half the time, for a smaller corpus) a fixed
     pattern; either way a stray write to them shows. */
  int randregs = below(2);
  for (int i = 0; i < 8; i++) c->r[i] = !randregs ? 0x01010101u * (0x10 + 0x11 * i) : below(4) ? rnd() : rv(32);
  allow_esp = f->kind != K_MULDIV && f->kind != K_UD && f->kind != K_LONG;
  if (!allow_esp) c->r[ESP] = STACK_TOP;
  c->fl = 0x2 | (rnd() & ALLF);
  /* The window: random bytes, or (to keep the committed corpus small) a fixed pattern around the
     operand, which put_E() fills with random or edge-case values anyway. */
  int randwin = f->kind == K_STR || f->kind == K_XLAT || f->kind == K_BT || below(4) == 0;
  for (int i = 0; i < WINSZ; i++) c->mem[i] = randwin ? (uint8_t)rnd() : (uint8_t)(0xa5 ^ (i * 0x1d));
  c->fmask = ALLF;
  switch (f->kind) {
  case K_ALU: gen_alu(c, f); break;
  case K_TEST: {
    int enc = below(3), g = 0;
    opsize(c, s);
    if (enc == 0) {
      emit(c, s == 8 ? 0x84 : 0x85);
      g = s == 8 ? (int)below(8) : pick_reg(0);
      modrm(c, g, s, 1, 0, 0, s / 8, 0, &e);
      put_reg(c, g, s, rv(s));
    } else if (enc == 1) {
      emit(c, s == 8 ? 0xa8 : 0xa9);
      e.mem = 0;
      e.rm = EAX;
    } else {
      emit(c, s == 8 ? 0xf6 : 0xf7);
      modrm(c, 0, s, 1, 0, 0, s / 8, 0, &e);
    }
    put_E(c, &e, s, rv(s));
    if (enc) {
      uint32_t v = rv(s);
      for (int i = 0; i < s / 8; i++) emit(c, v >> (8 * i));
    }
    c->fmask = ALLF & ~AF;
    break;
  }
  case K_INCDEC:
  case K_NEGNOT: {
    int lock = below(8) == 0;
    if (lock) emit(c, 0xf0);
    maybe_seg(c);
    opsize(c, s);
    emit(c, f->kind == K_INCDEC ? (s == 8 ? 0xfe : 0xff) : (s == 8 ? 0xf6 : 0xf7));
    modrm(c, op, s, 1, lock, 0, s / 8, 0, &e);
    put_E(c, &e, s, rv(s));
    break;
  }
  case K_SHIFT: {
    int enc = below(3);
    uint32_t count = enc == 0 ? 1 : rcount(s);
    opsize(c, s);
    emit(c, (enc == 0 ? 0xd0 : enc == 1 ? 0xd2 : 0xc0) + (s != 8));
    modrm(c, op, s, 1, 0, 1u << ECX, s / 8, 0, &e);
    put_E(c, &e, s, rv(s));
    if (enc == 1) {
      put_reg(c, ECX, 8, count);
      count = get_reg(c, ECX, 8); /* r/m may be CL itself */
    }
    if (enc == 2) emit(c, count);
    c->fmask = shift_mask(op, s, count);
    break;
  }
  case K_SHD: {
    int cl = below(2), g = pick_reg(0);
    uint32_t count = rcount(s);
    int bigcount = s == 16 && (count & 31) > 16;
    opsize(c, s);
    emit(c, 0x0f);
    emit(c, (op ? 0xac : 0xa4) + cl);
    modrm(c, g, s, !bigcount, 0, 1u << ECX, s / 8, 0, &e);
    put_E(c, &e, s, rv(s));
    put_reg(c, g, s, rv(s));
    if (cl) {
      put_reg(c, ECX, 8, count);
      count = get_reg(c, ECX, 8);
    } else {
      emit(c, count);
    }
    uint32_t m = count & 31;
    if (m == 0) c->fmask = ALLF;
    else if (m > (uint32_t)s) { /* SDM: count > operand size ⇒ result and flags undefined */
      c->fmask = DF;
      if (e.mem) abort();
      c->undef[e.rm] = szmask(s);
    } else c->fmask = DF | CF | SF | ZF | PF | (m == 1 ? OF : 0);
    break;
  }
  case K_MULDIV: {
    opsize(c, s);
    emit(c, s == 8 ? 0xf6 : 0xf7);
    modrm(c, op, s, 1, 0, (1u << EAX) | (1u << EDX), s / 8, 0, &e);
    uint32_t d = rv(s), lo = rv(s), hi = rv(s);
    if (op == 6 && d && below(4)) hi = below(4) ? below(d) : d - 1; /* DIV: mostly quotients that fit */
    if (op == 7 && below(2)) hi = (lo >> (s - 1)) ? szmask(s) : 0; /* IDIV: sign-extended dividend */
    if (op == 7 && below(16) == 0) { /* IDIV edges: most negative dividend, divisor ±1, -2; quotient ±2^(s-1) */
      const uint32_t dv[] = {szmask(s), 1, szmask(s) - 1, 2};
      d = dv[below(4)];
      hi = szmask(s);
      lo = below(2) ? 1u << (s - 1) : 0;
      if (below(2)) { hi = 0; lo = (1u << (s - 1)) - below(2); }
    }
    if (s == 8) put_reg(c, EAX, 16, lo | (hi << 8));
    else {
      put_reg(c, EAX, s, lo);
      put_reg(c, EDX, s, hi);
    }
    put_E(c, &e, s, d);
    c->fmask = op <= 5 ? DF | OF | CF : DF;
    break;
  }
  case K_IMUL: {
    int enc = below(3), g = pick_reg(0);
    opsize(c, s);
    if (enc == 0) {
      emit(c, 0x0f);
      emit(c, 0xaf);
    } else emit(c, enc == 1 ? 0x69 : 0x6b);
    modrm(c, g, s, 1, 0, 0, s / 8, 0, &e);
    put_E(c, &e, s, rv(s));
    put_reg(c, g, s, rv(s));
    if (enc) {
      int isz = enc == 1 ? s : 8;
      uint32_t v = rv(isz);
      for (int i = 0; i < isz / 8; i++) emit(c, v >> (8 * i));
    }
    c->fmask = DF | OF | CF;
    break;
  }
  case K_BT: {
    int imm = below(3) == 0, g = pick_reg(0), lock = op != 4 && below(8) == 0;
    if (lock) emit(c, 0xf0);
    maybe_seg(c);
    opsize(c, s);
    emit(c, 0x0f);
    if (imm) {
      emit(c, 0xba);
      modrm(c, op, s, 1, lock, 0, s / 8, 0, &e);
      put_E(c, &e, s, rv(s));
      emit(c, below(2) ? below(256) : below(s));
    } else {
      const uint8_t opc[] = {0xa3, 0xab, 0xb3, 0xbb};
      emit(c, opc[op - 4]);
      modrm(c, g, s, 1, lock, 1u << g, s / 8, 0, &e);
      put_E(c, &e, s, rv(s));
      int32_t off;
      if (e.mem) { /* bit string: the unit addressed must stay inside the window */
        int u = s / 8;
        int kmin = -(e.off / u), kmax = (WINSZ - u - e.off) / u;
        int k = kmin + (int)below(kmax - kmin + 1);
        off = k * s + (int)below(s);
      } else {
        off = below(2) ? (int32_t)rnd() : (int32_t)below(2 * s) - s;
      }
      put_reg(c, g, s, (uint32_t)off);
    }
    c->fmask = DF | CF | ZF; /* OF SF AF PF undefined, ZF unaffected */
    break;
  }
  case K_BS: {
    int g = pick_reg(0);
    opsize(c, s);
    emit(c, 0x0f);
    emit(c, op ? 0xbd : 0xbc);
    modrm(c, g, s, 1, 0, 0, s / 8, 0, &e);
    put_reg(c, g, s, rv(s));
    put_E(c, &e, s, below(6) == 0 ? 0 : rv(s));
    c->fmask = DF | ZF;
    if (get_E(c, &e, s) == 0) c->undef[g] = szmask(s); /* SDM: destination undefined */
    break;
  }
  case K_SETCC:
    maybe_seg(c);
    emit(c, 0x0f);
    emit(c, 0x90 + below(16));
    modrm(c, 0, 8, 1, 0, 0, 1, 0, &e);
    break;
  case K_CMOV: {
    int g = pick_reg(0);
    maybe_seg(c);
    opsize(c, s);
    emit(c, 0x0f);
    emit(c, 0x40 + below(16));
    modrm(c, g, s, 1, 0, 0, s / 8, 0, &e);
    break;
  }
  case K_CMPXCHG:
  case K_XADD: {
    int g = s == 8 ? (int)below(8) : pick_reg(0), lock = below(8) == 0;
    if (lock) emit(c, 0xf0);
    maybe_seg(c);
    opsize(c, s);
    emit(c, 0x0f);
    emit(c, (f->kind == K_XADD ? 0xc0 : 0xb0) + (s != 8));
    modrm(c, g, s, 1, lock, f->kind == K_CMPXCHG ? 1u << EAX : 0, s / 8, 0, &e);
    put_E(c, &e, s, rv(s));
    put_reg(c, g, s, rv(s));
    if (f->kind == K_CMPXCHG) put_reg(c, EAX, s, below(2) ? get_E(c, &e, s) : rv(s));
    break;
  }
  case K_CMPXCHG8B: {
    int lock = below(4) == 0;
    if (lock) emit(c, 0xf0);
    maybe_seg(c);
    emit(c, 0x0f);
    emit(c, 0xc7);
    modrm(c, 1, 32, 1, 1, 0xf, 8, 0, &e);
    put_mem(c, e.off, 8, ((uint64_t)rnd() << 32) | rv(32));
    if (below(2)) {
      uint64_t v = get_mem(c, e.off, 8);
      c->r[EAX] = (uint32_t)v;
      c->r[EDX] = (uint32_t)(v >> 32);
    }
    break;
  }
  case K_BSWAP: {
    int r = pick_reg(0);
    emit(c, 0x0f);
    emit(c, 0xc8 + r);
    break;
  }
  case K_MOVX: {
    int g = pick_reg(0), src = s == 16 || below(2) ? 8 : 16;
    maybe_seg(c);
    opsize(c, s);
    emit(c, 0x0f);
    emit(c, (op ? 0xbe : 0xb6) + (src == 16));
    modrm(c, g, src, 1, 0, 0, src / 8, 0, &e);
    put_E(c, &e, src, rv(src));
    break;
  }
  case K_XCHG: {
    int enc = s == 8 ? 0 : below(3), g = s == 8 ? (int)below(8) : pick_reg(0);
    if (enc) {
      opsize(c, s);
      int r = pick_reg(1u << EAX);
      emit(c, 0x90 + r);
    } else {
      int lock = below(8) == 0;
      if (lock) emit(c, 0xf0);
      maybe_seg(c);
      opsize(c, s);
      emit(c, s == 8 ? 0x86 : 0x87);
      modrm(c, g, s, 1, lock, 0, s / 8, 0, &e);
    }
    break;
  }
  case K_MOV: {
    int enc = below(4), g = s == 8 ? (int)below(8) : pick_reg(0);
    maybe_seg(c);
    opsize(c, s);
    if (enc <= 1) {
      emit(c, (enc ? 0x8a : 0x88) + (s != 8));
      modrm(c, g, s, 1, 0, 0, s / 8, 0, &e);
    } else if (enc == 2) {
      emit(c, (s == 8 ? 0xb0 : 0xb8) + (s == 8 ? (int)below(8) : pick_reg(0)));
      uint32_t v = rv(s);
      for (int i = 0; i < s / 8; i++) emit(c, v >> (8 * i));
    } else {
      emit(c, s == 8 ? 0xc6 : 0xc7);
      modrm(c, 0, s, 1, 0, 0, s / 8, 0, &e);
      uint32_t v = rv(s);
      for (int i = 0; i < s / 8; i++) emit(c, v >> (8 * i));
    }
    break;
  }
  case K_LEA:
    opsize(c, s);
    emit(c, 0x8d);
    modrm(c, pick_reg(0), s, 1, 1, 0, 1, 1, &e);
    c->usemem = 0;
    break;
  case K_CBW: {
    int sz = below(2) ? 16 : 32;
    opsize(c, sz);
    emit(c, below(2) ? 0x98 : 0x99);
    put_reg(c, EAX, 32, below(2) ? rv(32) : rnd());
    break;
  }
  case K_LAHF:
    emit(c, below(2) ? 0x9e : 0x9f);
    break;
  case K_FLAGOP: {
    const uint8_t o[] = {0xf5, 0xf8, 0xf9, 0xfc, 0xfd};
    emit(c, o[below(5)]);
    break;
  }
  case K_XLAT: {
    maybe_seg(c);
    emit(c, 0xd7);
    uint32_t t = below(WINSZ), al = below(WINSZ - t);
    c->r[EBX] = (uint32_t)WINDOW + t;
    c->r[EAX] = (c->r[EAX] & ~0xffu) | al;
    c->usemem = 1;
    c->host67 = 1;
    break;
  }
  case K_NOP: { /* the multi-byte NOP decodes a full ModRM/SIB/displacement and touches nothing */
    if (below(8) == 0) {
      if (below(2)) emit(c, 0x66);
      emit(c, 0x90);
      break;
    }
    maybe_seg(c);
    if (below(2)) emit(c, 0x66);
    emit(c, 0x0f);
    emit(c, 0x1f);
    modrm(c, 0, 32, 1, 0, 0, 4, below(2), &e);
    break;
  }
  case K_UD: { /* SDM Vol. 2A, LOCK: #UD unless a lockable instruction with a memory destination */
    int g = pick_reg(0), k = below(10), sz = below(2) ? 16 : 32;
    if (k == 0) {
      emit(c, 0x0f);
      emit(c, 0x0b); /* UD2 */
      break;
    }
    if (k == 8) { /* CMPXCHG8B with a register operand (SDM: #UD if the destination is not memory) */
      emit(c, 0x0f);
      emit(c, 0xc7);
      modrm(c, 1, 32, 0, 0, 0, 0, 0, &e);
      break;
    }
    emit(c, 0xf0);
    maybe_seg(c);
    opsize(c, sz);
    switch (k) {
    case 1: emit(c, 0x01 + 8 * below(7)); modrm(c, g, sz, 0, 0, 0, 0, 0, &e); break; /* ALU reg, reg */
    case 2: emit(c, 0x39); modrm(c, g, sz, 1, 1, 0, sz / 8, 0, &e); break;          /* CMP m, r */
    case 3: emit(c, 0x85); modrm(c, g, sz, 1, 0, 0, sz / 8, 0, &e); break;          /* TEST */
    case 4: emit(c, 0x89); modrm(c, g, sz, 1, 1, 0, sz / 8, 0, &e); break;          /* MOV m, r */
    case 5: emit(c, 0x0f); emit(c, 0xa3); modrm(c, g, sz, 1, 1, 1u << g, sz / 8, 0, &e); break; /* BT m, r */
    case 6: emit(c, 0x0f); emit(c, 0xaf); modrm(c, g, sz, 1, 0, 0, sz / 8, 0, &e); break;       /* IMUL */
    case 9: emit(c, 0x87); modrm(c, g, sz, 0, 0, 0, 0, 0, &e); break;                  /* XCHG reg, reg */
    default: emit(c, 0xff); modrm(c, below(2), sz, 0, 0, 0, 0, 0, &e); break;        /* INC/DEC reg */
    }
    if (k == 5 && e.mem) put_reg(c, g, sz, below(8)); /* keep the bit offset inside the window */
    break;
  }
  case K_LONG: { /* SDM Vol. 2A §2.1: at most 15 bytes; Vol. 3A §6.15 (#GP): longer is #GP(0) */
    c->long_form = 1;
    int sz = below(2) ? 16 : 32, total = 12 + below(6), op = below(8);
    int base = sz == 16 ? 5 : 6, k = total - base, pos66 = below(k + 1);
    const uint8_t segs[] = {0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65};
    for (int i = 0; i <= k; i++) {
      if (sz == 16 && i == pos66) emit(c, 0x66);
      if (i < k) emit(c, segs[below(6)]);
    }
    if (sz == 16) k++; /* the 0x66 counted as a prefix */
    emit(c, 0x81);
    modrm(c, op, sz, 0, 0, 0, 0, 0, &e);
    put_E(c, &e, sz, rv(sz));
    uint32_t v = rv(sz);
    for (int i = 0; i < sz / 8; i++) emit(c, v >> (8 * i));
    c->fmask = (op == 1 || op == 4 || op == 6) ? ALLF & ~AF : ALLF;
    break;
  }
  case K_STR: {
    /* op: 0 MOVS, 1 CMPS, 2 STOS, 3 LODS, 4 SCAS */
    const uint8_t opc[] = {0xa4, 0xa6, 0xaa, 0xac, 0xae};
    int u = s / 8, rep = below(4), n, df = below(2);
    int cmp = op == 1 || op == 4;
    int prefix = rep == 0 ? 0 : cmp && below(2) ? 0xf2 : 0xf3;
    if (prefix) emit(c, prefix);
    if (op == 0 || op == 1 || op == 3) maybe_seg(c);
    opsize(c, s);
    emit(c, opc[op] + (s != 8));
    n = prefix ? (int)below(9) : 1;
    c->fl = (c->fl & ~DF) | (df ? DF : 0);
    if (prefix) c->r[ECX] = below(8) == 0 ? 0 : (uint32_t)n;
    else n = 1;
    int span = (n ? n : 1) * u;
    int lo = df ? span - u : 0, hi = df ? WINSZ - u : WINSZ - span;
    c->r[ESI] = (uint32_t)WINDOW + lo + below(hi - lo + 1);
    c->r[EDI] = (uint32_t)WINDOW + lo + below(hi - lo + 1);
    if (cmp && below(2)) { /* small alphabet so REPE/REPNE stop at varying places */
      for (int i = 0; i < WINSZ; i++) c->mem[i] = below(3);
      c->r[EAX] = (c->r[EAX] & ~szmask(s)) | (below(3) * (0x01010101u & szmask(s)) & szmask(s));
      if (below(2)) c->r[EAX] &= ~0xffu;
    }
    c->usemem = 1;
    c->host67 = 1;
    break;
  }
  }
}

/* ---------------------------------------------------------------- running on the host */
typedef struct {
  uint32_t in[8];
  uint64_t flin;
  uint64_t saved_rsp;
  uint32_t pad[4];
  uint32_t out[8];
  uint64_t flout;
} Ctx;

static sigjmp_buf jb;
static volatile sig_atomic_t gsig;
static uint64_t fault_rip;
static uint32_t fault_regs[8], fault_fl, fault_trapno, fault_err;
static int insn_off; /* offset of the instruction under test in the trampoline */

static void on_fault(int sig, siginfo_t *si, void *ucv) {
  (void)si;
  ucontext_t *uc = ucv;
  greg_t *g = uc->uc_mcontext.gregs;
  gsig = sig;
  fault_rip = (uint64_t)g[REG_RIP];
  fault_regs[EAX] = (uint32_t)g[REG_RAX];
  fault_regs[ECX] = (uint32_t)g[REG_RCX];
  fault_regs[EDX] = (uint32_t)g[REG_RDX];
  fault_regs[EBX] = (uint32_t)g[REG_RBX];
  fault_regs[EBP] = (uint32_t)g[REG_RBP];
  fault_regs[ESI] = (uint32_t)g[REG_RSI];
  fault_regs[EDI] = (uint32_t)g[REG_RDI];
  fault_regs[ESP] = (uint32_t)g[REG_RSP];
  fault_fl = (uint32_t)g[REG_EFL];
  fault_trapno = (uint32_t)g[REG_TRAPNO];
  fault_err = (uint32_t)g[REG_ERR];
  siglongjmp(jb, 1);
}

static uint8_t *tp;
static void t1(int b) { *tp++ = (uint8_t)b; }
static void tabs(int op, int modrm_reg, uint32_t addr) { /* op r, [abs32] via SIB, never RIP-relative */
  t1(op);
  t1(0x04 | (modrm_reg << 3));
  t1(0x25);
  memcpy(tp, &addr, 4);
  tp += 4;
}

static void run_case(Case *c) {
  Ctx *ctx = (Ctx *)CTX_ADDR;
  uint8_t *win = (uint8_t *)WINDOW;
  static const uint8_t order[7] = {EAX, ECX, EDX, EBX, EBP, ESI, EDI};
  tp = (uint8_t *)CODE_ADDR;
  t1(0x53); t1(0x55); t1(0x41); t1(0x54); t1(0x41); t1(0x55); t1(0x41); t1(0x56); t1(0x41); t1(0x57);
  t1(0x48);
  tabs(0x89, ESP, CTX_ADDR + offsetof(Ctx, saved_rsp)); /* mov [saved_rsp], rsp */
  tabs(0xff, 6, CTX_ADDR + offsetof(Ctx, flin));        /* push qword [flin] */
  t1(0x9d);                                      /* popfq */
  for (int i = 0; i < 7; i++) tabs(0x8b, order[i], CTX_ADDR + 4 * order[i]);
  tabs(0x8b, ESP, CTX_ADDR + 4 * ESP); /* mov esp, [in.esp]: the stack is not used until restored */
  insn_off = (int)(tp - (uint8_t *)CODE_ADDR);
  if (c->host67) t1(0x67);
  memcpy(tp, c->code, c->len);
  tp += c->len;
  tabs(0x89, ESP, CTX_ADDR + offsetof(Ctx, out) + 4 * ESP);
  t1(0x48);
  tabs(0x8b, ESP, CTX_ADDR + offsetof(Ctx, saved_rsp)); /* mov rsp, [saved_rsp] */
  for (int i = 0; i < 7; i++) tabs(0x89, order[i], CTX_ADDR + offsetof(Ctx, out) + 4 * order[i]);
  t1(0x9c);                                       /* pushfq */
  tabs(0x8f, 0, CTX_ADDR + offsetof(Ctx, flout)); /* pop qword [flout] */
  t1(0xfc);                                       /* cld (ABI) */
  t1(0x41); t1(0x5f); t1(0x41); t1(0x5e); t1(0x41); t1(0x5d); t1(0x41); t1(0x5c); t1(0x5d); t1(0x5b);
  t1(0xc3);

  memcpy(ctx->in, c->r, sizeof c->r);
  ctx->flin = c->fl | 0x202;
  memset((void *)(WINDOW - GUARD), 0xcc, GUARD);
  memset((void *)(WINDOW + WINSZ), 0xcc, GUARD);
  if (c->usemem) memcpy(win, c->mem, WINSZ);
  else {
    memset(c->mem, 0, WINSZ);
    memset(win, 0, WINSZ);
  }
  gsig = 0;
  if (sigsetjmp(jb, 1) == 0) {
    ((void (*)(void))CODE_ADDR)();
    memcpy(c->ro, ctx->out, sizeof c->ro);
    c->flo = (uint32_t)ctx->flout & (ALLF | 2);
    c->exc = -1;
    c->err = -1;
  } else {
    int expected = gsig == SIGFPE || gsig == SIGILL || (gsig == SIGSEGV && fault_trapno == 13 && c->long_form);
    if (!expected || fault_rip != CODE_ADDR + insn_off) {
      fprintf(stderr, "difftest: unexpected signal %d at %#lx (case bytes", (int)gsig, (unsigned long)fault_rip);
      for (int i = 0; i < c->len; i++) fprintf(stderr, " %02x", c->code[i]);
      fprintf(stderr, ")\n");
      exit(2);
    }
    memcpy(c->ro, fault_regs, sizeof c->ro);
    c->flo = fault_fl & (ALLF | 2);
    c->exc = gsig == SIGFPE ? 0 : gsig == SIGILL ? 6 : 13; /* #DE, #UD, #GP */
    c->err = gsig == SIGSEGV ? (int)fault_err : -1;
    /* A fault leaves EFLAGS as it was (the instruction did not execute, SDM Vol. 3 §6.5): the
       flags a completed DIV would leave undefined are all defined here. */
    c->fmask = ALLF;
  }
  memcpy(c->memo, win, WINSZ);
  for (long i = -GUARD; i < WINSZ + GUARD; i++) {
    if (i >= 0 && i < WINSZ) continue;
    if (win[i] != 0xcc) {
      fprintf(stderr, "difftest: write outside the window at %+ld (case bytes", i);
      for (int j = 0; j < c->len; j++) fprintf(stderr, " %02x", c->code[j]);
      fprintf(stderr, ")\n");
      exit(2);
    }
  }
}

/* ---------------------------------------------------------------- output */
static void print_case(int fi, Case *c) {
  char buf[1024], *p = buf;
  p += sprintf(p, "C %d ", fi);
  for (int i = 0; i < c->len; i++) p += sprintf(p, "%02x", c->code[i]);
  *p++ = ' ';
  for (int i = 0; i < 8; i++) p += sprintf(p, "%08x", c->r[i]);
  p += sprintf(p, " %x ", c->fl);
  if (c->usemem) {
    for (int i = 0; i < WINSZ; i++) p += sprintf(p, "%02x", c->mem[i]);
  } else *p++ = '-';
  *p++ = ' ';
  for (int i = 0; i < 8; i++) p += sprintf(p, "%08x", c->ro[i]);
  p += sprintf(p, " %x ", c->flo);
  int any = 0;
  for (int i = 0; i < WINSZ;) {
    if (c->memo[i] == c->mem[i]) {
      i++;
      continue;
    }
    p += sprintf(p, "%s%x=", any ? "," : "", i);
    any = 1;
    while (i < WINSZ && c->memo[i] != c->mem[i]) p += sprintf(p, "%02x", c->memo[i++]);
  }
  if (!any) *p++ = '-';
  if (c->exc >= 0) p += sprintf(p, " %x", c->exc);
  else p += sprintf(p, " -");
  if (c->err >= 0) p += sprintf(p, ":%x", c->err);
  p += sprintf(p, " %x ", c->fmask);
  any = 0;
  for (int i = 0; i < 8; i++)
    if (c->undef[i]) {
      p += sprintf(p, "%s%d=%x", any ? "," : "", i, c->undef[i]);
      any = 1;
    }
  if (!any) *p++ = '-';
  *p++ = '\n';
  fwrite(buf, 1, p - buf, stdout);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s <seed> <cases-per-form> [form-name-substring]\n", argv[0]);
    return 1;
  }
  uint64_t seed = strtoull(argv[1], NULL, 0);
  long n = strtol(argv[2], NULL, 0);
  const char *filter = argc > 3 ? argv[3] : NULL;
  build_forms();
  if (mmap((void *)DATA_PAGE, 0x20000, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
           0) != (void *)DATA_PAGE ||
      mmap((void *)CODE_ADDR, 0x1000, PROT_READ | PROT_WRITE | PROT_EXEC,
           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != (void *)CODE_ADDR) {
    perror("difftest: mmap below 4 GiB");
    return 3; /* the environment, not a failed case: the test skips with this message */
  }
  /* Faults are taken on an alternate stack: RSP holds the guest's ESP while the instruction runs. */
  static uint8_t altstack[1 << 16];
  stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
  sigaltstack(&ss, NULL);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_fault;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  printf("# difftest v1 seed=%llu cases=%ld window=%#lx code=%#lx stack=%#x\n", (unsigned long long)seed, n,
         WINDOW, CODE_ADDR, STACK_TOP);
  for (int fi = 0; fi < nforms; fi++) {
    Form *f = &forms[fi];
    if (filter && !strstr(f->name, filter)) continue;
    printf("F %d %s\n", fi, f->name);
    rng_state = seed * 0x100000001b3ull + (uint64_t)fi * 0x9e3779b97f4a7c15ull;
    for (long k = 0; k < n; k++) {
      Case c;
      gen_case(&c, f);
      run_case(&c);
      print_case(fi, &c);
    }
  }
  return 0;
}
