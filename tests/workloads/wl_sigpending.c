// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Signals pending at checkpoint time: SIGUSR1 raised while blocked (pending
// for the thread), SIGUSR2 sent with kill() while blocked (pending for the
// process), and SIGRTMIN+2 queued three times with sigqueue() payloads. After
// go: all are still pending, and sigtimedwait() takes them out with their
// siginfo: the real-time ones in order with payloads, codes and sender.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define RT_SIG (SIGRTMIN + 2)

static int payload(int i)
{
    return (int)(wl_derive(wl_seed(), 40 + (unsigned)i) & 0x7fffffff);
}

static void sabotage(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, RT_SIG);
    struct timespec zero = {0, 0};
    sigtimedwait(&set, NULL, &zero); // steals one queued signal
}

static uint64_t pendingMask(const char *key)
{
    FILE *f = fopen("/proc/self/status", "re");
    if (!f) {
        return 0;
    }
    char line[256];
    unsigned long long mask = 0;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, strlen(key)) == 0) {
            mask = strtoull(line + strlen(key), NULL, 16);
            break;
        }
    }
    fclose(f);
    return mask;
}

static bool take(int sig, siginfo_t *info)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, sig);
    struct timespec zero = {0, 0};
    return sigtimedwait(&set, info, &zero) == sig;
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "sigpending");
    sigset_t block;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGUSR2);
    sigaddset(&block, RT_SIG);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    kill(getpid(), SIGUSR2);
    for (int i = 0; i < 3; ++i) {
        union sigval v = {.sival_int = payload(i)};
        if (sigqueue(getpid(), RT_SIG, v) != 0) {
            wl_die("sigqueue failed");
        }
    }

    wl_run(NULL, sabotage, 10);

    sigset_t pending;
    sigpending(&pending);
    wl_check(sigismember(&pending, SIGUSR1), "SIGUSR1 (raised, thread-pending) is no longer pending");
    wl_check(sigismember(&pending, SIGUSR2), "SIGUSR2 (kill, process-pending) is no longer pending");
    wl_check(sigismember(&pending, RT_SIG), "SIGRTMIN+2 (queued) is no longer pending");
    // Thread-pending (SigPnd) and process-pending (ShdPnd) stay apart.
    uint64_t thread = pendingMask("SigPnd:"), shared = pendingMask("ShdPnd:");
    uint64_t usr1 = 1ull << (SIGUSR1 - 1), usr2 = 1ull << (SIGUSR2 - 1), rt = 1ull << (RT_SIG - 1);
    wl_check((thread & usr1) && !(shared & usr1), "SIGUSR1 should be pending for the thread only (SigPnd %#llx ShdPnd %#llx)", (unsigned long long)thread,
             (unsigned long long)shared);
    wl_check((shared & usr2) && !(thread & usr2), "SIGUSR2 should be pending for the process only (SigPnd %#llx ShdPnd %#llx)", (unsigned long long)thread,
             (unsigned long long)shared);
    wl_check((shared & rt) && !(thread & rt), "SIGRTMIN+2 should be pending for the process only (SigPnd %#llx ShdPnd %#llx)", (unsigned long long)thread,
             (unsigned long long)shared);
    siginfo_t info;
    if (wl_check(take(SIGUSR1, &info), "sigtimedwait did not return SIGUSR1")) {
        // glibc folds SI_TKILL into SI_USER in sigtimedwait.
        wl_check((info.si_code == SI_TKILL || info.si_code == SI_USER) && info.si_pid == getpid(), "SIGUSR1: si_code %d si_pid %d, expected SI_TKILL from %d",
                 info.si_code, (int)info.si_pid, (int)getpid());
    }
    if (wl_check(take(SIGUSR2, &info), "sigtimedwait did not return SIGUSR2")) {
        wl_check(info.si_code == SI_USER && info.si_pid == getpid(), "SIGUSR2: si_code %d si_pid %d, expected SI_USER from %d", info.si_code,
                 (int)info.si_pid, (int)getpid());
    }
    for (int i = 0; i < 3; ++i) {
        if (!wl_check(take(RT_SIG, &info), "queued SIGRTMIN+2 #%d is missing", i)) {
            break;
        }
        wl_check(info.si_code == SI_QUEUE && info.si_value.sival_int == payload(i) && info.si_pid == getpid(),
                 "queued SIGRTMIN+2 #%d: code %d payload %d pid %d, expected SI_QUEUE, %d, %d", i, info.si_code, info.si_value.sival_int,
                 (int)info.si_pid, payload(i), (int)getpid());
    }
    wl_check(!take(RT_SIG, &info), "an extra SIGRTMIN+2 is pending");
    return wl_finish();
}
