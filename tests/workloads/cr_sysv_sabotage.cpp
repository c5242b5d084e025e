// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A restore whose SysV IPC ids or keys are taken is refused, touches
// nothing and leaves nothing behind. A SysV workload (wl_sysvshm, ...,
// listing its objects in STATEDIR/sysv as "shm|msg|sem ID KEY") is
// checkpointed and left running:
// 1. id taken: restored while the original still holds its objects. The
//    restore fails with EEXIST saying the id is in use; the original tree
//    runs on (not stopped, not traced), the IPC namespace lists exactly the
//    objects it listed before, kernel.*_next_id are as before, no process
//    of the restore exists.
// 2. key taken: the original is killed and its objects removed; another
//    object takes the key of the first keyed one. The restore fails with
//    EEXIST saying the key is in use, the blocker is untouched, nothing else
//    is made.
// 3. Once the key is free the same image restores, and the restored tree
//    passes its own checks at go.
//
//   cr_sysv_sabotage WORKLOAD
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "engine.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <set>
#include <sstream>
#include <string>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <unistd.h>
#include <vector>

namespace
{

std::string s_stateDir;

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_sysv_sabotage", message);
}

using crtest::childrenOf;
using crtest::exists;
using crtest::readFile;
using crtest::treeOf;

struct Object {
    std::string kind; // shm, msg, sem
    int id = -1;
    key_t key = 0;
};

std::vector<Object> listed()
{
    std::vector<Object> objects;
    std::istringstream in(readFile(s_stateDir + "/sysv"));
    Object o;
    long long key = 0;
    while (in >> o.kind >> o.id >> key) {
        o.key = key_t(key);
        objects.push_back(o);
    }
    return objects;
}

std::vector<Object> s_objects; // the workload's

// The objects of the IPC namespace with an id or key of the workload's
// (other programs may make and remove others meanwhile): (kind, key, id).
std::set<std::tuple<std::string, long long, long long>> namespaceObjects()
{
    auto ours = [](const std::string &kind, long long key, long long id) {
        for (const Object &o : s_objects) {
            if (o.kind == kind && (o.id == id || (o.key != IPC_PRIVATE && o.key == key))) {
                return true;
            }
        }
        return false;
    };
    std::set<std::tuple<std::string, long long, long long>> all;
    for (const char *kind : {"shm", "msg", "sem"}) {
        std::istringstream in(readFile(std::string("/proc/sysvipc/") + kind));
        std::string line;
        std::getline(in, line);
        while (std::getline(in, line)) {
            std::istringstream fields(line);
            long long key = 0, id = 0;
            if (fields >> key >> id && ours(kind, key, id)) {
                all.emplace(kind, key, id);
            }
        }
    }
    return all;
}

std::string nextIds()
{
    return readFile("/proc/sys/kernel/shm_next_id") + readFile("/proc/sys/kernel/msg_next_id") + readFile("/proc/sys/kernel/sem_next_id");
}

int removeObject(const std::string &kind, int id)
{
    return kind == "shm" ? ::shmctl(id, IPC_RMID, nullptr) : kind == "msg" ? ::msgctl(id, IPC_RMID, nullptr) : ::semctl(id, 0, IPC_RMID);
}

int makeObject(const std::string &kind, key_t key)
{
    return kind == "shm" ? ::shmget(key, 4096, IPC_CREAT | IPC_EXCL | 0600)
        : kind == "msg"  ? ::msgget(key, IPC_CREAT | IPC_EXCL | 0600)
                         : ::semget(key, 1, IPC_CREAT | IPC_EXCL | 0600);
}

// The pids of pid's tree (pid first).
// The restore must fail with EEXIST, saying `says`, and leave everything as
// it was: the namespace's objects of the workload's ids and keys, the
// next_id sysctls, our children.
void expectRefused(const std::string &image, const std::string &says, const std::set<pid_t> &mayLive, const char *which)
{
    const auto objectsBefore = namespaceObjects();
    const std::string idsBefore = nextIds();
    const int in = ::open(image.c_str(), O_RDONLY | O_CLOEXEC);
    auto result = cryopod::engine::restore(in, cryopod::engine::RestoreOptions {});
    ::close(in);
    if (result) {
        failTest(std::string(which) + ": the restore succeeded");
    }
    const std::string message = result.error().describe();
    std::printf("%s: restore failed: %s\n", which, message.c_str());
    if (result.error().code != EEXIST || message.find(says) == std::string::npos) {
        failTest(std::string(which) + ": the error is not EEXIST saying \"" + says + "\": " + message);
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
    for (const pid_t child : childrenOf(::getpid())) {
        if (!mayLive.contains(child)) {
            failTest(std::string(which) + ": the failed restore left our child " + std::to_string(child));
        }
    }
    if (namespaceObjects() != objectsBefore) {
        failTest(std::string(which) + ": the IPC namespace's objects changed (the failed restore made or removed one)");
    }
    if (nextIds() != idsBefore) {
        failTest(std::string(which) + ": kernel.*_next_id changed from " + idsBefore + " to " + nextIds());
    }
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: cr_sysv_sabotage WORKLOAD\n");
        return 2;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
    s_stateDir = crtest::makeStateDir("cr_sysv_sabotage");
    const pid_t root = crtest::startWorkload("cr_sysv_sabotage", argv[1], s_stateDir);
    s_objects = listed();
    const std::vector<Object> &objects = s_objects;
    if (objects.empty()) {
        failTest("the workload lists no SysV objects in STATEDIR/sysv");
    }
    auto removeListed = [&objects] {
        for (const Object &o : objects) {
            removeObject(o.kind, o.id);
        }
    };
    const std::string image = s_stateDir + "/image";
    if (auto result = crtest::checkpointToFile(root, image, true); !result) {
        removeListed();
        failTest("checkpoint: " + result.error().describe());
    }

    // 1. The original runs on and holds its ids.
    const std::vector<pid_t> tree = treeOf(root);
    expectRefused(image, "the id is in use", {root}, "id taken");
    for (const pid_t pid : tree) {
        const char state = crtest::stateOf(pid);
        if ((state != 'S' && state != 'R') || crtest::tracerOf(pid) != 0) {
            removeListed();
            failTest("process " + std::to_string(pid) + " of the original changed: state " + std::string(1, state) + ", tracer " +
                     std::to_string(crtest::tracerOf(pid)));
        }
    }

    // 2. The original goes, another object takes a key.
    crtest::killAndWaitGone("cr_sysv_sabotage", tree, removeListed);
    removeListed();
    for (const Object &o : objects) {
        if (o.key == IPC_PRIVATE) {
            continue;
        }
        const int blocker = makeObject(o.kind, o.key);
        if (blocker < 0) {
            failTest("make an object with key " + std::to_string(o.key) + ": " + std::strerror(errno));
        }
        expectRefused(image, "the key is in use", {}, "key taken");
        for (const pid_t pid : tree) {
            if (exists(pid)) {
                removeObject(o.kind, blocker);
                failTest("pid " + std::to_string(pid) + " exists after the failed restore");
            }
        }
        if (removeObject(o.kind, blocker) != 0) {
            failTest("the blocker " + o.kind + " " + std::to_string(blocker) + " is gone after the failed restore: " + std::strerror(errno));
        }
        break;
    }

    // 3. Everything free: the same image restores and passes.
    if (auto restored = crtest::restoreFromFile(image); !restored) {
        failTest("restore once every id and key is free: " + restored.error().describe());
    }
    crtest::letGoAndCheck("cr_sysv_sabotage", root, s_stateDir, removeListed);
    std::printf("cr_sysv_sabotage: ok\n");
    return 0;
}
