// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A reader that relies on EOF: the root starts writer after writer, each
// with a pipe of its own. Writer i holds 8 MiB of seeded memory (so that a
// low-pause snapshot has something to save while it runs on), writes
// 5 + i % 20 records one millisecond apart, closes the pipe and exits. The
// root reads until EOF and checks the records. Once it has reaped a writer,
// the pipe must be at EOF: if it is not, some process still holds the write
// end, and the root names it (from /proc/*/fd) as a failure. A copy Cryopod
// takes of a writer must never be that process.
// After go: no more writers; the last one is finished; every writer's
// records must have arrived whole and in order, and every pipe ended in EOF.
// Sabotage: the root keeps a write end of the current pipe itself.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { kWriterMemory = 8 << 20 };

struct Record {
    uint32_t writer, index;
    uint64_t value;
};

static unsigned s_writers; // started
static unsigned s_ended; // read to EOF
static pid_t s_writer = -1; // the current one, -1 when none
static bool s_reaped;
static bool s_holdersNamed; // for the current writer
static int s_read = -1; // its pipe's read end
static int s_keptWrite = -1; // sabotage
static unsigned s_received;

static unsigned recordsOf(unsigned i)
{
    return 5 + i % 20;
}

static uint64_t valueOf(unsigned i, unsigned k)
{
    return wl_derive(wl_seed(), ((uint64_t)i << 32) | k);
}

static void writerMain(unsigned i, int out)
{
    char *memory = malloc(kWriterMemory);
    if (!memory) {
        _exit(2);
    }
    wl_fill(memory, kWriterMemory, wl_derive(wl_seed(), i));
    for (unsigned k = 0; k < recordsOf(i); ++k) {
        const struct Record r = {i, k, valueOf(i, k) ^ (uint64_t)memory[k * 4096]};
        if (write(out, &r, sizeof r) != (ssize_t)sizeof r) {
            _exit(3);
        }
        wl_sleep_ms(1);
    }
    _exit(0);
}

// Who else holds a write end of the pipe whose read end is s_read.
static void nameHolders(void)
{
    struct stat st;
    if (fstat(s_read, &st) != 0) {
        return;
    }
    char want[64];
    snprintf(want, sizeof want, "pipe:[%lu]", (unsigned long)st.st_ino);
    DIR *proc = opendir("/proc");
    if (!proc) {
        return;
    }
    bool named = false;
    struct dirent *e;
    while ((e = readdir(proc))) {
        const pid_t pid = (pid_t)atoi(e->d_name);
        if (pid <= 0) {
            continue;
        }
        char dir[64];
        snprintf(dir, sizeof dir, "/proc/%d/fd", (int)pid);
        DIR *fds = opendir(dir);
        if (!fds) {
            continue;
        }
        struct dirent *f;
        while ((f = readdir(fds))) {
            char link[320], target[128];
            snprintf(link, sizeof link, "%s/%s", dir, f->d_name);
            const ssize_t n = readlink(link, target, sizeof target - 1);
            if (n <= 0) {
                continue;
            }
            target[n] = '\0';
            if (strcmp(target, want) == 0 && !(pid == getpid() && atoi(f->d_name) == s_read)) {
                char comm[64] = "?";
                char commPath[64];
                snprintf(commPath, sizeof commPath, "/proc/%d/comm", (int)pid);
                wl_read_file_at(commPath, comm, sizeof comm - 1, 0);
                comm[strcspn(comm, "\n")] = '\0';
                wl_fail("writer %u is gone but pid %d (%s) holds its pipe (fd %s): no EOF", s_writers - 1, (int)pid, comm, f->d_name);
                named = true;
            }
        }
        closedir(fds);
    }
    closedir(proc);
    (void)named;
}

static void startWriter(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        wl_fail("pipe: %s", strerror(errno));
        return;
    }
    const unsigned i = s_writers;
    const pid_t pid = fork();
    if (pid < 0) {
        wl_fail("fork: %s", strerror(errno));
        close(p[0]);
        close(p[1]);
        return;
    }
    if (pid == 0) {
        close(p[0]);
        writerMain(i, p[1]);
    }
    close(p[1]);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    s_read = p[0];
    s_writer = pid;
    s_reaped = false;
    s_holdersNamed = false;
    s_received = 0;
    ++s_writers;
}

// Reads what is there; true at EOF.
static bool drain(void)
{
    struct Record r;
    for (;;) {
        const ssize_t n = read(s_read, &r, sizeof r);
        if (n == 0) {
            return true;
        }
        if (n < 0) {
            return false; // EAGAIN: nothing yet
        }
        const unsigned i = s_writers - 1;
        if (n != (ssize_t)sizeof r) {
            wl_fail("writer %u: a short record (%zd bytes)", i, n);
            continue;
        }
        // The writer mixed a byte of its memory in: recompute it.
        uint8_t byte = wl_byte_at(wl_derive(wl_seed(), i), (size_t)r.index * 4096);
        wl_check(r.writer == i && r.index == s_received && r.value == (valueOf(i, r.index) ^ (uint64_t)(int64_t)(char)byte),
                 "writer %u: record %u is (%u, %u, %#llx)", i, s_received, r.writer, r.index, (unsigned long long)r.value);
        ++s_received;
    }
}

static void step(void)
{
    if (s_writer < 0) {
        startWriter();
        return;
    }
    if (!s_reaped) {
        int status = 0;
        const pid_t got = waitpid(s_writer, &status, WNOHANG);
        if (got == s_writer) {
            s_reaped = true;
            wl_check(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %u: status %#x", s_writers - 1, status);
        }
    }
    bool eof = drain();
    if (s_reaped && !eof) {
        eof = drain(); // what was written just before the end
    }
    if (s_reaped && !eof && !s_holdersNamed) {
        s_holdersNamed = true;
        nameHolders(); // the writer is gone: nothing may hold its write end
    }
    if (eof) {
        wl_check(s_reaped || waitpid(s_writer, NULL, 0) == s_writer, "writer %u: cannot reap it", s_writers - 1);
        wl_check(s_received == recordsOf(s_writers - 1), "writer %u: %u records, expected %u", s_writers - 1, s_received, recordsOf(s_writers - 1));
        close(s_read);
        s_read = -1;
        s_writer = -1;
        ++s_ended;
    }
}

static void sabotage(void)
{
    if (s_read >= 0) {
        // Another write end of the current pipe, through /proc: EOF never comes.
        char path[64];
        snprintf(path, sizeof path, "/proc/self/fd/%d", s_read);
        s_keptWrite = open(path, O_WRONLY | O_CLOEXEC);
        wl_check(s_keptWrite >= 0, "sabotage: %s", strerror(errno));
    }
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "pipeeof");
    step();
    wl_run(step, sabotage, 2);
    const uint64_t deadline = wl_now_ns() + 3000000000ull; // the last one, at most 3 s
    while (s_writer >= 0 && wl_now_ns() < deadline) {
        step();
        wl_sleep_ms(2);
    }
    wl_check(s_writer < 0, "writer %u never ended in EOF", s_writers - 1);
    wl_check(s_ended >= 1, "no writer ended");
    return wl_finish();
}
