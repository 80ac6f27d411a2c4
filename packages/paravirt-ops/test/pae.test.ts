/**
 * set_pte with PAE paging (8-byte entries): the trapped store, the PV batch with PV_PT_UPDATE_PAE
 * and a 4-byte store into one half of an entry all change the translation the same way.
 */
import { describe, expect, it } from 'vitest';
import { buildMachine, encodeList, HC, PageFault, Scratch, type TestMachine } from './helpers';

const PDPT = 0x1000;
const PD = 0x2000;
const PT = 0x3000;
const LIN = 0x400000; // PDPTE 0, PDE 2

function paeMachine(): TestMachine {
  const m = buildMachine({ vcpus: 1, setup: false });
  const w64 = (gpa: number, lo: number, hi = 0) => {
    const b = new Uint8Array(8);
    const v = new DataView(b.buffer);
    v.setUint32(0, lo >>> 0, true);
    v.setUint32(4, hi >>> 0, true);
    m.mmu.writePhys(gpa, b);
  };
  w64(PDPT, PD | 1);
  w64(PD + 16, PT | 3);
  for (let i = 0; i < 8; i++) w64(PT + 8 * i, ((0x10 + i) << 12) | 3);
  for (let f = 0x10; f < 0x30; f++) m.mmu.writePhys(f << 12, new Uint8Array([f, 0, 0, 0xf0]));
  const ops = m.top;
  if (!ops.cpu.writeCr(0, 4, 0x20)) throw new Error('cr4'); // PAE
  if (!ops.cpu.writeCr(0, 3, PDPT)) throw new Error('cr3');
  if (!ops.cpu.writeCr(0, 0, 0x80000001)) throw new Error('cr0');
  return m;
}

const frameAt = (m: TestMachine, lin: number) => {
  try {
    return m.mmu.read32(lin, 0) & 0xff;
  } catch (e) {
    if (e instanceof PageFault) return `#PF ${e.code}`;
    throw e;
  }
};

describe('PAE set_pte', () => {
  it('a trapped 8-byte store ≡ PT_UPDATE_BATCH with PV_PT_UPDATE_PAE', () => {
    const a = paeMachine();
    const b = paeMachine();
    for (let i = 0; i < 8; i++) expect(frameAt(a, LIN + i * 0x1000)).toBe(0x10 + i);
    expect(a.traps[0]!.pageTableWrite(PT + 8, (0x2a << 12) | 3, 0, 8)).toBe(0);
    expect(a.traps[0]!.pageTableWrite(PT + 16, 0, 0, 8)).toBe(0);
    const list = new Scratch(b.mmu).put(
      encodeList('pv_pte_update', [
        { pte_gpa: BigInt(PT + 8), value: BigInt((0x2a << 12) | 3) },
        { pte_gpa: BigInt(PT + 16), value: 0n },
      ]),
    );
    expect(b.hc[0]!.invoke(HC.PV_HC_PT_UPDATE_BATCH, list, 2, 0, 1)).toBe(2);
    for (let i = 0; i < 8; i++) expect(frameAt(b, LIN + i * 0x1000)).toEqual(frameAt(a, LIN + i * 0x1000));
    expect(frameAt(a, LIN + 0x1000)).toBe(0x2a);
    expect(frameAt(a, LIN + 0x2000)).toBe('#PF 0');
    // Without the PAE flag an entry with high bits is -EINVAL; a misaligned 8-byte entry -EFAULT.
    expect(b.top.mmu.setPte(0, PT + 4, 0, 0, 8)).toBe(-14);
    expect(b.top.mmu.setPte(0, PT, 0, 1, 4)).toBe(-22);
  });

  it('4-byte stores into either half of an 8-byte entry take effect (dependent translations dropped)', () => {
    const m = paeMachine();
    expect(frameAt(m, LIN)).toBe(0x10); // cached
    expect(m.top.mmu.setPte(0, PT, (0x2b << 12) | 3, 0, 4)).toBe(0); // low half
    expect(frameAt(m, LIN)).toBe(0x2b);
    // High half: a frame above 4 GiB (a hole: reads all-ones).
    expect(m.top.mmu.setPte(0, PT + 4, 1, 0, 4)).toBe(0);
    expect(m.mmu.read32(LIN, 0)).toBe(0xffffffff);
    expect(m.top.mmu.setPte(0, PT + 4, 0, 0, 4)).toBe(0);
    expect(frameAt(m, LIN)).toBe(0x2b);
  });

  it('an 8-byte store while 32-bit paging reads 4-byte entries stores two entries', () => {
    const m = buildMachine({ vcpus: 1 }); // 32-bit paging, PT_A at 0x2000
    expect(frameAt(m, LIN)).toBe(0x10);
    expect(frameAt(m, LIN + 0x1000)).toBe(0x11);
    expect(m.top.mmu.setPte(0, 0x2000, (0x2c << 12) | 3, (0x2d << 12) | 3, 8)).toBe(0);
    expect(frameAt(m, LIN)).toBe(0x2c);
    expect(frameAt(m, LIN + 0x1000)).toBe(0x2d);
  });
});
