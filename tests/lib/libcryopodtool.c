// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// libcryopodtool [--bus ADDRESS] COMMAND ...: the libcryopod calls for the
// tests, one per run. Prints the answer ("id N", "pid N", "checkpointable N"
// and "json ...", "snapshot N") or "error ERRNONAME MESSAGE" (exit 1).
//   checkpoint PID IMAGE [kill]   into a new file IMAGE
//   checkpoint-fd PID FD          into fd FD as it is (EBADF tests)
//   checkpoint-readonly PID IMAGE into IMAGE opened read-only
//   restart IMAGE [frozen|copy]
//   report PID
//   snapshot PID [LABEL]
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cryopod/cryopod.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failed(void)
{
    const int err = errno;
    printf("error %s %s\n", strerrorname_np(err) ? strerrorname_np(err) : "?", cryopod_last_error());
    return 1;
}

int main(int argc, char **argv)
{
    int a = 1;
    if (a + 1 < argc && strcmp(argv[a], "--bus") == 0) {
        setenv("DBUS_SYSTEM_BUS_ADDRESS", argv[a + 1], 1);
        a += 2;
    }
    if (a >= argc) {
        fprintf(stderr, "usage: libcryopodtool [--bus ADDRESS] COMMAND ...\n");
        return 2;
    }
    const char *command = argv[a++];
    const int logfd = 2;
    if (strcmp(command, "checkpoint") == 0 && a + 1 < argc) {
        const int fd = open(argv[a + 1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        const unsigned flags = a + 2 < argc && strcmp(argv[a + 2], "kill") == 0 ? CRYOPOD_KILL : 0;
        const long id = cryopod_checkpoint(atoi(argv[a]), fd, flags, logfd);
        if (id < 0) {
            return failed();
        }
        printf("id %ld\n", id);
        return 0;
    }
    if ((strcmp(command, "checkpoint-fd") == 0 || strcmp(command, "checkpoint-readonly") == 0) && a + 1 < argc) {
        const int fd = strcmp(command, "checkpoint-fd") == 0 ? atoi(argv[a + 1]) : open(argv[a + 1], O_RDONLY | O_CREAT | O_CLOEXEC, 0600);
        const long id = cryopod_checkpoint(atoi(argv[a]), fd, 0, logfd);
        if (id < 0) {
            return failed();
        }
        printf("id %ld\n", id);
        return 0;
    }
    if (strcmp(command, "restart") == 0 && a < argc) {
        const int fd = open(argv[a], O_RDONLY | O_CLOEXEC);
        unsigned flags = 0;
        if (a + 1 < argc) {
            flags = strcmp(argv[a + 1], "frozen") == 0 ? CRYOPOD_RESTART_FROZEN : strcmp(argv[a + 1], "copy") == 0 ? CRYOPOD_RESTART_COPY : 0x100;
        }
        const pid_t pid = cryopod_restart(fd, flags, logfd);
        if (pid < 0) {
            return failed();
        }
        printf("pid %d\n", (int)pid);
        return 0;
    }
    if (strcmp(command, "report") == 0 && a < argc) {
        char *json = NULL;
        const int verdict = cryopod_checkpointable(atoi(argv[a]), &json);
        if (verdict < 0) {
            return failed();
        }
        printf("checkpointable %d\njson %s\n", verdict, json);
        free(json);
        return 0;
    }
    if (strcmp(command, "snapshot") == 0 && a < argc) {
        const long id = cryopod_snapshot(atoi(argv[a]), a + 1 < argc ? argv[a + 1] : NULL);
        if (id < 0) {
            return failed();
        }
        printf("snapshot %ld\n", id);
        return 0;
    }
    fprintf(stderr, "libcryopodtool: unknown command or missing arguments\n");
    return 2;
}
