// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A shell pipeline with a side channel, in three processes:
//   the root (as a shell would) makes a pipe, forks a writer W (stdout of
//   the pipe, fd 4 -> 1 is left alone: W writes to fd 5) and a reader R
//   (fd 6), and closes both ends itself;
//   W writes a seeded byte stream into the pipe as fast as it goes (mostly
//   blocked in write() on the full pipe), R reads 4 KiB every 5 ms and checks
//   every byte against the stream: there are always bytes in flight;
//   fd 3 is STATEDIR/log opened by the root before the forks (one open file
//   description in all three; the root wrote 1000 bytes: offset 1000);
//   fds 7 (root) and 8 (R) are a SOCK_STREAM socketpair across the two
//   processes, with 5000 seeded bytes sent by the root waiting at R.
// After go: W stops, notes how many bytes it wrote in STATEDIR/pipeline.count
// and closes its end, then writes 10 bytes through fd 3 and exits; R reads on
// to end of file (every byte checked) and compares the total with W's count,
// then reads the 5000 socket bytes and answers "done"; the root reaps W and
// then finds fd 3 at offset 1010 (W's write moved the shared offset), reads
// R's answer from fd 7 and reaps R.
// Sabotage: SIGUSR1 makes R drop one byte of the stream.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { kLogBytes = 1000, kSocketBytes = 5000, kChunk = 4096 };

static uint64_t s_streamSeed;
static volatile sig_atomic_t s_drop;

static void onUsr1(int sig)
{
    (void)sig;
    s_drop = 1;
}

static void writer(void)
{
    static unsigned char buf[kChunk];
    uint64_t written = 0;
    while (!wl_go() && !wl_expired()) {
        for (size_t i = 0; i < sizeof buf; ++i) {
            buf[i] = wl_byte_at(s_streamSeed, written + i);
        }
        size_t done = 0;
        while (done < sizeof buf) {
            const ssize_t n = write(5, buf + done, sizeof buf - done);
            if (n < 0) {
                if (errno == EINTR) {
                    continue;
                }
                wl_fail("W: write: %s", strerror(errno));
                _exit(wl_finish_as("pipeline.W"));
            }
            done += (size_t)n;
        }
        written += sizeof buf;
    }
    wl_wait_go();
    char text[32];
    snprintf(text, sizeof text, "%llu\n", (unsigned long long)written);
    char path[4096];
    wl_path(path, sizeof path, "pipeline.count");
    wl_write_file(path, text, strlen(text));
    close(5);
    wl_check(write(3, "WWWWWWWWWW", 10) == 10, "W: write to the shared log: %s", strerror(errno));
    _exit(wl_finish_as("pipeline.W"));
}

static void reader(void)
{
    signal(SIGUSR1, onUsr1);
    static unsigned char buf[kChunk];
    uint64_t got = 0;
    bool mismatch = false;
    for (;;) {
        if (s_drop) {
            unsigned char lost;
            if (read(6, &lost, 1) == 1) {
                s_drop = 0;
            }
        }
        const ssize_t n = read(6, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            wl_fail("R: read: %s", strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        for (ssize_t i = 0; i < n && !mismatch; ++i) {
            if (buf[i] != wl_byte_at(s_streamSeed, got + (uint64_t)i)) {
                wl_fail("R: stream byte %llu is %#x, expected %#x", (unsigned long long)(got + (uint64_t)i), buf[i],
                        wl_byte_at(s_streamSeed, got + (uint64_t)i));
                mismatch = true;
            }
        }
        got += (uint64_t)n;
        if (!wl_go()) {
            wl_sleep_ms(5);
        }
        if (wl_expired()) {
            wl_fail("R: no end of file within the lifetime");
            break;
        }
    }
    char path[4096];
    wl_path(path, sizeof path, "pipeline.count");
    char text[32] = {0};
    if (wl_read_file_at(path, text, sizeof text - 1, 0) > 0) {
        const unsigned long long sent = strtoull(text, NULL, 10);
        wl_check(sent == got, "R: read %llu bytes, W wrote %llu", (unsigned long long)got, sent);
    } else {
        wl_fail("R: end of file but no count from W");
    }
    // The socket bytes the root sent before the checkpoint.
    static unsigned char sock[kSocketBytes];
    size_t have = 0;
    while (have < sizeof sock) {
        const ssize_t n = recv(8, sock + have, sizeof sock - have, 0);
        if (n <= 0) {
            break;
        }
        have += (size_t)n;
    }
    const size_t bad = have == sizeof sock ? wl_mismatch(sock, sizeof sock, wl_derive(wl_seed(), 3)) : 0;
    wl_check(have == sizeof sock && bad == sizeof sock, "R: socket gave %zu of %d bytes (first difference at %zu)", have, kSocketBytes, bad);
    wl_check(send(8, "done", 4, MSG_NOSIGNAL) == 4, "R: send done: %s", strerror(errno));
    _exit(wl_finish_as("pipeline.R"));
}

static pid_t s_reader;

static void sabotage(void)
{
    kill(s_reader, SIGUSR1);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "pipeline");
    s_streamSeed = wl_derive(wl_seed(), 1);
    char path[4096];
    wl_path(path, sizeof path, "log");
    const int log = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (log != 3) {
        wl_die("open log: fd %d, expected 3", log);
    }
    static unsigned char logBytes[kLogBytes];
    wl_fill(logBytes, sizeof logBytes, wl_derive(wl_seed(), 2));
    if (write(3, logBytes, sizeof logBytes) != kLogBytes) {
        wl_die("write log");
    }
    int p[2];
    if (pipe(p) != 0) {
        wl_die("pipe: %s", strerror(errno));
    }
    wl_place_pair(p, 6, 5);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
        wl_die("socketpair: %s", strerror(errno));
    }
    wl_place_pair(sv, 7, 8);
    static unsigned char sockBytes[kSocketBytes];
    wl_fill(sockBytes, sizeof sockBytes, wl_derive(wl_seed(), 3));
    if (send(7, sockBytes, sizeof sockBytes, 0) != kSocketBytes) {
        wl_die("send");
    }

    const pid_t w = fork();
    if (w < 0) {
        wl_die("fork W: %s", strerror(errno));
    }
    if (w == 0) {
        close(6);
        close(7);
        close(8);
        writer();
    }
    const pid_t r = fork();
    if (r < 0) {
        wl_die("fork R: %s", strerror(errno));
    }
    if (r == 0) {
        close(5);
        close(7);
        reader();
    }
    close(5);
    close(6);
    close(8);

    s_reader = r;
    // Bytes in flight before ready.
    wl_sleep_ms(50);
    wl_run(NULL, sabotage, 50);

    wl_collect(w, "W", "pipeline.W");
    const off_t at = lseek(3, 0, SEEK_CUR);
    wl_check(at == kLogBytes + 10, "log offset %lld after W's write, expected %d (one open file in both)", (long long)at, kLogBytes + 10);
    char answer[8] = {0};
    ssize_t n = 0;
    while (n < 4) {
        const ssize_t m = recv(7, answer + n, (size_t)(4 - n), 0);
        if (m <= 0) {
            break;
        }
        n += m;
    }
    wl_check(n == 4 && memcmp(answer, "done", 4) == 0, "no 'done' from R over the socket (%zd bytes)", n);
    wl_collect(r, "R", "pipeline.R");
    return wl_finish();
}
