/**
 * A few hand-encoded IA-32 instructions and a two-pass label assembler for the debug, v86,
 * SYSENTER and I/O-permission tests (encodings from SDM Vol. 2, Appendix A/B).
 */
import { le32 } from './helpers';

export const EAX = 0;
export const ECX = 1;
export const EDX = 2;
export const EBX = 3;
export const ESP = 4;
export const EBP = 5;
export const ESI = 6;
export const EDI = 7;

export type Labels = Record<string, number>;
export type Chunk = number[] | string | ((l: Labels) => number[]);

/** Assembles `chunks` at `base`: arrays are bytes, strings define labels, functions see the labels. */
export function assemble(base: number, chunks: Chunk[]): { bytes: number[]; labels: Labels } {
  const labels: Labels = {};
  const zero = new Proxy({}, { get: () => 0 }) as Labels;
  let pc = base;
  for (const c of chunks) {
    if (typeof c === 'string') labels[c] = pc;
    else pc += (typeof c === 'function' ? c(zero) : c).length;
  }
  const bytes: number[] = [];
  for (const c of chunks) {
    if (typeof c === 'string') continue;
    bytes.push(...(typeof c === 'function' ? c(labels) : c));
  }
  return { bytes, labels };
}

/** MOV r32, imm32. */
export const movImm = (r: number, v: number): number[] => [0xb8 + r, ...le32(v >>> 0)];
/** MOV DRn, r32 (0F 23 /r). */
export const movToDr = (n: number, r: number): number[] => [0x0f, 0x23, 0xc0 | (n << 3) | r];
/** MOV r32, DRn (0F 21 /r). */
export const movFromDr = (r: number, n: number): number[] => [0x0f, 0x21, 0xc0 | (n << 3) | r];
/** MOV CRn, r32 (0F 22 /r). */
export const movToCr = (n: number, r: number): number[] => [0x0f, 0x22, 0xc0 | (n << 3) | r];
/** MOV r32, [disp32]. */
export const load32 = (r: number, addr: number): number[] => [0x8b, 0x05 | (r << 3), ...le32(addr)];
/** MOV [disp32], r32. */
export const store32 = (addr: number, r: number): number[] => [0x89, 0x05 | (r << 3), ...le32(addr)];
/** MOV [disp32], r8 (AL..BH). */
export const store8 = (addr: number, r: number): number[] => [0x88, 0x05 | (r << 3), ...le32(addr)];
/** MOV [disp32], r16. */
export const store16 = (addr: number, r: number): number[] => [0x66, 0x89, 0x05 | (r << 3), ...le32(addr)];
/** MOV r32, [ESP + disp8]. */
export const loadEsp = (r: number, disp: number): number[] => [0x8b, 0x44 | (r << 3), 0x24, disp];
/** MOV [table + EDI*4], r32 (a log indexed by the hit count in EDI). */
export const logEdi = (table: number, r: number): number[] => [0x89, 0x04 | (r << 3), 0xbd, ...le32(table)];
/** OR dword [ESP + disp8], imm32. */
export const orEsp = (disp: number, v: number): number[] => [0x81, 0x4c, 0x24, disp, ...le32(v >>> 0)];
/** AND dword [ESP + disp8], imm32. */
export const andEsp = (disp: number, v: number): number[] => [0x81, 0x64, 0x24, disp, ...le32(v >>> 0)];
/** ADD dword [ESP + disp8], imm8 (sign-extended). */
export const addEsp8 = (disp: number, v: number): number[] => [0x83, 0x44, 0x24, disp, v & 0xff];
/** ADD ESP, imm8. */
export const addEspImm = (v: number): number[] => [0x83, 0xc4, v & 0xff];
export const INC = (r: number): number[] => [0x40 + r];
export const PUSH = (r: number): number[] => [0x50 + r];
export const POP = (r: number): number[] => [0x58 + r];
export const NOP = [0x90];
export const HLT = [0xf4];
export const IRETD = [0xcf];
export const PUSHFD = [0x9c];
export const POPFD = [0x9d];
export const CLI = [0xfa];
export const STI = [0xfb];
export const ICEBP = [0xf1];
export const UD2 = [0x0f, 0x0b];
export const SYSENTER = [0x0f, 0x34];
export const SYSEXIT = [0x0f, 0x35];
export const WRMSR = [0x0f, 0x30];
export const RDMSR = [0x0f, 0x32];
export const CPUID = [0x0f, 0xa2];
export const INT = (v: number): number[] => [0xcd, v];
/** OUT imm8, AL / IN AL, imm8 / OUT DX, AL / IN AL, DX / OUT DX, AX / OUT DX, EAX. */
export const outImm = (port: number): number[] => [0xe6, port];
export const inImm = (port: number): number[] => [0xe4, port];
export const OUT_DX_AL = [0xee];
export const IN_AL_DX = [0xec];
export const OUT_DX_AX = [0x66, 0xef];
export const OUT_DX_EAX = [0xef];
/** MOV r16 (AX..), imm16 under a 66 prefix. */
export const movImm16 = (r: number, v: number): number[] => [0x66, 0xb8 + r, v & 0xff, (v >> 8) & 0xff];
/** MOV Sreg, r16 (8E /r). */
export const movSreg = (sreg: number, r: number): number[] => [0x8e, 0xc0 | (sreg << 3) | r];
