// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// sigaltstack: an alternate signal stack in its own mapping and a SIGUSR2
// handler with SA_ONSTACK. The whole main loop runs INSIDE that handler, so
// the checkpoint catches the process on the alternate stack with a signal
// frame below it. After go, still inside: the handler checks it runs on the
// alternate stack (its locals and sigaltstack's SS_ONSTACK), then returns
// through sigreturn; main checks it came back to the normal stack, the
// sigaltstack settings are the same, an unused seeded area at the bottom of
// the alternate stack is intact, and a second signal again runs on it.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <signal.h>
#include <string.h>
#include <sys/mman.h>

#define ALT_SIZE (256 * 1024)
#define SEEDED 16384 // the bottom of the alternate stack, never used

static unsigned char *s_alt;
static volatile sig_atomic_t s_inHandler, s_returned, s_second;
static volatile int s_onAlt, s_flagsOnStack, s_secondOnAlt;

static bool onAltStack(const void *p)
{
    return (const unsigned char *)p >= s_alt && (const unsigned char *)p < s_alt + ALT_SIZE;
}

static void sabotage(void)
{
    s_alt[100] ^= 0x42;
}

static void onUsr2(int sig)
{
    (void)sig;
    int local = 0;
    s_inHandler = 1;
    s_onAlt = onAltStack(&local);
    wl_run(NULL, sabotage, 10);
    // Still on the alternate stack after the restore?
    int after = 0;
    if (!onAltStack(&after)) {
        wl_fail("handler no longer runs on the alternate stack after go (local at %p)", (void *)&after);
    }
    stack_t ss;
    sigaltstack(NULL, &ss);
    s_flagsOnStack = ss.ss_flags;
    s_returned = 1;
}

static void onUsr1(int sig)
{
    (void)sig;
    int local = 0;
    s_second = 1;
    s_secondOnAlt = onAltStack(&local);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "altstack");
    s_alt = mmap(NULL, ALT_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s_alt == MAP_FAILED) {
        wl_die("mmap alternate stack failed");
    }
    wl_fill(s_alt, SEEDED, wl_derive(wl_seed(), 1));
    stack_t ss = {.ss_sp = s_alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        wl_die("sigaltstack failed");
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = onUsr2;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR2, &sa, NULL);
    sa.sa_handler = onUsr1;
    sigaction(SIGUSR1, &sa, NULL);

    raise(SIGUSR2); // the main loop runs in the handler

    int local = 0;
    wl_check(s_inHandler && s_returned, "the SIGUSR2 handler did not run to its end (entered %d, returned %d)", (int)s_inHandler, (int)s_returned);
    wl_check(s_onAlt, "the SIGUSR2 handler did not start on the alternate stack");
    wl_check(s_flagsOnStack & SS_ONSTACK, "sigaltstack inside the handler: ss_flags %#x lack SS_ONSTACK", s_flagsOnStack);
    wl_check(!onAltStack(&local), "main runs on the alternate stack after the handler returned");
    stack_t now;
    sigaltstack(NULL, &now);
    wl_check(now.ss_sp == s_alt && now.ss_size == ALT_SIZE && now.ss_flags == 0, "sigaltstack is %p/%zu/%#x, expected %p/%d/0", now.ss_sp,
             now.ss_size, now.ss_flags, (void *)s_alt, ALT_SIZE);
    size_t off = wl_mismatch(s_alt, SEEDED, wl_derive(wl_seed(), 1));
    wl_check(off == SEEDED, "alternate stack bottom differs at byte %zu", off);
    raise(SIGUSR1);
    wl_check(s_second && s_secondOnAlt, "a second SA_ONSTACK handler did not run on the alternate stack (ran %d, on it %d)", (int)s_second,
             (int)s_secondOnAlt);
    return wl_finish();
}
