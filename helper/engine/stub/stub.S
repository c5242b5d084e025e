// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopod-restore-stub: the body a restored process starts from. The restorer
// execs it under ptrace (PTRACE_O_TRACEEXEC) and never lets it run: at the
// exec stop rip is _start, and the restorer injects system calls through the
// `syscall` instruction at _start + 5 (it checks the bytes 0f 05 there), then
// replaces the whole address space. If it ever runs on its own (started by
// hand, or the tracer died before the exec stop), it only waits in pause()
// and exits when a signal ends the wait.
        .text
        .globl  _start
        .type   _start, @function
_start:
        movl    $34, %eax               // 5 bytes: SYS_pause
        syscall                         // _start + 5: 0f 05
        movl    $60, %eax               // SYS_exit
        movl    $111, %edi
        syscall
        hlt
        .size   _start, . - _start

        .section .note.GNU-stack, "", @progbits
