// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A restore that fails in one process of a tree in the middle of a step
// that runs in every process at once (the parallel drive, paralleldrive.h)
// leaves nothing behind and names that process. wl_tree (root, A, B, C with
// two more threads, A's child G) is checkpointed with --kill; edited copies
// of the image (through backend/image) break one process each:
//   - state: B's cwd is a directory that does not exist: its chdir fails in
//     the state step, while the other processes restore their task,
//     dispositions, threads (C's two) and credentials;
//   - memory: C's first file mapping names another inode: the check after
//     its VMAs' batch fails in the memory step, while the others map theirs.
// Each copy is restored with the parallel drive (the default) and one
// process after the other ($CRYOPOD_RESTORE_PARALLEL=0); every time the
// restore fails with the right errno, naming the process and the step, and
// afterwards no pid or tid of the image exists (not even as a zombie) and
// we have no child. With the drive, C is then often in the middle of an
// injected clone3 for one of its threads when B fails: the clean-up must
// know that thread too (it hung here, waiting for C's leader, while the
// drive gave up the clone3's wait). Then the unedited image restores and
// the tree passes its own checks at go.
//
//   cr_tree_midfail WL_TREE
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "engine.h"

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <variant>
#include <vector>

namespace
{

namespace image = cryopod::image;

const char *const kName = "cr_tree_midfail";

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail(kName, message);
}

template<typename Record>
Record *recordOf(std::vector<image::Section> &sections, pid_t pid)
{
    for (image::Section &section : sections) {
        if (auto *record = std::get_if<Record>(&section); record && record->pid == pid) {
            return record;
        }
    }
    failTest("the image has no such record for " + std::to_string(pid));
}

// Every pid and tid the image's tree holds.
std::vector<pid_t> tidsOf(std::vector<image::Section> &sections)
{
    std::vector<pid_t> tids;
    for (image::Section &section : sections) {
        if (auto *tree = std::get_if<image::ProcessTreeRecord>(&section)) {
            for (const image::ProcessEntry &entry : tree->processes) {
                tids.insert(tids.end(), entry.tids.begin(), entry.tids.end());
            }
        }
    }
    return tids;
}

void expectFailure(const std::string &path, const std::vector<pid_t> &tids, pid_t culprit, int code, const std::string &says, bool serial)
{
    const char *mode = serial ? "serial" : "parallel";
    ::setenv("CRYOPOD_RESTORE_PARALLEL", serial ? "0" : "1", 1);
    auto restored = crtest::restoreFromFile(path);
    ::unsetenv("CRYOPOD_RESTORE_PARALLEL");
    if (restored) {
        failTest(std::string("the broken image ") + path + " was restored (" + mode + ")");
    }
    const std::string message = restored.error().describe();
    std::printf("refused (%s): %s\n", mode, message.c_str());
    if (restored.error().code != code || message.find("restore process " + std::to_string(culprit) + " (") == std::string::npos ||
        message.find(says) == std::string::npos) {
        failTest(std::string("the failure (") + mode + ") does not name process " + std::to_string(culprit) + ", its step and \"" + says + "\" with errno " +
                 std::to_string(code) + ": " + message);
    }
    while (::waitpid(-1, nullptr, WNOHANG | __WALL) > 0) { }
    for (const pid_t tid : tids) {
        if (crtest::exists(tid)) {
            failTest("pid " + std::to_string(tid) + " exists after the failed restore (" + mode + "), state " + crtest::stateOf(tid));
        }
    }
    if (!crtest::childrenOf(::getpid()).empty()) {
        failTest(std::string("the failed restore (") + mode + ") left a child of ours");
    }
}

// A copy of the image at `to`, edited by `edit`.
void editedCopy(const std::string &from, const std::string &to, const std::function<void(std::vector<image::Section> &)> &edit)
{
    image::Header header;
    std::vector<image::Section> sections = crtest::readImage(kName, from, &header);
    edit(sections);
    crtest::writeImage(kName, to, header, sections);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: cr_tree_midfail WL_TREE\n");
        return 2;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
    const std::string stateDir = crtest::makeStateDir(kName);
    const pid_t root = crtest::startWorkload(kName, argv[1], stateDir);
    const std::vector<pid_t> children = crtest::childrenOf(root); // A, B, C
    if (children.size() != 3) {
        failTest("the tree has " + std::to_string(children.size()) + " children, expected 3");
    }
    const pid_t b = children[1];
    const pid_t c = children[2];
    const std::vector<pid_t> tree = crtest::treeOf(root);
    const std::string imagePath = stateDir + "/image";
    if (auto result = crtest::checkpointToFile(root, imagePath, false); !result) {
        failTest("checkpoint --kill: " + result.error().describe());
    }
    crtest::killAndWaitGone(kName, tree); // dead already: reaped

    image::Header header;
    std::vector<image::Section> sections = crtest::readImage(kName, imagePath, &header);
    const std::vector<pid_t> tids = tidsOf(sections);
    if (tids.size() != tree.size() + 2) {
        failTest("the image holds " + std::to_string(tids.size()) + " threads, expected " + std::to_string(tree.size() + 2));
    }

    const std::string noCwd = stateDir + "/image.nocwd";
    const std::string missing = stateDir + "/no-such-directory";
    editedCopy(imagePath, noCwd, [&](std::vector<image::Section> &s) { recordOf<image::TaskRecord>(s, b)->cwd = missing; });
    const std::string otherInode = stateDir + "/image.inode";
    editedCopy(imagePath, otherInode, [&](std::vector<image::Section> &s) {
        for (image::VmaRecord &vma : recordOf<image::MmRecord>(s, c)->vmas) {
            if (vma.kind == image::VmaKind::FilePrivate && vma.shm == 0 && vma.path.starts_with("/")) {
                vma.ino += 1000003;
                return;
            }
        }
        failTest("C maps no file");
    });
    for (const bool serial : {false, true}) {
        expectFailure(noCwd, tids, b, ENOENT, "chdir " + missing, serial);
        expectFailure(otherInode, tids, c, ESTALE, "replaced since the checkpoint", serial);
    }

    if (auto restored = crtest::restoreFromFile(imagePath); !restored) {
        failTest("restore of the unedited image: " + restored.error().describe());
    }
    crtest::letGoAndCheck(kName, root, stateDir);
    std::printf("cr_tree_midfail: ok\n");
    return 0;
}
