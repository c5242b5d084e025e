// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A SysV message queue shared by a parent and its child:
// Q: key 0x5d000000 | (root pid & 0xffffff), mode 0620, group 4242 and a
// size limit of 8000 bytes (IPC_SET). The root sends 40 seeded messages
// (types 1..5, 0..200 bytes) before the fork; child K takes the type-3 ones
// out (msgrcv by type), then sends 5 messages of type 9: K is the queue's
// last sender and receiver. The listing goes to STATEDIR/sysv.
// After go the root checks the queue's id, key, mode, owner, size limit,
// message count and bytes, last sender and receiver (IPC_STAT), that
// msgget finds it by its key, then takes every message but K's out in
// order and checks types and bytes; it sends a token (type 100), K takes
// its own 5 messages out, checks them and answers (type 101); the queue is
// then empty and the root removes it.
// Sabotage: the root takes one message out after ready.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <unistd.h>

enum {
    kMessages = 40,
    kKMessages = 5,
    kMaxText = 200,
    kQBytes = 8000,
    kGroup = 4242,
    kKType = 9,
    kToken = 100,
    kAnswer = 101,
};

struct message {
    long type;
    unsigned char text[kMaxText + 1];
};

static int s_q = -1;
static key_t s_key;

// Message I of the root (type 1..5) or of K (I >= 1000: type 9).
static long typeOf(unsigned i)
{
    return i >= 1000 ? kKType : (long)(1 + wl_tag(10 + i) % 5);
}

static size_t lengthOf(unsigned i)
{
    return (size_t)(wl_tag(20000 + i) % (kMaxText + 1));
}

static void make(unsigned i, struct message *m, size_t *length)
{
    m->type = typeOf(i);
    *length = lengthOf(i);
    wl_fill(m->text, *length, wl_tag(40000 + i));
}

// Takes the next message (of TYPE, or not of type EXCEPT) out without
// waiting longer than 3 s; its length or -1.
static ssize_t take(struct message *m, long type, int flags)
{
    for (int i = 0; i < 300; ++i) {
        const ssize_t n = msgrcv(s_q, m, kMaxText, type, IPC_NOWAIT | flags);
        if (n >= 0 || errno != ENOMSG) {
            return n;
        }
        wl_sleep_ms(10);
    }
    return -1;
}

static void checkMessage(const char *who, unsigned i, const struct message *m, ssize_t n)
{
    struct message want;
    size_t length = 0;
    make(i, &want, &length);
    if (n < 0) {
        wl_fail("%s: message %u is missing: %s", who, i, strerror(errno));
        return;
    }
    wl_check(m->type == want.type && (size_t)n == length && memcmp(m->text, want.text, length) == 0,
             "%s: message %u is of type %ld with %zd bytes, expected type %ld with %zu bytes (or its bytes differ)", who, i, m->type, n, want.type, length);
}

static void sendToken(long type)
{
    struct message m = {.type = type};
    if (msgsnd(s_q, &m, 0, IPC_NOWAIT) != 0) {
        wl_fail("send token %ld: %s", type, strerror(errno));
    }
}

static void childK(void)
{
    struct message m;
    for (unsigned i = 0; i < kMessages; ++i) {
        if (typeOf(i) == 3 && msgrcv(s_q, &m, kMaxText, 3, IPC_NOWAIT) < 0) {
            _exit(3);
        }
    }
    for (unsigned i = 1000; i < 1000 + kKMessages; ++i) {
        size_t length = 0;
        make(i, &m, &length);
        if (msgsnd(s_q, &m, length, IPC_NOWAIT) != 0) {
            _exit(4);
        }
    }
    wl_wait_go();
    if (take(&m, kToken, 0) < 0) {
        wl_fail("K: the root's token did not arrive: %s", strerror(errno));
    }
    for (unsigned i = 1000; i < 1000 + kKMessages; ++i) {
        checkMessage("K", i, &m, take(&m, kKType, 0));
    }
    sendToken(kAnswer);
    _exit(wl_finish_as("sysvmsg.K"));
}

static void sabotage(void)
{
    struct message m;
    (void)msgrcv(s_q, &m, kMaxText, 0, IPC_NOWAIT);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "sysvmsg");
    s_key = (key_t)(0x5d000000u | ((unsigned)getpid() & 0xffffffu));
    s_q = msgget(s_key, IPC_CREAT | IPC_EXCL | 0620);
    if (s_q < 0) {
        wl_die("msgget: %s", strerror(errno));
    }
    wl_note_sysv("msg", s_q, (int)s_key);
    struct msqid_ds ds;
    if (msgctl(s_q, IPC_STAT, &ds) != 0) {
        wl_die("IPC_STAT: %s", strerror(errno));
    }
    ds.msg_perm.gid = kGroup;
    ds.msg_qbytes = kQBytes;
    if (msgctl(s_q, IPC_SET, &ds) != 0) {
        wl_die("IPC_SET: %s", strerror(errno));
    }
    size_t rootBytes = 0, kBytes = 0;
    unsigned rootLeft = 0;
    for (unsigned i = 0; i < kMessages; ++i) {
        struct message m;
        size_t length = 0;
        make(i, &m, &length);
        if (msgsnd(s_q, &m, length, IPC_NOWAIT) != 0) {
            wl_die("msgsnd %u: %s", i, strerror(errno));
        }
        if (m.type != 3) {
            rootBytes += length;
            ++rootLeft;
        }
    }
    for (unsigned i = 1000; i < 1000 + kKMessages; ++i) {
        kBytes += lengthOf(i);
    }
    const pid_t k = fork();
    if (k < 0) {
        wl_die("fork: %s", strerror(errno));
    }
    if (k == 0) {
        childK();
    }
    // K has set up once the queue holds what it should.
    for (int i = 0;; ++i) {
        if (msgctl(s_q, IPC_STAT, &ds) == 0 && ds.msg_qnum == rootLeft + kKMessages && ds.msg_lspid == k) {
            break;
        }
        if (i == 300) {
            wl_die("K did not set up the queue");
        }
        wl_sleep_ms(10);
    }
    wl_run(NULL, sabotage, 50);
    if (msgctl(s_q, IPC_STAT, &ds) != 0) {
        wl_fail("root: IPC_STAT of queue %d: %s", s_q, strerror(errno));
    } else {
        wl_check(ds.msg_perm.__key == s_key, "root: the queue has key %#x, expected %#x", (unsigned)ds.msg_perm.__key, (unsigned)s_key);
        wl_check((ds.msg_perm.mode & 0777) == 0620, "root: the queue has mode %o, expected 620", ds.msg_perm.mode & 0777);
        wl_check(ds.msg_perm.uid == getuid() && ds.msg_perm.gid == kGroup, "root: the queue belongs to %u:%u, expected %u:%u", (unsigned)ds.msg_perm.uid,
                 (unsigned)ds.msg_perm.gid, (unsigned)getuid(), (unsigned)kGroup);
        wl_check(ds.msg_qbytes == kQBytes, "root: the queue's size limit is %lu, expected %u", (unsigned long)ds.msg_qbytes, (unsigned)kQBytes);
        wl_check(ds.msg_qnum == rootLeft + kKMessages && ds.__msg_cbytes == rootBytes + kBytes,
                 "root: the queue holds %lu messages of %lu bytes, expected %u of %zu", (unsigned long)ds.msg_qnum, (unsigned long)ds.__msg_cbytes,
                 rootLeft + kKMessages, rootBytes + kBytes);
        wl_check(ds.msg_lspid == k && ds.msg_lrpid == k, "root: the queue's last sender and receiver are %d and %d, expected K (%d)", (int)ds.msg_lspid,
                 (int)ds.msg_lrpid, (int)k);
    }
    const int found = msgget(s_key, 0);
    wl_check(found == s_q, "root: msgget of the queue's key finds %d, expected %d", found, s_q);
    for (unsigned i = 0; i < kMessages; ++i) {
        if (typeOf(i) != 3) {
            struct message m;
            checkMessage("root", i, &m, take(&m, kKType, MSG_EXCEPT));
        }
    }
    sendToken(kToken);
    struct message answer;
    if (take(&answer, kAnswer, 0) < 0) {
        wl_fail("root: K's answer did not arrive: %s", strerror(errno));
    }
    wl_collect(k, "K", "sysvmsg.K");
    if (msgctl(s_q, IPC_STAT, &ds) == 0) {
        wl_check(ds.msg_qnum == 0, "root: %lu messages left at the end", (unsigned long)ds.msg_qnum);
    }
    msgctl(s_q, IPC_RMID, NULL);
    return wl_finish();
}
