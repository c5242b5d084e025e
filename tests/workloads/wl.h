// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The common part of every workload (see README.md for the contract):
// STATEDIR handling, the ready/go/result protocol, a seeded generator for
// memory patterns, and a failure list that ends up in STATEDIR/result.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WL_PAGE 4096u

// Parses argv[1] (STATEDIR, made absolute) and the environment:
//   WL_SEED=N      the seed of every pattern (default: derived from NAME)
//   WL_SABOTAGE=1  corrupt one piece of the verified state right after ready
// Exits with status 2 on a usage error.
void wl_init(int argc, char **argv, const char *name);

const char *wl_name(void);
const char *wl_statedir(void);
uint64_t wl_seed(void);
bool wl_sabotage_requested(void);

// Writes STATEDIR/REL into buf (always NUL-terminated; aborts if too long).
void wl_path(char *buf, size_t size, const char *rel);

// splitmix64: the generator behind every pattern.
uint64_t wl_next(uint64_t *state);
// A value derived from the seed and a tag, for independent streams.
uint64_t wl_derive(uint64_t seed, uint64_t tag);

// Fills [p, p+n) with the stream of SEED; wl_mismatch returns the offset of
// the first byte that differs from that stream, or n when all match.
void wl_fill(void *p, size_t n, uint64_t seed);
size_t wl_mismatch(const void *p, size_t n, uint64_t seed);
// The byte at offset OFF of the stream of SEED.
uint8_t wl_byte_at(uint64_t seed, size_t off);

// Records a failed check; every failure is listed in the result.
void wl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// wl_fail unless COND, with the message; returns COND.
bool wl_check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int wl_failures(void);

// Writes STATEDIR/ready (via ready.tmp + rename) containing the pid.
void wl_ready(void);
// True once STATEDIR/go exists.
bool wl_go(void);
// True after the workload's own lifetime limit (90 s from start): a
// workload never outlives a harness that died.
bool wl_expired(void);

// Sleeps MS milliseconds, resuming after EINTR.
void wl_sleep_ms(unsigned ms);
uint64_t wl_now_ns(void); // CLOCK_MONOTONIC

// The usual main loop: wl_ready(), then until go: STEP(), SABOTAGE() once if
// requested, sleep SLEEP_MS. Records a failure if the lifetime expires.
// Either callback may be NULL.
void wl_run(void (*step)(void), void (*sabotage)(void), unsigned sleep_ms);

// Writes STATEDIR/result ("ok" or "FAIL: ...") and returns the exit status
// (0 when no check failed, 1 otherwise).
int wl_finish(void);

// Workloads of several processes (tree, pipeline, sessions, zombie): a
// child process waits for go itself (polling, as wl_run does, and giving up
// after the lifetime), checks its own state with wl_fail/wl_check and ends
// with wl_finish_as(FILE): its verdict goes to STATEDIR/FILE, its exit status
// as wl_finish's. The root collects it with wl_collect after reaping it.
void wl_wait_go(void);
int wl_finish_as(const char *file);
// Reaps child PID (which must still be a child of the caller), expects exit
// status 0 and adds WHO's failures from STATEDIR/FILE to the caller's.
void wl_collect(pid_t pid, const char *who, const char *file);

// Small file helpers for setup and verification (abort on setup errors).
void wl_write_file(const char *path, const void *data, size_t n);
// Reads up to n bytes from PATH at OFF; returns the count or -1.
long wl_read_file_at(const char *path, void *buf, size_t n, long off);
// The value after KEY (e.g. "eventfd-count:") in /proc/self/fdinfo/FD,
// blanks stripped; "" when there is none. Static storage (the last four
// calls' answers stay valid).
const char *wl_fdinfo(int fd, const char *key);
// FIONREAD: the bytes waiting in a pipe or socket (-1 on error).
int wl_queued(int fd);
// Moves the two new fds MADE (from pipe() or socketpair()) to WANT0 and
// WANT1 (dies on error).
void wl_place_pair(const int made[2], int want0, int want1);

// Dies with a message in the result file (for setup errors).
void wl_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

// Installs one seccomp filter on the calling thread (SECCOMP_SET_MODE_FILTER
// with FLAGS): system call NR on x86-64 (and, when ARG0 >= 0, with args[0] ==
// ARG0) returns RET; everything else is allowed. Returns the seccomp() result
// (-1 with errno on failure; with SECCOMP_FILTER_FLAG_TSYNC, a thread id).
long wl_seccomp_rule(int nr, long arg0, unsigned ret, unsigned flags);

// A versions array (wl_versions, wl_shmversions, wl_memfd, wl_sysvshm):
// ELEMENTS uint64_t at ARRAY that the writer sets, pass after pass, every
// element to the pass number; before it is set each one must still hold the
// previous pass. A snapshot taken while it runs must hold one instant of it:
// a restored copy whose memory mixes instants fails the next pass (the
// first few mismatches are listed, named WHAT).
struct wl_versions {
    uint64_t *array;
    size_t elements;
    const char *what; // "A's versions", for the messages
    uint64_t pass; // the last finished pass
    unsigned mismatches;
};
// One whole pass.
void wl_versions_pass(struct wl_versions *v);
// After go: every element holds the last pass (WHO: who checks).
void wl_versions_check(const struct wl_versions *v, const char *who);

// Waits up to 3 s for the 8-byte TOKEN at P (written by another process);
// true if it came.
bool wl_await_token(volatile uint64_t *p, uint64_t token);

// Appends TEXT to the NUL-terminated list LIST (SIZE bytes), "; " between
// entries, cut to fit; no malloc, stdio or errno: for children made by a raw
// clone(CLONE_VM), which share the C library's state with their parent and
// report failures in memory for it.
void wl_note(char *list, size_t size, const char *text);

// Forks a child that runs CHILD (which must not return) and waits until the
// child stores TOKEN at ANSWER (in memory both share), then sets ANSWER back
// to 0; dies with "WHO did not set up its memory" when it does not come.
pid_t wl_fork_sharing(void (*child)(void), volatile uint64_t *answer, uint64_t token, const char *who);

// Page I of BASE.
static inline unsigned char *wl_page(unsigned char *base, unsigned i)
{
    return base + (size_t)i * WL_PAGE;
}

// wl_derive() of the workload's seed and T: a value every process of the
// workload, and the restored copy, recomputes.
uint64_t wl_tag(uint64_t t);

// WHO's check of WHAT: the N bytes at P hold the stream of SEED.
void wl_check_pattern(const char *who, const char *what, const void *p, size_t n, uint64_t seed);

// Notes a SysV IPC object of the workload in STATEDIR/sysv ("shm|msg|sem ID
// KEY" per line): the harness removes it once the original is gone.
void wl_note_sysv(const char *kind, int id, int key);
