// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
#include "sharing.h"

#include "unixsockets.h"

#include <algorithm>
#include <linux/kcmp.h>
#include <set>
#include <sys/syscall.h>
#include <unistd.h>

namespace cryopod::engine
{

namespace
{

bool isPipeOrSocket(image::FdKind kind)
{
    return kind == image::FdKind::Pipe || kind == image::FdKind::Fifo || kind == image::FdKind::UnixSocket;
}

// Follows `remap` (dropped object id -> the id kept instead) to the end.
uint64_t resolve(const std::map<uint64_t, uint64_t> &remap, uint64_t id)
{
    for (auto it = remap.find(id); it != remap.end(); it = remap.find(id)) {
        id = it->second;
    }
    return id;
}

struct Owner {
    pid_t pid;
    const image::FdRecord *fd;
};

} // namespace

// ---- dump

Result<void> linkSharedFiles(const std::vector<std::pair<pid_t, FilesDump *>> &dumps)
{
    // Ids unique across the tree.
    uint64_t base = 0;
    for (const auto &[pid, dump] : dumps) {
        uint64_t top = base;
        for (image::FileObjectRecord &object : dump->objects) {
            object.id += base;
            if (object.peer != 0) {
                object.peer += base;
            }
            top = std::max(top, object.id);
        }
        for (image::FdRecord &fd : dump->files.fds) {
            if (fd.object != 0) {
                fd.object += base;
            }
        }
        base = top;
    }

    std::map<uint64_t, uint64_t> remap;
    // The same open file description in an earlier process: only fds of the
    // same file can share one, kcmp(KCMP_FILE) compares just those.
    std::map<std::pair<uint64_t, uint64_t>, std::vector<Owner>> earlier; // (dev, ino) -> descriptions of earlier processes
    for (const auto &[pid, dump] : dumps) {
        std::vector<Owner> mine;
        std::set<int32_t> dropData;
        for (image::FdRecord &fd : dump->files.fds) {
            if (fd.dupOf != -1) {
                continue;
            }
            for (const Owner &o : earlier[{fd.dev, fd.ino}]) {
                if (o.fd->kind != fd.kind) {
                    continue;
                }
                const long same = ::syscall(SYS_kcmp, o.pid, pid, KCMP_FILE, o.fd->fd, fd.fd);
                if (same < 0) {
                    return sysError("files of " + std::to_string(pid) + ": kcmp fd " + std::to_string(fd.fd) + " and fd " + std::to_string(o.fd->fd) + " of " +
                                    std::to_string(o.pid));
                }
                if (same != 0) {
                    continue;
                }
                fd.sharedPid = o.pid;
                fd.sharedFd = o.fd->fd;
                fd.pos = o.fd->pos;
                fd.openFlags = o.fd->openFlags;
                fd.size = o.fd->size;
                if (fd.object != 0 && fd.object != o.fd->object) {
                    remap[fd.object] = o.fd->object;
                }
                if (fd.unlinked) {
                    dropData.insert(fd.fd);
                }
                break;
            }
            if (fd.sharedPid == 0) {
                mine.push_back(Owner {pid, &fd});
            }
        }
        // A dup of a description taken over shares it too.
        for (image::FdRecord &fd : dump->files.fds) {
            if (fd.dupOf != -1 && fd.unlinked) {
                const auto owner = std::find_if(dump->files.fds.begin(), dump->files.fds.end(), [&](const image::FdRecord &o) { return o.fd == fd.dupOf; });
                if (owner != dump->files.fds.end() && owner->sharedPid != 0) {
                    dropData.insert(fd.fd);
                }
            }
        }
        std::erase_if(dump->data, [&](const image::FileDataRecord &d) { return dropData.contains(d.fd); });
        for (const Owner &o : mine) {
            earlier[{o.fd->dev, o.fd->ino}].push_back(o);
        }
    }

    // One pipe, FIFO or socket: one object, the first process's.
    std::map<std::pair<uint64_t, uint64_t>, uint64_t> byInode; // (dev, ino) -> id kept
    for (const auto &[pid, dump] : dumps) {
        for (const image::FdRecord &fd : dump->files.fds) {
            if (!isPipeOrSocket(fd.kind) || fd.object == 0) {
                continue;
            }
            const uint64_t id = resolve(remap, fd.object);
            const auto [kept, inserted] = byInode.emplace(std::pair(fd.dev, fd.ino), id);
            if (!inserted && kept->second != id) {
                remap[id] = kept->second;
            }
        }
    }

    std::map<uint64_t, image::FileObjectRecord *> objects;
    std::map<pid_t, size_t> order;
    for (const auto &[pid, dump] : dumps) {
        order[pid] = order.size();
        for (image::FileObjectRecord &object : dump->objects) {
            objects[object.id] = &object;
        }
    }
    // A pipe's bytes come from a process that could read them.
    for (const auto &[from, to] : remap) {
        image::FileObjectRecord *dropped = objects.at(from);
        image::FileObjectRecord *kept = objects.at(resolve(remap, to));
        if (kept->data.empty() && !dropped->data.empty()) {
            kept->data = std::move(dropped->data);
        }
    }
    for (const auto &[pid, dump] : dumps) {
        for (image::FdRecord &fd : dump->files.fds) {
            if (fd.object != 0) {
                fd.object = resolve(remap, fd.object);
            }
        }
    }

    // Sockets connected across processes: peers named both ways, both made
    // by the earlier process.
    std::map<uint64_t, uint64_t> socketIds; // inode -> id
    for (const auto &[key, id] : byInode) {
        if (!remap.contains(id) && objects.at(id)->kind == image::FileObjectKind::UnixSocket) {
            socketIds[key.second] = id;
        }
    }
    for (const auto &[ino, id] : socketIds) {
        image::FileObjectRecord &object = *objects.at(id);
        if (object.peer != 0) {
            continue;
        }
        const auto info = unixSocketInfo(uint32_t(ino));
        if (!info || info->peer == 0) {
            continue; // its peer was closed
        }
        const auto peer = socketIds.find(info->peer);
        if (peer == socketIds.end()) {
            return fail("socket:[" + std::to_string(ino) + "] is connected to socket:[" + std::to_string(info->peer) +
                            "], which no process of the tree has open",
                        ENOTCONN);
        }
        image::FileObjectRecord &other = *objects.at(peer->second);
        object.peer = other.id;
        other.peer = object.id;
        const pid_t owner = order.at(object.ownerPid) <= order.at(other.ownerPid) ? object.ownerPid : other.ownerPid;
        object.ownerPid = owner;
        other.ownerPid = owner;
    }

    for (const auto &[pid, dump] : dumps) {
        std::erase_if(dump->objects, [&](const image::FileObjectRecord &o) { return remap.contains(o.id); });
    }
    return {};
}

// ---- restore

image::FilesRecord ownerView(pid_t pid, const std::vector<const image::FilesRecord *> &allFiles, const std::map<uint64_t, pid_t> &objectOwners,
                             ForeignFds &foreign)
{
    auto ownerOf = [&](uint64_t id) {
        const auto it = objectOwners.find(id);
        return it == objectOwners.end() ? pid_t(0) : it->second;
    };
    image::FilesRecord view;
    view.pid = pid;
    for (const image::FilesRecord *files : allFiles) {
        if (files->pid == pid) {
            for (image::FdRecord fd : files->fds) {
                if (!namesFileObject(fd) || ownerOf(fd.object) != pid) {
                    fd.object = 0;
                }
                if (fd.sharedPid != 0) {
                    fd.object = 0;
                }
                view.fds.push_back(std::move(fd));
            }
        }
    }
    // Below every fd of the image: never a number a real fd has.
    int32_t next = -2;
    for (const image::FilesRecord *files : allFiles) {
        if (files->pid == pid) {
            continue;
        }
        for (const image::FdRecord &fd : files->fds) {
            if (!namesFileObject(fd) || fd.dupOf != -1 || fd.sharedPid != 0 || ownerOf(fd.object) != pid) {
                continue;
            }
            image::FdRecord copy = fd;
            copy.fd = next;
            foreign.keys[{files->pid, fd.fd}] = next--;
            view.fds.insert(view.fds.begin(), std::move(copy));
        }
    }
    std::sort(view.fds.begin(), view.fds.end(), [](const image::FdRecord &a, const image::FdRecord &b) { return a.fd < b.fd; });
    return view;
}

} // namespace cryopod::engine
