/**
 * Structure codecs derived from the manifest (never hand-written layouts): encode/decode every
 * guest-memory structure from/to a DataView, plus the field offsets the dispatcher's hot path uses.
 */
import { HypercallError } from './errors';
import type { GuestPhysMemory } from './guest-memory';
import { MANIFEST } from './manifest';
import type { FieldDef, ScalarType, StructDef } from './manifest-types';

/** Byte size of each scalar type. */
export const SCALAR_SIZE: Readonly<Record<ScalarType, number>> = {
  u8: 1,
  s8: 1,
  u16: 2,
  s16: 2,
  u32: 4,
  s32: 4,
  u64: 8,
  s64: 8,
};

type Scalar<T extends ScalarType> = T extends 'u64' | 's64' ? bigint : number;
type FieldValue<F extends FieldDef> = F extends { count: number } ? Scalar<F['type']>[] : Scalar<F['type']>;

/** The decoded value of a structure: one property per field (64-bit fields as bigint, arrays as arrays). */
export type StructValue<S extends StructDef> = {
  -readonly [F in S['fields'][number] as F['name']]: FieldValue<F>;
};

/** A codec for one structure. */
export interface StructCodec<S extends StructDef = StructDef> {
  readonly def: S;
  readonly size: number;
  readonly align: number;
  /** Byte offset of each field. */
  readonly offsets: { readonly [F in S['fields'][number] as F['name']]: number };
  decode(view: DataView, byteOffset?: number): StructValue<S>;
  encode(view: DataView, value: StructValue<S>, byteOffset?: number): void;
  /** Read and decode one record at `gpa` (the caller has validated the range). */
  read(memory: GuestPhysMemory, gpa: number): StructValue<S>;
  /** Encode and write one record at `gpa` (the caller has validated the range). */
  write(memory: GuestPhysMemory, gpa: number, value: StructValue<S>): void;
}

const RANGE: Record<ScalarType, [bigint, bigint]> = {
  u8: [0n, 0xffn],
  s8: [-0x80n, 0x7fn],
  u16: [0n, 0xffffn],
  s16: [-0x8000n, 0x7fffn],
  u32: [0n, 0xffffffffn],
  s32: [-0x80000000n, 0x7fffffffn],
  u64: [0n, 0xffffffffffffffffn],
  s64: [-0x8000000000000000n, 0x7fffffffffffffffn],
};

function getScalar(view: DataView, off: number, type: ScalarType): number | bigint {
  switch (type) {
    case 'u8':
      return view.getUint8(off);
    case 's8':
      return view.getInt8(off);
    case 'u16':
      return view.getUint16(off, true);
    case 's16':
      return view.getInt16(off, true);
    case 'u32':
      return view.getUint32(off, true);
    case 's32':
      return view.getInt32(off, true);
    case 'u64':
      return view.getBigUint64(off, true);
    case 's64':
      return view.getBigInt64(off, true);
  }
}

function setScalar(view: DataView, off: number, type: ScalarType, v: number | bigint, where: string): void {
  const is64 = type === 'u64' || type === 's64';
  if (is64 ? typeof v !== 'bigint' : typeof v !== 'number' || !Number.isInteger(v)) {
    throw new HypercallError(
      'INVALID_VALUE',
      `${where}: expected ${is64 ? 'a bigint' : 'an integer'}, got ${String(v)}`,
    );
  }
  const [lo, hi] = RANGE[type];
  const b = BigInt(v);
  if (b < lo || b > hi)
    throw new HypercallError('INVALID_VALUE', `${where}: ${String(v)} does not fit ${type}`);
  switch (type) {
    case 'u8':
      view.setUint8(off, v as number);
      return;
    case 's8':
      view.setInt8(off, v as number);
      return;
    case 'u16':
      view.setUint16(off, v as number, true);
      return;
    case 's16':
      view.setInt16(off, v as number, true);
      return;
    case 'u32':
      view.setUint32(off, v as number, true);
      return;
    case 's32':
      view.setInt32(off, v as number, true);
      return;
    case 'u64':
      view.setBigUint64(off, v as bigint, true);
      return;
    case 's64':
      view.setBigInt64(off, v as bigint, true);
      return;
  }
}

/** Build the codec of a structure definition. */
export function structCodec<S extends StructDef>(def: S): StructCodec<S> {
  const offsets: Record<string, number> = {};
  for (const f of def.fields) offsets[f.name] = f.offset;
  const check = (view: DataView, at: number, what: string) => {
    if (!Number.isInteger(at) || at < 0 || at + def.size > view.byteLength) {
      throw new HypercallError(
        'OUT_OF_RANGE',
        `${what} ${def.name}: ${def.size} bytes at offset ${at} do not fit a view of ${view.byteLength} bytes`,
      );
    }
  };
  const codec: StructCodec<S> = {
    def,
    size: def.size,
    align: def.align,
    offsets: offsets as StructCodec<S>['offsets'],
    decode(view, at = 0) {
      check(view, at, 'decode');
      const out: Record<string, unknown> = {};
      for (const f of def.fields) {
        const n = SCALAR_SIZE[f.type];
        if (f.count === undefined) out[f.name] = getScalar(view, at + f.offset, f.type);
        else
          out[f.name] = Array.from({ length: f.count }, (_, i) =>
            getScalar(view, at + f.offset + i * n, f.type),
          );
      }
      return out as StructValue<S>;
    },
    encode(view, value, at = 0) {
      check(view, at, 'encode');
      const v = value as Record<string, unknown>;
      for (const f of def.fields) {
        const where = `${def.name}.${f.name}`;
        const n = SCALAR_SIZE[f.type];
        const fv = v[f.name];
        if (f.count === undefined) {
          setScalar(view, at + f.offset, f.type, fv as number | bigint, where);
        } else {
          if (!Array.isArray(fv) || fv.length !== f.count) {
            throw new HypercallError('INVALID_VALUE', `${where}: expected an array of ${f.count} ${f.type}`);
          }
          fv.forEach((x, i) => {
            setScalar(view, at + f.offset + i * n, f.type, x, `${where}[${i}]`);
          });
        }
      }
    },
    read(memory, gpa) {
      const bytes = new Uint8Array(def.size);
      memory.read(gpa, bytes, 0, def.size);
      return codec.decode(new DataView(bytes.buffer));
    },
    write(memory, gpa, value) {
      const bytes = new Uint8Array(def.size);
      codec.encode(new DataView(bytes.buffer), value);
      memory.write(gpa, bytes, 0, def.size);
    },
  };
  return codec;
}

type Structs = typeof MANIFEST.structs;
type StructByName = { [S in Structs[number] as S['name']]: S };

/** A codec for every structure of the manifest, by structure name. */
export const CODECS: { readonly [K in keyof StructByName]: StructCodec<StructByName[K]> } =
  Object.fromEntries(MANIFEST.structs.map((s) => [s.name, structCodec(s)])) as never;

/** Decoded values of the manifest's structures, by name (e.g. `StructOf<'pvclock_vcpu_time_info'>`). */
export type StructOf<K extends keyof StructByName> = StructValue<StructByName[K]>;
