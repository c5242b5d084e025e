// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// rseq: glibc registers a struct rseq for every thread (__rseq_offset from
// the thread pointer, __rseq_size), and the kernel keeps its cpu_id fields
// current; glibc's sched_getcpu() reads them. After go: the kernel still
// updates the area (a sentinel written into cpu_id_start and cpu_id is
// overwritten after a signal and a sleep), sched_getcpu() answers a real cpu,
// and a second registration of the same area, length and signature fails
// with EBUSY, i.e. exactly that registration is in place.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RSEQ_SIG
#define RSEQ_SIG 0x53053053
#endif

static volatile uint64_t s_sink;

static volatile struct rseq *area(void)
{
    return (volatile struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

static void onSignal(int sig)
{
    (void)sig;
    s_sink++;
}

// True when the kernel overwrites a sentinel in cpu_id_start and cpu_id
// (it does on the way back to user space after a signal or a reschedule,
// for a registered area only).
static bool kernelUpdates(void)
{
    volatile struct rseq *r = area();
    const uint32_t sentinel = 1000000u + (uint32_t)(wl_seed() & 0xffff);
    r->cpu_id_start = sentinel;
    r->cpu_id = sentinel;
    for (int i = 0; i < 50; ++i) {
        raise(SIGUSR1);
        wl_sleep_ms(2);
        if (r->cpu_id_start != sentinel && r->cpu_id != sentinel) {
            return true;
        }
    }
    return false;
}

// The lengths glibc may have registered with: 32 (the original struct) or
// its feature size rounded up to 32 bytes.
static const unsigned *lengths(void)
{
    static unsigned l[3];
    l[0] = 32;
    l[1] = (__rseq_size + 31) & ~31u;
    l[2] = __rseq_size;
    return l;
}

// -errno of registering the same area again with `len` (EBUSY: already
// registered just like that; EINVAL: another area or length).
static int registerAgain(unsigned len)
{
    long r = syscall(SYS_rseq, area(), len, 0, RSEQ_SIG);
    return r == 0 ? 0 : -errno;
}

static void sabotage(void)
{
    for (int i = 0; i < 3; ++i) {
        if (syscall(SYS_rseq, area(), lengths()[i], 1 /* RSEQ_FLAG_UNREGISTER */, RSEQ_SIG) == 0) {
            return;
        }
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "rseq");
    struct sigaction sa = {0};
    sa.sa_handler = onSignal;
    sigaction(SIGUSR1, &sa, NULL);
    if (__rseq_size == 0) {
        wl_die("glibc did not register rseq (__rseq_size 0; glibc.pthread.rseq=0?)");
    }
    if (!kernelUpdates()) {
        wl_die("the kernel does not update the rseq area even before the checkpoint");
    }

    wl_run(NULL, sabotage, 50);

    const bool updates = kernelUpdates();
    wl_check(updates, "the kernel no longer updates the rseq area at %p (cpu_id_start %u, cpu_id %u still the sentinel): not registered", (void *)area(),
             area()->cpu_id_start, area()->cpu_id);
    const int cpu = sched_getcpu();
    const long cpus = sysconf(_SC_NPROCESSORS_CONF);
    wl_check(cpu >= 0 && cpu < cpus, "sched_getcpu() answers %d with %ld cpus", cpu, cpus);
    bool busy = false;
    for (int i = 0; i < 3 && !busy; ++i) {
        const int r = registerAgain(lengths()[i]);
        busy = r == -EBUSY;
        if (r == 0) {
            wl_fail("registering the area again with length %u succeeded: nothing was registered", lengths()[i]);
            break;
        }
    }
    wl_check(busy, "the area at %p is not the registered one (no length gives EBUSY)", (void *)area());
    return wl_finish();
}
