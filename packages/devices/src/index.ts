export type { DevicesErrorCode } from './errors';
export { DevicesError } from './errors';
export type { PlatformConfig, ResolvedPlatform } from './firmware/config';
export { resolvePlatform } from './firmware/config';
export type { E820Entry, E820Options } from './firmware/e820';
export {
  buildE820Map,
  E820_ACPI,
  E820_NVS,
  E820_RAM,
  E820_RESERVED,
  E820_UNUSABLE,
  encodeE820,
  encodeMultibootMmap,
  multibootMemInfo,
  validateE820,
} from './firmware/e820';
export type { FwCfgBlob, FwCfgDmaMemory, FwCfgFileInfo, FwCfgOptions } from './firmware/fw-cfg';
export { FW_CFG_E820_FILE, FW_CFG_FILE_FIRST, FwCfg } from './firmware/fw-cfg';
export type { GuestMemoryTarget } from './firmware/guest-memory';
export {
  ACPI_PM_BASE,
  ACPI_SCI_IRQ,
  ACPI_SMI_CMD_PORT,
  BIOS_AREA_END,
  BIOS_AREA_START,
  BIOS_ROM_START,
  DEBUG_EXIT_PORT,
  DEBUG_EXIT_SIZE,
  DEBUGCON_PORT,
  DELAY_PORT_ED,
  EBDA_START,
  EXTENDED_MEMORY_START,
  FW_CFG_DATA_PORT,
  FW_CFG_DMA_PORT,
  FW_CFG_PORT,
  HPET_BASE,
  HPET_SIZE,
  I8042_COMMAND_PORT,
  I8042_DATA_PORT,
  IOAPIC_BASE,
  IOAPIC_SIZE,
  LAPIC_BASE,
  LEGACY_HOLE_START,
  PCI_CONFIG_ADDRESS_PORT,
  PCI_CONFIG_DATA_PORT,
  PORT92,
  POST_PORT,
  POST_PORT_190,
  RESET_CONTROL_PORT,
} from './firmware/platform';
export type { FirmwareLayout } from './firmware/tables';
export { platformE820, writeFirmwareTables } from './firmware/tables';
export type { IoApicCounters, IoApicMessage, IoApicOptions, IoApicState } from './ioapic/ioapic';
export { IoApic } from './ioapic/ioapic';
export {
  IOAPIC_DEFAULT_BASE,
  IOAPIC_DELMODE_EXTINT,
  IOAPIC_DELMODE_FIXED,
  IOAPIC_DELMODE_INIT,
  IOAPIC_DELMODE_LOWEST,
  IOAPIC_DELMODE_NMI,
  IOAPIC_DELMODE_SMI,
  IOAPIC_MMIO_SIZE,
  IOAPIC_NUM_PINS,
} from './ioapic/registers';
export type { PciBar, PciFunctionOptions } from './pci/function';
export { PciFunction } from './pci/function';
export type { BytePortDevice, PciHostOptions } from './pci/host';
export { PciBus, PciHost } from './pci/host';
export { createI440fxHostBridge } from './pci/i440fx';
export type { PicCounters, PicOptions, PicState } from './pic/pic-pair';
export { Pic8259Pair } from './pic/pic-pair';
export type { Pic8259ChipState, Pic8259Counters } from './pic/pic8259';
export { ELCR_MASTER_PORT, ELCR_SLAVE_PORT } from './pic/registers';
export type { PitChannelState, PitCounters, PitOptions, PitState } from './pit/pit8254';
export { Pit8254 } from './pit/pit8254';
export { PIT_HZ } from './pit/registers';
export type { ByteDevice, PortBusOptions, PortDevice, PortRegion, PortSize } from './portbus';
export { PortBus } from './portbus';
export type { RtcCounters, RtcOptions, RtcState } from './rtc/rtc';
export { Rtc } from './rtc/rtc';
export type { AcpiPmOptions, AcpiPmState } from './system/acpi-pm';
export {
  ACPI_DISABLE_VALUE,
  ACPI_ENABLE_VALUE,
  ACPI_PM_SIZE,
  ACPI_PM_TIMER_FREQUENCY,
  ACPI_PM_TMR,
  ACPI_PM1_CNT,
  ACPI_PM1_EN,
  ACPI_PM1_STS,
  ACPI_SLP_TYP_S5,
  AcpiPm,
} from './system/acpi-pm';
export { DebugConsole } from './system/debug-console';
export { DebugExit, debugExitStatus } from './system/debug-exit';
export type { ResetKind, SystemEvents } from './system/events';
export type { HpetOptions, HpetState, HpetStats } from './system/hpet';
export { HPET_FREQUENCY, Hpet, hpetBlockId } from './system/hpet';
export type { I8042Options, I8042State, I8042Stats } from './system/i8042';
export { I8042, I8042_DATA, I8042_STATUS } from './system/i8042';
export { Port92 } from './system/port92';
export type { PostPortOptions } from './system/post';
export { PostPort } from './system/post';
export { ResetControl } from './system/reset-control';
export { UART_BASE_BAUD, UART_FIFO_SIZE } from './uart/registers';
export type { UartCounters, UartEvents, UartOptions, UartRxError, UartState } from './uart/uart16550';
export { Uart16550 } from './uart/uart16550';
export { VERSION } from './version';
