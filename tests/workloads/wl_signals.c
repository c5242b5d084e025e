// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Signal dispositions and the mask: handlers with SA_SIGINFO|SA_RESTART (and
// an sa_mask), SA_NODEFER, SA_RESETHAND; SIGINT and SIGQUIT ignored; SIGHUP,
// SIGTERM, SIGURG and SIGRTMIN+5 blocked. After go: the mask and every
// disposition (handler, flags, sa_mask) read back as set; raising each
// signal does what its disposition says: the handlers fire (with the right
// siginfo and the right signals blocked inside), the one-shot handler resets
// itself, the ignored ones are ignored, the blocked ones stay pending until
// unblocked (the real-time one queued twice) and then fire.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <signal.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t s_usr1, s_usr2, s_alrm, s_hup, s_rt, s_usr1BadInfo, s_usr1BadMask, s_usr2BadMask;
#define RT_SIG (SIGRTMIN + 5)
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000 // x86: glibc sets it, the kernel keeps it
#endif

static bool blockedNow(int sig)
{
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    return sigismember(&cur, sig) == 1;
}

static void onUsr1(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    ++s_usr1;
    if (sig != SIGUSR1 || info->si_signo != SIGUSR1 || info->si_code != SI_TKILL || info->si_pid != getpid()) {
        s_usr1BadInfo = 1;
    }
    // Inside: itself and its sa_mask (SIGUSR2, SIGWINCH) are blocked.
    if (!blockedNow(SIGUSR1) || !blockedNow(SIGUSR2) || !blockedNow(SIGWINCH)) {
        s_usr1BadMask = 1;
    }
}

static void onUsr2(int sig)
{
    (void)sig;
    ++s_usr2;
    if (blockedNow(SIGUSR2)) { // SA_NODEFER
        s_usr2BadMask = 1;
    }
}

static void onAlrm(int sig)
{
    (void)sig;
    ++s_alrm;
}

static void onHup(int sig)
{
    (void)sig;
    ++s_hup;
}

static void onRt(int sig, siginfo_t *info, void *ctx)
{
    (void)sig;
    (void)info;
    (void)ctx;
    ++s_rt;
}

struct Disposition {
    int sig;
    const char *name;
    void *handler; // SIG_IGN/SIG_DFL or a function
    int flags; // the flags we check
    int maskSigs[3];
};

#define CHECKED_FLAGS (SA_SIGINFO | SA_RESTART | SA_NODEFER | SA_RESETHAND | SA_ONSTACK | SA_NOCLDSTOP)

static struct Disposition s_table[7];

static void buildTable(void)
{
    struct Disposition t[] = {
        {SIGUSR1, "SIGUSR1", (void *)onUsr1, SA_SIGINFO | SA_RESTART, {SIGUSR2, SIGWINCH, 0}},
        {SIGUSR2, "SIGUSR2", (void *)onUsr2, SA_RESTART | SA_NODEFER, {0, 0, 0}},
        {SIGALRM, "SIGALRM", (void *)onAlrm, (int)SA_RESETHAND, {SIGHUP, 0, 0}},
        {SIGINT, "SIGINT", (void *)SIG_IGN, 0, {0, 0, 0}},
        {SIGQUIT, "SIGQUIT", (void *)SIG_IGN, 0, {0, 0, 0}},
        {SIGHUP, "SIGHUP", (void *)onHup, SA_RESTART, {SIGUSR1, 0, 0}},
        {RT_SIG, "SIGRTMIN+5", (void *)onRt, SA_SIGINFO, {0, 0, 0}},
    };
    memcpy(s_table, t, sizeof t);
}

static const int s_blocked[] = {SIGHUP, SIGTERM, SIGURG, 0}; // + RT_SIG

static void install(const struct Disposition *d)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    if (d->flags & SA_SIGINFO) {
        sa.sa_sigaction = (void (*)(int, siginfo_t *, void *))d->handler;
    } else {
        sa.sa_handler = (void (*)(int))d->handler;
    }
    sa.sa_flags = d->flags;
    sigemptyset(&sa.sa_mask);
    for (int i = 0; i < 3 && d->maskSigs[i]; ++i) {
        sigaddset(&sa.sa_mask, d->maskSigs[i]);
    }
    if (sigaction(d->sig, &sa, NULL) != 0) {
        wl_die("sigaction %s failed", d->name);
    }
}

static void expectedMask(sigset_t *set)
{
    sigemptyset(set);
    for (int i = 0; s_blocked[i]; ++i) {
        sigaddset(set, s_blocked[i]);
    }
    sigaddset(set, RT_SIG);
}

static void checkDisposition(const struct Disposition *d)
{
    struct sigaction sa;
    if (sigaction(d->sig, NULL, &sa) != 0) {
        wl_fail("sigaction(%s) query failed", d->name);
        return;
    }
    void *handler = (sa.sa_flags & SA_SIGINFO) ? (void *)sa.sa_sigaction : (void *)sa.sa_handler;
    wl_check(handler == d->handler, "%s: handler %p, expected %p", d->name, handler, d->handler);
    const int flags = (int)(sa.sa_flags & CHECKED_FLAGS);
    wl_check(flags == d->flags, "%s: flags %#x, expected %#x", d->name, (unsigned)flags, (unsigned)d->flags);
    if (d->handler != (void *)SIG_IGN && d->handler != (void *)SIG_DFL) {
        wl_check(sa.sa_flags & SA_RESTORER, "%s: SA_RESTORER lost", d->name);
    }
    sigset_t want;
    sigemptyset(&want);
    for (int i = 0; i < 3 && d->maskSigs[i]; ++i) {
        sigaddset(&want, d->maskSigs[i]);
    }
    for (int s = 1; s < NSIG; ++s) {
        if (sigismember(&sa.sa_mask, s) != sigismember(&want, s)) {
            wl_fail("%s: sa_mask differs at signal %d", d->name, s);
            break;
        }
    }
}

static void sabotage(void)
{
    struct sigaction sa;
    sigaction(SIGUSR1, NULL, &sa);
    sa.sa_flags &= ~SA_RESTART;
    sigaction(SIGUSR1, &sa, NULL);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "signals");
    buildTable();
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; ++i) {
        install(&s_table[i]);
    }
    sigset_t mask;
    expectedMask(&mask);
    sigprocmask(SIG_SETMASK, &mask, NULL);

    wl_run(NULL, sabotage, 10);

    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    for (int s = 1; s < NSIG; ++s) {
        if (sigismember(&cur, s) != sigismember(&mask, s)) {
            wl_fail("signal mask differs at signal %d (%s now)", s, sigismember(&cur, s) ? "blocked" : "unblocked");
        }
    }
    for (size_t i = 0; i < sizeof s_table / sizeof s_table[0]; ++i) {
        checkDisposition(&s_table[i]);
    }
    sigset_t pending;
    sigpending(&pending);
    for (int s = 1; s < NSIG; ++s) {
        if (sigismember(&pending, s)) {
            wl_fail("signal %d is pending before anything was raised", s);
        }
    }

    raise(SIGUSR1);
    wl_check(s_usr1 == 1, "SIGUSR1 handler ran %d times, expected 1", (int)s_usr1);
    wl_check(!s_usr1BadInfo, "SIGUSR1 handler got a wrong siginfo");
    wl_check(!s_usr1BadMask, "SIGUSR1 handler ran without its sa_mask blocked");
    raise(SIGUSR2);
    wl_check(s_usr2 == 1, "SIGUSR2 handler ran %d times, expected 1", (int)s_usr2);
    wl_check(!s_usr2BadMask, "SIGUSR2 handler ran with SIGUSR2 blocked (SA_NODEFER lost)");
    raise(SIGALRM);
    wl_check(s_alrm == 1, "SIGALRM handler ran %d times, expected 1", (int)s_alrm);
    struct sigaction sa;
    sigaction(SIGALRM, NULL, &sa);
    wl_check(sa.sa_handler == SIG_DFL, "SIGALRM not reset to SIG_DFL after its SA_RESETHAND handler ran");
    raise(SIGINT);
    raise(SIGQUIT); // ignored: we are still here

    raise(SIGHUP);
    raise(SIGTERM);
    raise(SIGURG);
    raise(RT_SIG);
    raise(RT_SIG);
    wl_check(s_hup == 0 && s_rt == 0, "a blocked signal's handler ran (SIGHUP %d, SIGRTMIN+5 %d)", (int)s_hup, (int)s_rt);
    sigpending(&pending);
    wl_check(sigismember(&pending, SIGHUP) && sigismember(&pending, SIGTERM) && sigismember(&pending, SIGURG) && sigismember(&pending, RT_SIG),
             "raised blocked signals are not all pending (HUP %d TERM %d URG %d RT %d)", sigismember(&pending, SIGHUP), sigismember(&pending, SIGTERM),
             sigismember(&pending, SIGURG), sigismember(&pending, RT_SIG));
    wl_check(!sigismember(&pending, SIGINT) && !sigismember(&pending, SIGQUIT), "an ignored signal is pending");

    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGHUP);
    sigaddset(&unblock, RT_SIG);
    sigprocmask(SIG_UNBLOCK, &unblock, NULL);
    wl_check(s_hup == 1, "SIGHUP handler ran %d times after unblocking, expected 1", (int)s_hup);
    wl_check(s_rt == 2, "SIGRTMIN+5 handler ran %d times after unblocking, expected 2 (queued)", (int)s_rt);
    // Discard SIGTERM and SIGURG: ignoring a pending signal drops it.
    signal(SIGTERM, SIG_IGN);
    signal(SIGURG, SIG_IGN);
    sigpending(&pending);
    wl_check(!sigismember(&pending, SIGTERM), "SIGTERM still pending after SIG_IGN");
    return wl_finish();
}
