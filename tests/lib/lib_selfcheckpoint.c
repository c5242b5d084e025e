// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// lib_selfcheckpoint STATEDIR BLOCKS [store]: a computation that checkpoints
// itself with libcryopod about every second (cwd STATEDIR). Each checkpoint
// goes to ckpt-K.tmp, renamed ckpt-K.img once cryopod_checkpoint() returned
// its id; `latest` then says "ckpt-K.img ID BLOCK". With `store`, each is a
// cryopod_snapshot() into the user's store; `latest` says "snapshot-K ID
// BLOCK". The log (STATEDIR/log) gets libcryopod's lines and
// one line per return: "original: checkpoint K id ID at block B" or
// "copy: checkpoint K returned 0 at block B". When done, `result` holds
// "ok ACC restored=R checkpoints=K" (ACC in hex), or "FAIL: ...".
// While STATEDIR/kill-next exists, a checkpoint is made with CRYOPOD_KILL
// (the helper ends the process once the image is complete; `pending` names
// the image first). LIB_SABOTAGE=1: the copy changes its accumulator right
// after it returned from the checkpoint, which must show in the result.
#include <cryopod/cryopod.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { kBlockSize = 20000 };

static uint64_t mix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

static void writeAtomically(const char *name, const char *text)
{
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return;
    }
    if (write(fd, text, strlen(text)) < 0) {
        close(fd);
        return;
    }
    close(fd);
    rename(tmp, name);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || chdir(argv[1]) != 0) {
        fprintf(stderr, "usage: lib_selfcheckpoint STATEDIR BLOCKS [store]\n");
        return 2;
    }
    const int store = argc == 4 && strcmp(argv[3], "store") == 0;
    const long blocks = atol(argv[2]);
    const int logfd = open("log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    uint64_t acc = 0;
    int checkpoints = 0;
    int restored = 0;
    double last = seconds();
    char text[256];
    for (long b = 0; b < blocks; ++b) {
        for (uint64_t i = 0; i < kBlockSize; ++i) {
            acc = acc * 6364136223846793005ull + mix((uint64_t)b * kBlockSize + i);
        }
        const struct timespec pause = {0, 4 * 1000 * 1000};
        nanosleep(&pause, NULL);
        if (seconds() - last < 1.0) {
            continue;
        }
        const int k = checkpoints + 1;
        char tmp[64], img[64];
        snprintf(tmp, sizeof tmp, "ckpt-%d.tmp", k);
        snprintf(img, sizeof img, store ? "snapshot-%d" : "ckpt-%d.img", k);
        long id;
        int err;
        if (store) {
            id = cryopod_snapshot(0, "lib_selfcheckpoint");
            err = errno;
        } else {
            const int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0) {
                snprintf(text, sizeof text, "FAIL: open %s: %s\n", tmp, strerror(errno));
                writeAtomically("result", text);
                return 1;
            }
            const unsigned flags = access("kill-next", F_OK) == 0 ? CRYOPOD_KILL : 0;
            if (flags) {
                snprintf(text, sizeof text, "%s %ld\n", tmp, b);
                writeAtomically("pending", text);
            }
            id = cryopod_checkpoint(0, fd, flags, logfd);
            err = errno;
            close(fd);
        }
        checkpoints = k;
        if (id > 0) {
            if (!store) {
                rename(tmp, img);
            }
            snprintf(text, sizeof text, "%s %ld %ld\n", img, id, b);
            writeAtomically("latest", text);
            dprintf(logfd, "original: checkpoint %d id %ld at block %ld\n", k, id, b);
        } else if (id == 0) {
            ++restored;
            if (getenv("LIB_SABOTAGE")) {
                acc ^= 1;
            }
            dprintf(logfd, "copy: checkpoint %d returned 0 at block %ld\n", k, b);
        } else {
            snprintf(text, sizeof text, "FAIL: checkpoint %d: %s: %s\n", k, strerror(err), cryopod_last_error());
            writeAtomically("result", text);
            return 1;
        }
        last = seconds();
    }
    snprintf(text, sizeof text, "ok %016" PRIx64 " restored=%d checkpoints=%d\n", acc, restored, checkpoints);
    writeAtomically("result", text);
    return 0;
}
