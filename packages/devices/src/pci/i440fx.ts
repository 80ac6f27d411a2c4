/**
 * The Intel 82441FX PCI and Memory Controller (PMC) of the 440FX chipset as the host bridge at
 * 00:00.0 — what QEMU's `pc` machine exposes (`hw/pci-host/i440fx.c`): 8086:1237, revision 2,
 * class 0x060000 (host bridge), header type 0. Reset values of PCICMD (0x0006) and PCISTS (0x0280)
 * follow the 82441FX datasheet §3.2. The chipset registers (PAM0–6 at 0x59–0x5f, SMRAM at 0x72,
 * DRB at 0x60–0x67) are stored so firmware can program them, but have no effect: memory routing
 * of the legacy ranges is the composer's concern.
 */
import {
  PCI_COMMAND_MASTER,
  PCI_COMMAND_MEMORY,
  PCI_STATUS_DEVSEL_MEDIUM,
  PCI_STATUS_FAST_BACK,
  PciFunction,
} from './function';

export const PCI_VENDOR_ID_INTEL = 0x8086;
/** 82441FX PMC. */
export const PCI_DEVICE_ID_INTEL_82441 = 0x1237;
/** Class code of a host bridge (base class 0x06, subclass 0x00). */
export const PCI_CLASS_BRIDGE_HOST = 0x060000;
/** 82441FX revision as QEMU reports it. */
export const I440FX_REVISION = 0x02;

/** Programmable Attribute Map registers (82441FX §3.2.19). */
export const I440FX_PAM0 = 0x59;
export const I440FX_PAM_COUNT = 7;
/** DRAM Row Boundary registers. */
export const I440FX_DRB0 = 0x60;
/** System Management RAM control. */
export const I440FX_SMRAM = 0x72;

/** Create the 00:00.0 host bridge function. */
export function createI440fxHostBridge(): PciFunction {
  const f = new PciFunction({
    vendorId: PCI_VENDOR_ID_INTEL,
    deviceId: PCI_DEVICE_ID_INTEL_82441,
    classCode: PCI_CLASS_BRIDGE_HOST,
    revision: I440FX_REVISION,
    command: PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER,
    status: PCI_STATUS_FAST_BACK | PCI_STATUS_DEVSEL_MEDIUM,
  });
  f.setWritable(I440FX_PAM0, I440FX_PAM_COUNT);
  f.setWritable(I440FX_DRB0, 8);
  f.setWritable(I440FX_SMRAM, 1);
  return f;
}
