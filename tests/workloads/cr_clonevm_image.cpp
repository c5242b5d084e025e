// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// An image of processes sharing an address space (ProcessEntry::vmOf,
// format 9) is checked before anything is made. wl_clonevm (a root R, its
// CLONE_VM children V and W, its fork child N) is checkpointed and killed;
// the image must name R as the address space of V and W (not of R and N) and
// hold no Mm record of V or W. Two copies are made with backend/image's
// reader and writer:
// - N's vmOf names V, whose address space is not N's parent's;
// - V has an Mm record of its own (a copy of R's).
// Each must be refused with a message naming the process and the address
// space it shares, and leave no process behind. The unedited image then
// restores and the workload passes its checks at go.
//
//   cr_clonevm_image WL_CLONEVM
//
// Plain C++ without QtTest: exits 0 on success, 1 with a message otherwise.

#include "crtest.h"
#include "engine.h"
#include "uniquefd.h"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <fcntl.h>
#include <string>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <type_traits>
#include <unistd.h>
#include <variant>
#include <vector>

namespace
{

namespace image = cryopod::image;

[[noreturn]] void failTest(const std::string &message)
{
    crtest::fail("cr_clonevm_image", message);
}

uint64_t loadLe(const std::string &bytes, size_t at, size_t width)
{
    uint64_t value = 0;
    for (size_t i = width; i-- > 0;) {
        value = (value << 8) | uint8_t(bytes.at(at + i));
    }
    return value;
}

// Replaces the ProcessTree section (the first after the header) of the
// image at `to` by the one of the image at `from`, which must be as long.
void spliceTreeSection(const std::string &from, const std::string &to)
{
    const std::string a = crtest::readFile(from), b = crtest::readFile(to);
    auto treeRange = [](const std::string &bytes) {
        const size_t header = 16 + loadLe(bytes, 12, 4) + 8; // prefix, field block, checksum
        const size_t section = 24 + loadLe(bytes, header + 8, 8) + 8; // frame header, payload, checksum
        return std::pair(header, section);
    };
    const auto [headerA, sectionA] = treeRange(a);
    const auto [headerB, sectionB] = treeRange(b);
    if (headerA != headerB || sectionA != sectionB) {
        failTest("the tree sections of " + from + " and " + to + " differ in length");
    }
    const std::string out = b.substr(0, headerB) + a.substr(headerA, sectionA) + b.substr(headerB + sectionB);
    cryopod::UniqueFd fd(::open(to.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
    if (!fd.valid() || ::write(fd.get(), out.data(), out.size()) != ssize_t(out.size())) {
        failTest("write " + to);
    }
}

image::ProcessTreeRecord &treeOf(std::vector<image::Section> &sections)
{
    auto *tree = std::get_if<image::ProcessTreeRecord>(&sections.front());
    if (!tree || tree->processes.size() != 4) {
        failTest("the image does not start with a tree of 4 processes");
    }
    return *tree;
}

void expectRefused(const std::string &path, const std::string &part, const std::vector<pid_t> &tree, const char *what)
{
    auto restored = crtest::restoreFromFile(path);
    if (restored) {
        failTest(std::string("the image with ") + what + " was restored");
    }
    const std::string message = restored.error().describe();
    std::printf("refused (%s): %s\n", what, message.c_str());
    if (message.find(part) == std::string::npos) {
        failTest(std::string("the refusal (") + what + ") does not say \"" + part + "\": " + message);
    }
    crtest::expectNothingLeft("cr_clonevm_image", tree);
}

} // namespace

int main(int argc, char **argv)
{
    if (argc != 2) {
        std::fprintf(stderr, "usage: cr_clonevm_image WL_CLONEVM\n");
        return 2;
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    std::signal(SIGPIPE, SIG_IGN);
    const std::string stateDir = crtest::makeStateDir("cr_clonevm_image");
    const pid_t root = crtest::startWorkload("cr_clonevm_image", argv[1], stateDir);
    const std::vector<pid_t> tree = crtest::treeOf(root);
    if (tree.size() != 4) {
        failTest("wl_clonevm's tree has " + std::to_string(tree.size()) + " processes, expected 4");
    }
    // V alone: its address space is R's, outside the checkpoint.
    {
        const std::vector<pid_t> children = crtest::childrenOf(root);
        const pid_t v = children.empty() ? 0 : children.front();
        auto refused = crtest::checkpointToFile(v, stateDir + "/image.v", true);
        if (refused) {
            failTest("the checkpoint of V alone (its address space shared with its parent outside) succeeded");
        }
        const std::string message = refused.error().describe();
        std::printf("V alone: %s\n", message.c_str());
        const std::string part = "shares its address space with process " + std::to_string(root) +
            " (wl_clonevm) outside the checkpoint (CLONE_VM): it "
            "cannot be shared again after a restore";
        if (refused.error().code != ENOTSUP || message.find(part) == std::string::npos) {
            failTest("the refusal of V alone is not ENOTSUP naming \"" + part + "\": " + message);
        }
        for (const pid_t pid : tree) {
            const char state = crtest::stateOf(pid);
            if (state == 't' || state == 'T') {
                failTest("process " + std::to_string(pid) + " is stopped after the refused checkpoint");
            }
        }
    }
    const std::string imagePath = stateDir + "/image";
    if (auto result = crtest::checkpointToFile(root, imagePath, false); !result) {
        failTest("checkpoint --kill: " + result.error().describe());
    }
    crtest::killAndWaitGone("cr_clonevm_image", tree);

    image::Header header;
    const std::vector<image::Section> original = crtest::readImage("cr_clonevm_image", imagePath, &header);
    std::vector<image::Section> sections = original;
    const image::ProcessTreeRecord &recorded = treeOf(sections);
    // R, then V and W (made by clone(CLONE_VM) in R), then N (fork).
    std::vector<int32_t> sharers;
    int32_t forked = 0;
    for (const image::ProcessEntry &p : recorded.processes) {
        if (p.pid == root) {
            if (p.vmOf != 0) {
                failTest("the root names an address space of another process: " + std::to_string(p.vmOf));
            }
        } else if (p.vmOf == root) {
            sharers.push_back(p.pid);
        } else if (p.vmOf == 0) {
            forked = p.pid;
        } else {
            failTest("process " + std::to_string(p.pid) + " names the address space of " + std::to_string(p.vmOf));
        }
    }
    if (sharers.size() != 2 || forked == 0) {
        failTest("the image does not name the root's address space for exactly V and W");
    }
    const image::MmRecord *rootMm = nullptr;
    for (const image::Section &section : sections) {
        if (const auto *mm = std::get_if<image::MmRecord>(&section)) {
            if (std::ranges::find(sharers, mm->pid) != sharers.end()) {
                failTest("the image holds an Mm record of " + std::to_string(mm->pid) + ", which shares the root's address space");
            }
            if (mm->pid == root) {
                rootMm = mm;
            }
        }
    }
    if (!rootMm) {
        failTest("the image holds no Mm record of the root");
    }
    const int32_t v = sharers.front();

    // N's vmOf names V: not its parent's address space (N's Mm record and
    // pages go, as for any process with vmOf: the writer checks that).
    const std::string notParent = stateDir + "/image.notparent";
    for (image::ProcessEntry &p : treeOf(sections).processes) {
        if (p.pid == forked) {
            p.vmOf = v;
        }
    }
    std::erase_if(sections, [&](const image::Section &section) {
        const auto *mm = std::get_if<image::MmRecord>(&section);
        const auto *pages = std::get_if<image::PagesRecord>(&section);
        return (mm && mm->pid == forked) || (pages && pages->pid == forked);
    });
    crtest::writeImage("cr_clonevm_image", notParent, header, sections);
    expectRefused(notParent,
                  "image process " + std::to_string(forked) + " shares the address space of " + std::to_string(v) + ", which its parent does not have", tree,
                  "a vmOf that is not the parent's");

    // V with an Mm record of its own (a copy of the root's, right after it).
    // The writer checks what it writes, so the image is written with V's
    // own address space and then gets the original tree section (the same
    // length: only V's vmOf differs; every section has its own checksum).
    sections = original;
    const std::string ownMm = stateDir + "/image.ownmm";
    for (image::ProcessEntry &p : treeOf(sections).processes) {
        if (p.pid == v) {
            p.vmOf = 0;
        }
    }
    for (size_t i = 0; i < sections.size(); ++i) {
        if (const auto *mm = std::get_if<image::MmRecord>(&sections[i]); mm && mm->pid == root) {
            image::MmRecord copy = *mm;
            copy.pid = v;
            sections.insert(sections.begin() + ptrdiff_t(i) + 1, std::move(copy));
            break;
        }
    }
    crtest::writeImage("cr_clonevm_image", ownMm, header, sections);
    crtest::writeImage("cr_clonevm_image", stateDir + "/image.same", header, original);
    spliceTreeSection(stateDir + "/image.same", ownMm);
    expectRefused(ownMm, "Mm record for pid " + std::to_string(v) + ", which shares another process's address space", tree, "an Mm record of a sharer");

    if (auto restored = crtest::restoreFromFile(imagePath); !restored) {
        failTest("restore of the unedited image: " + restored.error().describe());
    }
    crtest::letGoAndCheck("cr_clonevm_image", root, stateDir);
    std::printf("cr_clonevm_image: ok\n");
    return 0;
}
