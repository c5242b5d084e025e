// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A multi-threaded process: the main thread and 12 others, each in a
// different situation when the checkpoint lands:
//   cpu0, cpu1    CPU-bound asm loops with register invariants (rbx, rdx,
//                 r12-r14) and SSE state (xmm8-xmm11: packed integers and a
//                 double) checked every iteration or against closed forms;
//                 each with its own MXCSR rounding mode
//   cond0, cond1  in pthread_cond_wait (futex wait) for a generation that
//                 only the main thread bumps after go
//   mtx0, mtx1    contending for one mutex, each sleeping 2 ms while holding
//                 it: a shared counter must equal the sum of their own
//   blocked       in pthread_mutex_lock of a mutex the main thread holds
//                 until go
//   sleeper       in 200 ms relative nanosleep() chunks: no EINTR, no early
//                 return
//   joiner        in pthread_join of joinee (futex wait on its tid, which the
//                 kernel clears through clear_child_tid when joinee exits)
//   joinee        polls go, then returns a seeded value
//   pi            in pthread_mutex_lock of a priority-inheritance mutex the
//                 main thread holds until go (FUTEX_LOCK_PI)
//   sig           SIGUSR1 (tgkill) and SIGRTMIN+3 (sigqueue, with a payload)
//                 pending for it alone, both blocked in it
// Every thread also holds, and checks itself after go: its tid (the one the
// kernel gave it before the checkpoint), __thread variables with seeded
// values, its name (PR_SET_NAME), its own blocked-signal mask, its robust
// futex list head (get_robust_list) and its rseq registration (the kernel
// overwrites a sentinel in cpu_id_start after a sleep).
// Sabotage: the main thread renames cond0.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <dirent.h>
#include <errno.h>
#include <fenv.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/rseq.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum Role { CPU0, CPU1, COND0, COND1, MTX0, MTX1, BLOCKED, SLEEPER, JOINER, JOINEE, SIG, PI, MAIN, ROLES };

static const char *const s_names[ROLES] = {"wl-cpu0",    "wl-cpu1",   "wl-cond0",  "wl-cond1", "wl-mtx0", "wl-mtx1",   "wl-blocked",
                                           "wl-sleeper", "wl-joiner", "wl-joinee", "wl-sig",   "wl-pi",   "wl_threads"};

#define CPU_ITERATIONS 4000000ull
#define SLEEP_CHUNK_NS 200000000L

struct ThreadInfo {
    pthread_t handle;
    pid_t tid; // gettid() before the checkpoint
    uint64_t robustHead; // get_robust_list() before the checkpoint
};

static struct ThreadInfo s_threads[ROLES];
static atomic_bool s_go;
static atomic_int s_started;
static pthread_mutex_t s_startLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_startCond = PTHREAD_COND_INITIALIZER;

// cond0/cond1: wait for the generation.
static pthread_mutex_t s_condLock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t s_cond = PTHREAD_COND_INITIALIZER;
static uint64_t s_generation;
static uint64_t s_generationValue;

// mtx0/mtx1: contention.
static pthread_mutex_t s_counterLock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t s_counter, s_counts[2];

// blocked: the main thread holds this one until go.
static pthread_mutex_t s_heldLock = PTHREAD_MUTEX_INITIALIZER;
// pi: the same with a priority-inheritance mutex (FUTEX_LOCK_PI: the kernel
// finds the owner by the tid in the futex word).
static pthread_mutex_t s_piLock;

// Per-thread state, set by each thread from the seed.
static __thread uint64_t t_value;
static __thread uint8_t t_block[256];
static __thread int t_role = -1;

static volatile struct rseq *rseqArea(void)
{
    return (volatile struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
}

// The signals a role blocks: its own real-time signal, SIGUSR2 for odd roles,
// and for sig the two it has pending.
static void roleMask(int role, sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGRTMIN + 10 + role);
    if (role & 1) {
        sigaddset(set, SIGUSR2);
    }
    if (role == SIG) {
        sigaddset(set, SIGUSR1);
        sigaddset(set, SIGRTMIN + 3);
    }
}

static int roundingOf(int role)
{
    return role == CPU0 ? FE_TOWARDZERO : role == CPU1 ? FE_UPWARD : FE_TONEAREST;
}

static void setUp(int role)
{
    t_role = role;
    t_value = wl_derive(wl_seed(), 100 + (uint64_t)role);
    wl_fill(t_block, sizeof t_block, wl_derive(wl_seed(), 200 + (uint64_t)role));
    s_threads[role].tid = (pid_t)syscall(SYS_gettid);
    long head = 0;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &head, &len) != 0 || head == 0) {
        wl_die("%s: no robust futex list (get_robust_list: %s)", s_names[role], strerror(errno));
    }
    s_threads[role].robustHead = (uint64_t)head;
    if (prctl(PR_SET_NAME, s_names[role]) != 0) {
        wl_die("%s: PR_SET_NAME: %s", s_names[role], strerror(errno));
    }
    sigset_t mask;
    roleMask(role, &mask);
    pthread_sigmask(SIG_SETMASK, &mask, NULL);
    fesetround(roundingOf(role));
    if (role != MAIN) {
        pthread_mutex_lock(&s_startLock);
        atomic_fetch_add(&s_started, 1);
        pthread_cond_broadcast(&s_startCond);
        pthread_mutex_unlock(&s_startLock);
    }
}

// What every thread checks about itself after go.
static void checkSelf(void)
{
    const int role = t_role;
    const char *who = role >= 0 && role < ROLES ? s_names[role] : "?";
    if (role < 0) {
        wl_fail("a thread lost its __thread role (-1)");
        return;
    }
    const pid_t tid = (pid_t)syscall(SYS_gettid);
    wl_check(tid == s_threads[role].tid, "%s: tid %d, was %d", who, tid, s_threads[role].tid);
    wl_check(t_value == wl_derive(wl_seed(), 100 + (uint64_t)role), "%s: __thread value %#llx differs", who, (unsigned long long)t_value);
    const size_t bad = wl_mismatch(t_block, sizeof t_block, wl_derive(wl_seed(), 200 + (uint64_t)role));
    wl_check(bad == sizeof t_block, "%s: __thread block differs at byte %zu", who, bad);
    char name[16] = {0};
    prctl(PR_GET_NAME, name);
    wl_check(strcmp(name, s_names[role]) == 0, "%s: name is \"%s\"", who, name);
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/self/task/%d/comm", tid);
    long n = wl_read_file_at(path, comm, sizeof comm - 1, 0);
    if (n > 0 && comm[n - 1] == '\n') {
        comm[n - 1] = 0;
    }
    wl_check(n > 0 && strcmp(comm, s_names[role]) == 0, "%s: %s says \"%s\"", who, path, comm);
    sigset_t mask, want;
    pthread_sigmask(SIG_SETMASK, NULL, &mask);
    roleMask(role, &want);
    for (int sig = 1; sig < NSIG; ++sig) {
        if (sig == SIGKILL || sig == SIGSTOP || (sig > 31 && sig < SIGRTMIN)) {
            continue;
        }
        if (sigismember(&mask, sig) != sigismember(&want, sig)) {
            wl_fail("%s: signal %d is %sblocked", who, sig, sigismember(&mask, sig) ? "" : "not ");
        }
    }
    wl_check(fegetround() == roundingOf(role), "%s: rounding mode %#x, expected %#x", who, fegetround(), roundingOf(role));
    long head = 0;
    size_t len = 0;
    long r = syscall(SYS_get_robust_list, 0, &head, &len);
    wl_check(r == 0 && (uint64_t)head == s_threads[role].robustHead && len == 24, "%s: robust list %#lx (len %zu), was %#llx", who, head, len,
             (unsigned long long)s_threads[role].robustHead);
    if (__rseq_size > 0) {
        volatile struct rseq *area = rseqArea();
        const uint32_t sentinel = 2000000u + (uint32_t)role;
        bool updated = false;
        for (int i = 0; i < 50 && !updated; ++i) {
            area->cpu_id_start = sentinel;
            wl_sleep_ms(2);
            updated = area->cpu_id_start != sentinel;
        }
        wl_check(updated, "%s: the kernel no longer updates its rseq area (not registered)", who);
    }
}

// ---- cpu

struct CpuIn {
    uint64_t seed, limit, v0lo, v0hi, step[2];
    double d0, half;
};
struct CpuOut {
    uint64_t err, i, a, b, v[2];
    double d;
};

static void cpuBlock(const struct CpuIn *in, struct CpuOut *out)
{
    __asm__ volatile(
        "mov %[seed], %%rbx\n\t"
        "mov %[limit], %%rdx\n\t"
        "xor %%r12d, %%r12d\n\t" // r12 = i
        "mov %%rbx, %%r13\n\t" // r13 = seed + 3i
        "mov %%rbx, %%r14\n\t"
        "not %%r14\n\t" // r14 = ~r13
        "movq %[v0lo], %%xmm8\n\t"
        "pinsrq $1, %[v0hi], %%xmm8\n\t" // xmm8 = {v0lo + i, v0hi + 3i}
        "movdqu %[step], %%xmm9\n\t"
        "movsd %[d0], %%xmm10\n\t" // xmm10 = d0 + i/2
        "movsd %[half], %%xmm11\n\t"
        "1:\n\t"
        "inc %%r12\n\t"
        "add $3, %%r13\n\t"
        "sub $3, %%r14\n\t"
        "paddq %%xmm9, %%xmm8\n\t"
        "addsd %%xmm11, %%xmm10\n\t"
        "lea (%%r12,%%r12,2), %%rax\n\t"
        "add %%rbx, %%rax\n\t"
        "cmp %%rax, %%r13\n\t"
        "jne 8f\n\t"
        "mov %%r13, %%rcx\n\t"
        "xor %%r14, %%rcx\n\t"
        "inc %%rcx\n\t"
        "jnz 8f\n\t"
        "movq %%xmm8, %%rcx\n\t"
        "sub %%r12, %%rcx\n\t"
        "cmp %[v0lo], %%rcx\n\t"
        "jne 8f\n\t"
        "cmp %%rdx, %%r12\n\t"
        "jb 1b\n\t"
        "xor %%eax, %%eax\n\t"
        "jmp 9f\n\t"
        "8:\n\t"
        "mov $1, %%eax\n\t"
        "9:\n\t"
        "mov %%rax, %[err]\n\t"
        "mov %%r12, %[oi]\n\t"
        "mov %%r13, %[oa]\n\t"
        "mov %%r14, %[ob]\n\t"
        "movdqu %%xmm8, %[ov]\n\t"
        "movsd %%xmm10, %[od]\n\t"
        : [err] "=m"(out->err), [oi] "=m"(out->i), [oa] "=m"(out->a), [ob] "=m"(out->b), [ov] "=m"(out->v), [od] "=m"(out->d)
        : [seed] "m"(in->seed), [limit] "m"(in->limit), [v0lo] "m"(in->v0lo), [v0hi] "m"(in->v0hi), [step] "m"(in->step), [d0] "m"(in->d0), [half] "m"(in->half)
        : "rax", "rbx", "rcx", "rdx", "r12", "r13", "r14", "xmm8", "xmm9", "xmm10", "xmm11", "cc", "memory");
}

static void *cpuMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    uint64_t block = 0;
    bool last = false;
    // At least one whole block after go: the registers must work after a
    // restore, not only have held their values.
    while (!last) {
        last = atomic_load(&s_go) || wl_expired();
        ++block;
        struct CpuIn in;
        in.seed = wl_derive(wl_seed(), 1000 * (uint64_t)role + block);
        in.limit = CPU_ITERATIONS;
        in.v0lo = in.seed >> 3;
        in.v0hi = ~in.seed;
        in.step[0] = 1;
        in.step[1] = 3;
        in.d0 = (double)(in.seed % 100000);
        in.half = 0.5;
        struct CpuOut out;
        cpuBlock(&in, &out);
        const uint64_t n = CPU_ITERATIONS;
        const char *who = s_names[role];
        if (out.err) {
            wl_fail("%s: block %llu: a register invariant broke inside the loop at iteration %llu", who, (unsigned long long)block, (unsigned long long)out.i);
            break;
        }
        bool ok =
            wl_check(out.i == n && out.a == in.seed + 3 * n && out.b == ~in.seed - 3 * n, "%s: block %llu: r12/r13/r14 wrong", who, (unsigned long long)block);
        ok = wl_check(out.v[0] == in.v0lo + n && out.v[1] == in.v0hi + 3 * n, "%s: block %llu: xmm8 lanes %#llx %#llx wrong", who, (unsigned long long)block,
                      (unsigned long long)out.v[0], (unsigned long long)out.v[1]) &&
            ok;
        ok = wl_check(out.d == in.d0 + 0.5 * (double)n, "%s: block %llu: xmm10 %.17g, expected %.17g", who, (unsigned long long)block, out.d,
                      in.d0 + 0.5 * (double)n) &&
            ok;
        if (!ok) {
            break;
        }
        wl_sleep_ms(1);
    }
    checkSelf();
    return NULL;
}

// ---- cond

static void *condMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    pthread_mutex_lock(&s_condLock);
    unsigned wakeups = 0;
    while (s_generation == 0) {
        pthread_cond_wait(&s_cond, &s_condLock);
        ++wakeups;
    }
    const uint64_t value = s_generationValue;
    pthread_mutex_unlock(&s_condLock);
    wl_check(atomic_load(&s_go), "%s: woke from pthread_cond_wait before go", s_names[role]);
    wl_check(value == wl_derive(wl_seed(), 7), "%s: generation value %#llx wrong", s_names[role], (unsigned long long)value);
    checkSelf();
    return NULL;
}

// ---- mutex contention

static void *mtxMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    const int me = role - MTX0;
    setUp(role);
    bool last = false;
    while (!last) {
        last = atomic_load(&s_go) || wl_expired();
        pthread_mutex_lock(&s_counterLock);
        ++s_counter;
        ++s_counts[me];
        if (s_counter != s_counts[0] + s_counts[1]) {
            wl_fail("%s: counter %llu is not %llu + %llu", s_names[role], (unsigned long long)s_counter, (unsigned long long)s_counts[0],
                    (unsigned long long)s_counts[1]);
            last = true;
        }
        struct timespec hold = {0, 2000000};
        nanosleep(&hold, NULL);
        pthread_mutex_unlock(&s_counterLock);
        sched_yield();
    }
    checkSelf();
    return NULL;
}

// ---- blocked on a held mutex

static void *blockedMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    const int r = pthread_mutex_lock(&s_heldLock);
    wl_check(r == 0, "wl-blocked: pthread_mutex_lock: %s", strerror(r));
    wl_check(atomic_load(&s_go), "wl-blocked: got the mutex before the main thread let go of it");
    pthread_mutex_unlock(&s_heldLock);
    checkSelf();
    return NULL;
}

static void *piMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    const int r = pthread_mutex_lock(&s_piLock);
    wl_check(r == 0, "wl-pi: pthread_mutex_lock (PI): %s", strerror(r));
    wl_check(atomic_load(&s_go), "wl-pi: got the PI mutex before the main thread let go of it");
    if (r == 0) {
        pthread_mutex_unlock(&s_piLock);
    }
    checkSelf();
    return NULL;
}

// ---- nanosleep

static void *sleeperMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    unsigned long sleeps = 0, eintr = 0, early = 0;
    while (!atomic_load(&s_go) && !wl_expired()) {
        struct timespec req = {0, SLEEP_CHUNK_NS}, rem = {0, 0};
        const uint64_t t0 = wl_now_ns();
        const int r = nanosleep(&req, &rem);
        const uint64_t slept = wl_now_ns() - t0;
        ++sleeps;
        if (r != 0 && errno == EINTR) {
            ++eintr;
        } else if (r != 0) {
            wl_fail("wl-sleeper: nanosleep: %s", strerror(errno));
            break;
        } else if (slept < (uint64_t)SLEEP_CHUNK_NS) {
            ++early;
        }
    }
    wl_check(eintr == 0, "wl-sleeper: %lu of %lu nanosleeps returned EINTR (not restarted)", eintr, sleeps);
    wl_check(early == 0, "wl-sleeper: %lu of %lu nanosleeps returned early", early, sleeps);
    checkSelf();
    return NULL;
}

// ---- join

static void *joineeMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    while (!atomic_load(&s_go) && !wl_expired()) {
        wl_sleep_ms(20);
    }
    checkSelf();
    return (void *)(uintptr_t)wl_derive(wl_seed(), 9);
}

static void *joinerMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    // joinee is created before joiner.
    void *ret = NULL;
    const int r = pthread_join(s_threads[JOINEE].handle, &ret);
    wl_check(r == 0, "wl-joiner: pthread_join: %s", strerror(r));
    wl_check((uintptr_t)ret == (uintptr_t)wl_derive(wl_seed(), 9), "wl-joiner: joinee returned %p", ret);
    wl_check(atomic_load(&s_go), "wl-joiner: pthread_join returned before go");
    char path[64];
    snprintf(path, sizeof path, "/proc/self/task/%d", s_threads[JOINEE].tid);
    wl_check(access(path, F_OK) != 0, "wl-joiner: %s still exists after the join", path);
    checkSelf();
    return NULL;
}

// ---- thread-directed pending signals

static void *sigMain(void *arg)
{
    const int role = (int)(intptr_t)arg;
    setUp(role);
    while (!atomic_load(&s_go) && !wl_expired()) {
        wl_sleep_ms(50);
    }
    sigset_t pending;
    sigpending(&pending);
    wl_check(sigismember(&pending, SIGUSR1) == 1, "wl-sig: SIGUSR1 no longer pending");
    wl_check(sigismember(&pending, SIGRTMIN + 3) == 1, "wl-sig: SIGRTMIN+3 no longer pending");
    sigset_t both;
    sigemptyset(&both);
    sigaddset(&both, SIGUSR1);
    sigaddset(&both, SIGRTMIN + 3);
    const struct timespec zero = {0, 0};
    siginfo_t info;
    if (wl_check(sigtimedwait(&both, &info, &zero) == SIGUSR1, "wl-sig: SIGUSR1 not taken first")) {
        // tgkill: SI_TKILL, or SI_USER on kernels that report it so.
        wl_check((info.si_code == SI_TKILL || info.si_code == SI_USER) && info.si_pid == getpid() && info.si_uid == getuid(),
                 "wl-sig: SIGUSR1 code %d pid %d uid %d", info.si_code, info.si_pid, info.si_uid);
    }
    if (wl_check(sigtimedwait(&both, &info, &zero) == SIGRTMIN + 3, "wl-sig: SIGRTMIN+3 not taken")) {
        wl_check(info.si_code == SI_QUEUE && (uint64_t)(uintptr_t)info.si_value.sival_ptr == wl_derive(wl_seed(), 11), "wl-sig: SIGRTMIN+3 code %d value %p",
                 info.si_code, info.si_value.sival_ptr);
    }
    wl_check(sigtimedwait(&both, &info, &zero) < 0, "wl-sig: a third signal was pending");
    checkSelf();
    return NULL;
}

static void sabotage(void)
{
    pthread_setname_np(s_threads[COND0].handle, "sabotaged");
}

static int countTasks(void)
{
    DIR *dir = opendir("/proc/self/task");
    if (!dir) {
        return -1;
    }
    int n = 0;
    for (struct dirent *e; (e = readdir(dir));) {
        n += e->d_name[0] != '.';
    }
    closedir(dir);
    return n;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "threads");
    void *(*const mains[MAIN])(void *) = {cpuMain,     cpuMain,     condMain,   condMain,   mtxMain, mtxMain,
                                          blockedMain, sleeperMain, joinerMain, joineeMain, sigMain, piMain};
    // Threads start with the main thread's mask: every signal blocked, so
    // none is delivered before each sets its own.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    pthread_mutex_lock(&s_heldLock);
    pthread_mutexattr_t pi;
    pthread_mutexattr_init(&pi);
    if (pthread_mutexattr_setprotocol(&pi, PTHREAD_PRIO_INHERIT) != 0 || pthread_mutex_init(&s_piLock, &pi) != 0) {
        wl_die("PI mutex");
    }
    pthread_mutexattr_destroy(&pi);
    pthread_mutex_lock(&s_piLock);
    const int order[MAIN] = {CPU0, CPU1, COND0, COND1, MTX0, MTX1, BLOCKED, SLEEPER, JOINEE, JOINER, SIG, PI};
    for (int k = 0; k < MAIN; ++k) {
        const int role = order[k];
        const int r = pthread_create(&s_threads[role].handle, NULL, mains[role], (void *)(intptr_t)role);
        if (r != 0) {
            wl_die("pthread_create %s: %s", s_names[role], strerror(r));
        }
    }
    pthread_mutex_lock(&s_startLock);
    while (atomic_load(&s_started) < MAIN) {
        pthread_cond_wait(&s_startCond, &s_startLock);
    }
    pthread_mutex_unlock(&s_startLock);
    setUp(MAIN);
    // Pending for sig alone (it blocks both).
    if (pthread_kill(s_threads[SIG].handle, SIGUSR1) != 0) {
        wl_die("pthread_kill");
    }
    const union sigval value = {.sival_ptr = (void *)(uintptr_t)wl_derive(wl_seed(), 11)};
    if (pthread_sigqueue(s_threads[SIG].handle, SIGRTMIN + 3, value) != 0) {
        wl_die("pthread_sigqueue");
    }
    // Let the waiters reach their waits.
    wl_sleep_ms(50);

    wl_run(NULL, sabotage, 50);
    const int tasks = countTasks();
    wl_check(tasks == ROLES, "%d threads in /proc/self/task at go, expected %d", tasks, ROLES);
    sigset_t pending;
    sigpending(&pending);
    wl_check(!sigismember(&pending, SIGUSR1) && !sigismember(&pending, SIGRTMIN + 3), "the main thread sees sig's pending signals as its own");
    atomic_store(&s_go, true);
    pthread_mutex_lock(&s_condLock);
    s_generation = 1;
    s_generationValue = wl_derive(wl_seed(), 7);
    pthread_cond_broadcast(&s_cond);
    pthread_mutex_unlock(&s_condLock);
    pthread_mutex_unlock(&s_heldLock);
    pthread_mutex_unlock(&s_piLock);
    for (int role = 0; role < MAIN; ++role) {
        if (role == JOINEE) {
            continue; // joiner's
        }
        const int r = pthread_join(s_threads[role].handle, NULL);
        wl_check(r == 0, "pthread_join %s: %s", s_names[role], strerror(r));
    }
    wl_check(s_counts[0] > 0 && s_counts[1] > 0, "mutex contention: counts %llu and %llu", (unsigned long long)s_counts[0], (unsigned long long)s_counts[1]);
    checkSelf();
    return wl_finish();
}
