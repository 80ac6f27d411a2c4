/* Compile-only check that a freestanding IA-32 guest can use every part of pv_hypercall.h. */
#include "pv_hypercall.h"

static struct pv_multicall_entry calls[2];
static struct pv_apic_write apic[2];
static struct pv_batch_status status;

int32_t use_header(void);
int32_t use_header(void)
{
	uint32_t sig_ok = PV_SIGNATURE_EBX ^ KVM_SIGNATURE_EBX;
	int32_t r = 0;

	apic[0].reg = 0xb0;
	apic[0].value = 0;
	apic[1].reg = 0x80;
	apic[1].value = 0x10;
	calls[0].nr = PV_HC_APIC_WRITE_BATCH;
	calls[0].args[0] = (uint32_t)(uintptr_t)apic;
	calls[0].args[1] = 2;
	calls[0].args[2] = (uint32_t)(uintptr_t)&status;
	calls[0].args[3] = 0;
	calls[1].nr = KVM_HC_SCHED_YIELD;
	calls[1].args[0] = 1;

	r += pv_hypercall0(PV_HC_BASE + 0x100);
	r += pv_hypercall1(KVM_HC_SCHED_YIELD, 0);
	r += pv_hypercall2(PV_HC_MULTICALL, (uint32_t)(uintptr_t)calls, 2);
	r += pv_hypercall3(PV_HC_TLB_FLUSH, 0, 0, PV_TLB_FLUSH_ALL | PV_TLB_FLUSH_GLOBAL);
	r += pv_hypercall4(KVM_HC_SEND_IPI, 1, 0, 0, 0x30);
	if (r == -KVM_ENOSYS || status.error == -KVM_EINVAL || status.failed_index == PV_BATCH_NO_FAILURE)
		return (int32_t)sig_ok;
	return r + (1 << KVM_FEATURE_PV_SEND_IPI) + (int32_t)(MSR_KVM_SYSTEM_TIME_NEW & 0xff);
}
