/**
 * The one declarative opcode table (SDM Vol. 2 Appendix A, operand notation of §A.2): the
 * one-byte map, the two-byte (0F) map and the ModRM.reg groups of the P6 integer ISA. The decoder's
 * dispatch attributes (ModRM present, immediate kind, lockable, memory-only, undefined) are derived
 * from the operand strings at module load; nothing else describes the encoding.
 *
 * A spec is `"MNEMONIC op1,op2,op3"`, optionally suffixed `|L` (LOCK allowed on the memory form).
 * Operand notation: E ModRM r/m, G ModRM reg, M memory-only r/m, R register-only r/m, S segment
 * register, C/D control/debug register, I immediate, J relative offset, O moffs, A far pointer;
 * size letters b (byte), w (word), v/z (word or dword by operand size), p (far pointer), a (BOUND
 * pair), q (qword), s (pseudo-descriptor). `Zv`/`Zb` name the register in the opcode's low 3 bits.
 */

/** Decoder attribute bits, derived from the specs. */
export const F_MODRM = 1 << 0;
/** Immediate kind, bits 1..3 (IMM_*). */
export const F_IMM_SHIFT = 1;
export const F_IMM_MASK = 7 << F_IMM_SHIFT;
/** LOCK is allowed when the r/m operand is memory. */
export const F_LOCK = 1 << 4;
/** Undefined encoding: #UD. */
export const F_UD = 1 << 5;
/** The ModRM.reg field selects the spec (a group). */
export const F_GROUP = 1 << 6;
/** The r/m operand must be memory (#UD on mod = 3). */
export const F_MEM = 1 << 7;
/** A prefix byte. */
export const F_PREFIX = 1 << 8;
/** ModRM's mod field is ignored; r/m always names a register (MOV to/from CR/DR, SDM §A.2.1). */
export const F_REGONLY = 1 << 9;

export const IMM_NONE = 0;
export const IMM_B = 1;
export const IMM_W = 2;
/** Word or dword by operand size. */
export const IMM_Z = 3;
/** Far pointer: offset (operand size) then a 16-bit selector. */
export const IMM_AP = 4;
/** moffs: word or dword by address size. */
export const IMM_O = 5;
/** ENTER: Iw then Ib. */
export const IMM_WB = 6;

type Spec = string | null;

const ALU = ['ADD', 'OR', 'ADC', 'SBB', 'AND', 'SUB', 'XOR', 'CMP'];
const CC = ['O', 'NO', 'B', 'AE', 'E', 'NE', 'BE', 'A', 'S', 'NS', 'P', 'NP', 'L', 'GE', 'LE', 'G'];

function oneByteMap(): Spec[] {
  const m: Spec[] = new Array(256).fill(null);
  for (let i = 0; i < 8; i++) {
    const b = i << 3;
    const l = ALU[i] === 'CMP' ? '' : '|L';
    m[b] = `${ALU[i]} Eb,Gb${l}`;
    m[b + 1] = `${ALU[i]} Ev,Gv${l}`;
    m[b + 2] = `${ALU[i]} Gb,Eb`;
    m[b + 3] = `${ALU[i]} Gv,Ev`;
    m[b + 4] = `${ALU[i]} AL,Ib`;
    m[b + 5] = `${ALU[i]} eAX,Iz`;
  }
  Object.assign(m, {
    6: 'PUSH ES',
    7: 'POP ES',
    14: 'PUSH CS',
    22: 'PUSH SS',
    23: 'POP SS',
    30: 'PUSH DS',
    31: 'POP DS',
    38: 'PREFIX ES',
    39: 'DAA',
    46: 'PREFIX CS',
    47: 'DAS',
    54: 'PREFIX SS',
    55: 'AAA',
    62: 'PREFIX DS',
    63: 'AAS',
    96: 'PUSHA',
    97: 'POPA',
    98: 'BOUND Gv,Ma',
    99: 'ARPL Ew,Gw',
    100: 'PREFIX FS',
    101: 'PREFIX GS',
    102: 'PREFIX OPSIZE',
    103: 'PREFIX ADSIZE',
    104: 'PUSH Iz',
    105: 'IMUL Gv,Ev,Iz',
    106: 'PUSH Ib',
    107: 'IMUL Gv,Ev,Ib',
    108: 'INSB',
    109: 'INSW',
    110: 'OUTSB',
    111: 'OUTSW',
    128: 'GRP1 Eb,Ib',
    129: 'GRP1 Ev,Iz',
    130: 'GRP1 Eb,Ib',
    131: 'GRP1 Ev,Ib',
    132: 'TEST Eb,Gb',
    133: 'TEST Ev,Gv',
    134: 'XCHG Eb,Gb|L',
    135: 'XCHG Ev,Gv|L',
    136: 'MOV Eb,Gb',
    137: 'MOV Ev,Gv',
    138: 'MOV Gb,Eb',
    139: 'MOV Gv,Ev',
    140: 'MOV Ev,Sw',
    141: 'LEA Gv,M',
    142: 'MOV Sw,Ew',
    143: 'GRP1A Ev',
    144: 'NOP',
    152: 'CBW',
    153: 'CWD',
    154: 'CALLF Ap',
    155: 'FWAIT',
    156: 'PUSHF',
    157: 'POPF',
    158: 'SAHF',
    159: 'LAHF',
    160: 'MOV AL,Ob',
    161: 'MOV eAX,Ov',
    162: 'MOV Ob,AL',
    163: 'MOV Ov,eAX',
    164: 'MOVSB',
    165: 'MOVSW',
    166: 'CMPSB',
    167: 'CMPSW',
    168: 'TEST AL,Ib',
    169: 'TEST eAX,Iz',
    170: 'STOSB',
    171: 'STOSW',
    172: 'LODSB',
    173: 'LODSW',
    174: 'SCASB',
    175: 'SCASW',
    192: 'GRP2 Eb,Ib',
    193: 'GRP2 Ev,Ib',
    194: 'RETN Iw',
    195: 'RETN',
    196: 'LES Gz,Mp',
    197: 'LDS Gz,Mp',
    198: 'GRP11 Eb,Ib',
    199: 'GRP11 Ev,Iz',
    200: 'ENTER Iw,Ib',
    201: 'LEAVE',
    202: 'RETF Iw',
    203: 'RETF',
    204: 'INT3',
    205: 'INT Ib',
    206: 'INTO',
    207: 'IRET',
    208: 'GRP2 Eb,1',
    209: 'GRP2 Ev,1',
    210: 'GRP2 Eb,CL',
    211: 'GRP2 Ev,CL',
    212: 'AAM Ib',
    213: 'AAD Ib',
    214: 'SALC',
    215: 'XLAT',
    224: 'LOOPNE Jb',
    225: 'LOOPE Jb',
    226: 'LOOP Jb',
    227: 'JCXZ Jb',
    228: 'IN AL,Ib',
    229: 'IN eAX,Ib',
    230: 'OUT Ib,AL',
    231: 'OUT Ib,eAX',
    232: 'CALL Jz',
    233: 'JMP Jz',
    234: 'JMPF Ap',
    235: 'JMP Jb',
    236: 'IN AL,DX',
    237: 'IN eAX,DX',
    238: 'OUT DX,AL',
    239: 'OUT DX,eAX',
    240: 'PREFIX LOCK',
    241: 'INT1',
    242: 'PREFIX REPNE',
    243: 'PREFIX REP',
    244: 'HLT',
    245: 'CMC',
    246: 'GRP3 Eb',
    247: 'GRP3 Ev',
    248: 'CLC',
    249: 'STC',
    250: 'CLI',
    251: 'STI',
    252: 'CLD',
    253: 'STD',
    254: 'GRP4 Eb',
    255: 'GRP5 Ev',
  });
  for (let r = 0; r < 8; r++) {
    m[0x40 + r] = 'INC Zv';
    m[0x48 + r] = 'DEC Zv';
    m[0x50 + r] = 'PUSH Zv';
    m[0x58 + r] = 'POP Zv';
    if (r) m[0x90 + r] = 'XCHG Zv,eAX';
    m[0xb0 + r] = 'MOV Zb,Ib';
    m[0xb8 + r] = 'MOV Zv,Iz';
    m[0xd8 + r] = 'ESC Ev';
  }
  for (let c = 0; c < 16; c++) m[0x70 + c] = `J${CC[c]} Jb`;
  return m;
}

function twoByteMap(): Spec[] {
  const m: Spec[] = new Array(256).fill(null);
  Object.assign(m, {
    0: 'GRP6 Ew',
    1: 'GRP7 M',
    2: 'LAR Gv,Ew',
    3: 'LSL Gv,Ew',
    6: 'CLTS',
    8: 'INVD',
    9: 'WBINVD',
    11: 'UD2',
    32: 'MOV Rd,Cd',
    33: 'MOV Rd,Dd',
    34: 'MOV Cd,Rd',
    35: 'MOV Dd,Rd',
    48: 'WRMSR',
    49: 'RDTSC',
    50: 'RDMSR',
    51: 'RDPMC',
    52: 'SYSENTER',
    53: 'SYSEXIT',
    160: 'PUSH FS',
    161: 'POP FS',
    162: 'CPUID',
    163: 'BT Ev,Gv',
    164: 'SHLD Ev,Gv,Ib',
    165: 'SHLD Ev,Gv,CL',
    168: 'PUSH GS',
    169: 'POP GS',
    171: 'BTS Ev,Gv|L',
    172: 'SHRD Ev,Gv,Ib',
    173: 'SHRD Ev,Gv,CL',
    175: 'IMUL Gv,Ev',
    176: 'CMPXCHG Eb,Gb|L',
    177: 'CMPXCHG Ev,Gv|L',
    178: 'LSS Gz,Mp',
    179: 'BTR Ev,Gv|L',
    180: 'LFS Gz,Mp',
    181: 'LGS Gz,Mp',
    182: 'MOVZX Gv,Eb',
    183: 'MOVZX Gv,Ew',
    186: 'GRP8 Ev,Ib',
    187: 'BTC Ev,Gv|L',
    188: 'BSF Gv,Ev',
    189: 'BSR Gv,Ev',
    190: 'MOVSX Gv,Eb',
    191: 'MOVSX Gv,Ew',
    192: 'XADD Eb,Gb|L',
    193: 'XADD Ev,Gv|L',
    199: 'GRP9 M',
  });
  for (let c = 0; c < 16; c++) {
    m[0x40 + c] = `CMOV${CC[c]} Gv,Ev`;
    m[0x80 + c] = `J${CC[c]} Jz`;
    m[0x90 + c] = `SET${CC[c]} Eb`;
  }
  for (let r = 0; r < 8; r++) {
    m[0x18 + r] = 'NOP Ev';
    m[0xc8 + r] = 'BSWAP Zv';
  }
  return m;
}

/** ModRM.reg groups, keyed by map index (0x000..0x1FF; 0x100 | b for 0F b). */
const GROUPS: Record<number, Spec[]> = {
  128: ALU.map((n) => `${n} Eb,Ib${n === 'CMP' ? '' : '|L'}`),
  129: ALU.map((n) => `${n} Ev,Iz${n === 'CMP' ? '' : '|L'}`),
  130: ALU.map((n) => `${n} Eb,Ib${n === 'CMP' ? '' : '|L'}`),
  131: ALU.map((n) => `${n} Ev,Ib${n === 'CMP' ? '' : '|L'}`),
  143: ['POP Ev', null, null, null, null, null, null, null],
  192: [
    'ROL Eb,Ib',
    'ROR Eb,Ib',
    'RCL Eb,Ib',
    'RCR Eb,Ib',
    'SHL Eb,Ib',
    'SHR Eb,Ib',
    'SAL Eb,Ib',
    'SAR Eb,Ib',
  ],
  193: [
    'ROL Ev,Ib',
    'ROR Ev,Ib',
    'RCL Ev,Ib',
    'RCR Ev,Ib',
    'SHL Ev,Ib',
    'SHR Ev,Ib',
    'SAL Ev,Ib',
    'SAR Ev,Ib',
  ],
  198: ['MOV Eb,Ib', null, null, null, null, null, null, null],
  199: ['MOV Ev,Iz', null, null, null, null, null, null, null],
  208: ['ROL Eb,1', 'ROR Eb,1', 'RCL Eb,1', 'RCR Eb,1', 'SHL Eb,1', 'SHR Eb,1', 'SAL Eb,1', 'SAR Eb,1'],
  209: ['ROL Ev,1', 'ROR Ev,1', 'RCL Ev,1', 'RCR Ev,1', 'SHL Ev,1', 'SHR Ev,1', 'SAL Ev,1', 'SAR Ev,1'],
  210: [
    'ROL Eb,CL',
    'ROR Eb,CL',
    'RCL Eb,CL',
    'RCR Eb,CL',
    'SHL Eb,CL',
    'SHR Eb,CL',
    'SAL Eb,CL',
    'SAR Eb,CL',
  ],
  211: [
    'ROL Ev,CL',
    'ROR Ev,CL',
    'RCL Ev,CL',
    'RCR Ev,CL',
    'SHL Ev,CL',
    'SHR Ev,CL',
    'SAL Ev,CL',
    'SAR Ev,CL',
  ],
  246: ['TEST Eb,Ib', 'TEST Eb,Ib', 'NOT Eb|L', 'NEG Eb|L', 'MUL Eb', 'IMUL Eb', 'DIV Eb', 'IDIV Eb'],
  247: ['TEST Ev,Iz', 'TEST Ev,Iz', 'NOT Ev|L', 'NEG Ev|L', 'MUL Ev', 'IMUL Ev', 'DIV Ev', 'IDIV Ev'],
  254: ['INC Eb|L', 'DEC Eb|L', null, null, null, null, null, null],
  255: ['INC Ev|L', 'DEC Ev|L', 'CALL Ev', 'CALLF Mp', 'JMP Ev', 'JMPF Mp', 'PUSH Ev', null],
  256: ['SLDT Ew', 'STR Ew', 'LLDT Ew', 'LTR Ew', 'VERR Ew', 'VERW Ew', null, null],
  // Group 7's register forms (VMCALL 0F 01 C1, VMMCALL 0F 01 D9) are decoded by the executor.
  257: ['SGDT Ms', 'SIDT Ms', 'LGDT Ms', 'LIDT Ms', 'SMSW Ew', null, 'LMSW Ew', 'INVLPG M'],
  442: [null, null, null, null, 'BT Ev,Ib', 'BTS Ev,Ib|L', 'BTR Ev,Ib|L', 'BTC Ev,Ib|L'],
  455: [null, 'CMPXCHG8B Mq|L', null, null, null, null, null, null],
};

/** Group 7 forms valid with mod = 3 (decoded from ModRM.rm by the executor). */
const GROUP7_REG_FORMS: Record<number, string> = { 0: 'VMCALL', 3: 'VMMCALL', 4: 'SMSW Ew', 6: 'LMSW Ew' };

/** Derives the decoder attributes of one spec. */
function attributes(spec: Spec): number {
  if (spec === null) return F_UD;
  const [body, suffix] = spec.split('|');
  const [mnemonic, operandList = ''] = body!.split(' ');
  if (mnemonic === 'PREFIX') return F_PREFIX;
  let f = suffix === 'L' ? F_LOCK : 0;
  let imm = IMM_NONE;
  const operands = operandList ? operandList.split(',') : [];
  for (const o of operands) {
    // An addressing form is one capital (the method) and a lowercase size: Eb, Gv, Iz, Mp, Sw…
    // Register operands (AL, eAX, DX, ES) and opcode-encoded registers (Zv) need no encoding bytes.
    if (!/^[A-Z][a-z]*$/.test(o) || o[0] === 'Z') continue;
    const k = o[0];
    if (k === 'E' || k === 'G' || k === 'S' || k === 'C' || k === 'D') f |= F_MODRM;
    else if (k === 'M') f |= F_MODRM | F_MEM;
    else if (k === 'R') f |= F_MODRM | F_REGONLY;
    else if (k === 'I') imm = imm === IMM_W ? IMM_WB : o === 'Ib' ? IMM_B : o === 'Iw' ? IMM_W : IMM_Z;
    else if (k === 'J') imm = o === 'Jb' ? IMM_B : IMM_Z;
    else if (k === 'O') imm = IMM_O;
    else if (k === 'A') imm = IMM_AP;
  }
  if (mnemonic!.startsWith('GRP')) f |= F_GROUP | F_MODRM;
  return f | (imm << F_IMM_SHIFT);
}

const ONE = oneByteMap();
const TWO = twoByteMap();

/** Attributes of each map index (0x000..0x0FF one-byte, 0x100..0x1FF two-byte). */
export const OPCODE_FLAGS = new Uint16Array(512);
/** Attributes per group member: index (map index << 3) | ModRM.reg; 0 for non-group opcodes. */
export const GROUP_FLAGS = new Uint16Array(512 * 8);

for (let i = 0; i < 256; i++) {
  OPCODE_FLAGS[i] = attributes(ONE[i]!);
  OPCODE_FLAGS[0x100 | i] = attributes(TWO[i]!);
}
for (const [key, specs] of Object.entries(GROUPS)) {
  const op = Number(key);
  for (let reg = 0; reg < 8; reg++) GROUP_FLAGS[(op << 3) | reg] = attributes(specs[reg]!) | F_MODRM;
}
// 0F 01 /0 and /3 with mod = 3 are VMCALL/VMMCALL (told apart from ModRM.rm by the executor).
GROUP_FLAGS[(0x101 << 3) | 0] = F_MODRM;
GROUP_FLAGS[(0x101 << 3) | 3] = F_MODRM;

/** The SDM-notation spec of a map index (with ModRM for groups), for disassembly and reports. */
export function opcodeSpec(op: number, modrm = 0): string {
  const spec = op < 0x100 ? ONE[op] : TWO[op & 0xff];
  if (spec === null || spec === undefined) return '(bad)';
  const group = GROUPS[op];
  if (!group) return spec;
  const reg = (modrm >> 3) & 7;
  if (op === 0x101 && modrm >= 0xc0) return GROUP7_REG_FORMS[reg] ?? '(bad)';
  return group[reg] ?? '(bad)';
}

/** The mnemonic of a map index (first word of its spec). */
export function opcodeMnemonic(op: number, modrm = 0): string {
  return opcodeSpec(op, modrm).split(/[ |]/)[0]!;
}
