// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Register state of one thread (x86-64): general registers including fs/gs
// base, the FXSAVE area and the full XSAVE state.
//
// Registers are stored exactly as read at the interrupt stop. A thread frozen
// inside a system call shows orig_rax = the call's number and rax = -ERESTART*
// (-512 ERESTARTSYS, -513 ERESTARTNOINTR, -514 ERESTARTNOHAND, -516
// ERESTART_RESTARTBLOCK), rip just after the `syscall` instruction: the
// kernel would restart it on the way back to user space (see ThreadRecord).
// One exception: a thread inside restart_syscall (its call was interrupted and
// restarted before, e.g. by an earlier checkpoint that let it run on) gets
// the call behind it as orig_rax in the image when that can be told from its
// arguments (a relative clock_nanosleep, a futex wait with a timeout, a raw
// nanosleep, a poll with a timeout: the four calls with a restart block),
// since the restored thread has no restart block for restart_syscall to run.
#pragma once

#include "ptrace_inject.h"
#include "records.h"
#include "result.h"

#include <sys/user.h>

namespace cryopod::engine
{

// user_regs_struct <-> the image's X86Regs (same 27 registers, same order).
image::X86Regs toImageRegs(const user_regs_struct &regs);
user_regs_struct fromImageRegs(const image::X86Regs &regs);

// ---- dump

// Fills regs, fpregs and xstate of `thread` from a stopped tracee.
Result<void> dumpRegs(const Tracee &tracee, image::ThreadRecord &thread);

// ---- restore

// (restore engineer's part)
// The registers to resume with. A thread frozen inside a system call that the
// kernel would have restarted on its way back to user space (rax = -512
// ERESTARTSYS, -513 ERESTARTNOINTR, -514 ERESTARTNOHAND) gets rax = orig_rax
// and rip -= 2: the same `syscall` runs again with the same arguments, exactly
// what the kernel does when no handler runs. -516 ERESTART_RESTARTBLOCK
// (nanosleep, clock_nanosleep, poll, futex waits with a timeout) would need the
// kernel's restart block, which is gone with the old process: the original
// call is issued again the same way. An absolute sleep (TIMER_ABSTIME,
// FUTEX_WAIT_BITSET) thus ends when it should; a relative one (nanosleep,
// poll, FUTEX_WAIT) starts over with its full duration, which a program
// cannot tell from a late wakeup; none returns EINTR, none returns early.
user_regs_struct restartedRegs(const user_regs_struct &regs);

// Sets the FPU/SSE/AVX state (NT_X86_XSTATE when the image has it and its
// size matches this CPU's, else the FXSAVE area) and then the general
// registers (restartedRegs of the image's).
Result<void> restoreRegs(const Tracee &tracee, const image::ThreadRecord &thread);

} // namespace cryopod::engine
