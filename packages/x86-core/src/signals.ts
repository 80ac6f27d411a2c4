/** Run-loop signalling shared by the CPU and the instruction semantics. */

/** The value thrown to unwind an instruction that raised a guest exception (never escapes run()). */
export const GUEST_FAULT = { guestFault: true } as const;

/** Pending-exit codes inside the run loop (index into EXIT_REASONS). */
export const STOP_NONE = 0;
export const STOP_HLT = 1;
export const STOP_SHUTDOWN = 2;
export const STOP_STOP = 3;
export const STOP_BREAKPOINT = 4;
export const EXIT_REASONS = ['budget', 'hlt', 'shutdown', 'stop', 'breakpoint'] as const;
