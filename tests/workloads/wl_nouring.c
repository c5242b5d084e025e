// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// An LD_PRELOAD library for the node workload: io_uring_setup() fails with
// ENOSYS, everything else goes to libc's syscall().
//
// Why: libuv (1.49 and later, Debian 13's 1.50, which node uses) makes one
// io_uring per event loop to batch epoll_ctl calls, also with
// UV_USE_IO_URING=0 (that switch only turns off its SQPOLL ring for file
// operations). The engine refuses io_uring instances (their rings are kernel
// state), so an unmodified node is not checkpointable. When io_uring_setup
// fails libuv falls back to plain epoll_ctl, which the engine supports.
// libuv calls io_uring_setup through syscall(3), which this interposes.
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <sys/syscall.h>

// Exported although the build hides symbols by default.
__attribute__((visibility("default"))) long syscall(long number, ...)
{
    static long (*real)(long, ...);
    va_list ap;
    va_start(ap, number);
    long a[6];
    for (int i = 0; i < 6; ++i) {
        a[i] = va_arg(ap, long);
    }
    va_end(ap);
    if (number == SYS_io_uring_setup) {
        errno = ENOSYS;
        return -1;
    }
    if (!real) {
        real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
    }
    return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}
