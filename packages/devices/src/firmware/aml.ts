/**
 * The few AML encodings the DSDT needs (ACPI 6.5 §20.2): names, packages of integers and
 * PkgLength. Enough for `Name (\_S5, Package (4) { … })`, which tells the OS the SLP_TYP value
 * of soft-off.
 */

/** AML opcodes and prefixes. */
export const AML_ZERO_OP = 0x00;
export const AML_ONE_OP = 0x01;
export const AML_NAME_OP = 0x08;
export const AML_BYTE_PREFIX = 0x0a;
export const AML_WORD_PREFIX = 0x0b;
export const AML_DWORD_PREFIX = 0x0c;
export const AML_PACKAGE_OP = 0x12;
export const AML_ROOT_CHAR = 0x5c;
export const AML_SCOPE_OP = 0x10;
export const AML_EXT_OP_PREFIX = 0x5b;
export const AML_DEVICE_OP = 0x82; // after AML_EXT_OP_PREFIX

/** PkgLength (§20.2.4): the length includes the PkgLength bytes themselves. */
export function amlPkgLength(contentLength: number): number[] {
  for (let n = 1; n <= 4; n++) {
    const total = contentLength + n;
    if (n === 1 && total < 0x40) return [total];
    if (n > 1 && total < 2 ** (4 + 8 * (n - 1))) {
      const out = [((n - 1) << 6) | (total & 0x0f)];
      for (let i = 1; i < n; i++) out.push((total >> (4 + 8 * (i - 1))) & 0xff);
      return out;
    }
  }
  throw new RangeError(`AML package of ${contentLength} bytes is too long`);
}

/** The shortest integer encoding (§20.2.3 ComputationalData). */
export function amlInteger(v: number): number[] {
  if (v === 0) return [AML_ZERO_OP];
  if (v === 1) return [AML_ONE_OP];
  if (v <= 0xff) return [AML_BYTE_PREFIX, v];
  if (v <= 0xffff) return [AML_WORD_PREFIX, v & 0xff, v >> 8];
  return [AML_DWORD_PREFIX, v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff, (v >>> 24) & 0xff];
}

/** A 4-character NameSeg, padded with '_'. */
export function amlNameSeg(name: string): number[] {
  const s = name.padEnd(4, '_');
  return Array.from(s, (c) => c.charCodeAt(0));
}

/** `Name (\NAME, Package (n) { ints… })`. */
export function amlNamePackage(rootName: string, ints: number[]): number[] {
  const body = [ints.length, ...ints.flatMap(amlInteger)];
  return [
    AML_NAME_OP,
    AML_ROOT_CHAR,
    ...amlNameSeg(rootName),
    AML_PACKAGE_OP,
    ...amlPkgLength(body.length),
    ...body,
  ];
}

/** `Name (NAME, integer)` with a relative NameSeg. */
export function amlNameInteger(name: string, v: number): number[] {
  return [AML_NAME_OP, ...amlNameSeg(name), ...amlInteger(v)];
}

/** Compressed EISA ID (§19.6.35 EISAID): "PNP0A03" → 0x030ad041. */
export function amlEisaId(id: string): number {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`bad EISA ID ${id}`);
  const c = (i: number) => id.charCodeAt(i) - 0x40;
  const vendor = (c(0) << 10) | (c(1) << 5) | c(2);
  const product = Number.parseInt(id.slice(3), 16);
  // Stored big-endian within the dword: vendor high byte first, then product.
  const b = [vendor >> 8, vendor & 0xff, product >> 8, product & 0xff];
  return (b[0]! | (b[1]! << 8) | (b[2]! << 16) | (b[3]! << 24)) >>> 0;
}

/** `Name (NAME, EisaId ("..."))`: always a DWordConst, as iasl emits it. */
export function amlNameEisaId(name: string, id: string): number[] {
  const v = amlEisaId(id);
  return [
    AML_NAME_OP,
    ...amlNameSeg(name),
    AML_DWORD_PREFIX,
    v & 0xff,
    (v >> 8) & 0xff,
    (v >> 16) & 0xff,
    v >>> 24,
  ];
}

/** `Device (NAME) { body }`. */
export function amlDevice(name: string, body: number[]): number[] {
  const content = [...amlNameSeg(name), ...body];
  return [AML_EXT_OP_PREFIX, AML_DEVICE_OP, ...amlPkgLength(content.length), ...content];
}

/** `Scope (\NAME) { body }`. */
export function amlRootScope(name: string, body: number[]): number[] {
  const content = [AML_ROOT_CHAR, ...amlNameSeg(name), ...body];
  return [AML_SCOPE_OP, ...amlPkgLength(content.length), ...content];
}
