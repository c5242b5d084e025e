// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotdiff.h"

#include "bulkcodec.h"
#include "chunkhash.h"
#include "chunkreader.h"
#include "manifest.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "storelock.h"

#include <format>
#include <map>
#include <set>
#include <unordered_map>

namespace cryopod::store
{

namespace
{
using image::FdRecord;
using image::VmaRecord;

// A page's identity: its chunk id (same content, same id). Pages of sections
// kept as bytes get the id of their content's chunk when the store has one,
// else a key of their own per distinct content.
using PageKey = int64_t;

struct Loaded {
    image::Header header;
    image::ProcessTreeRecord tree;
    std::map<int32_t, image::TaskRecord> tasks;
    std::map<int32_t, image::CredsRecord> creds;
    std::map<int32_t, image::FilesRecord> files;
    std::map<int32_t, image::MmRecord> mms;
    std::map<int32_t, std::map<uint64_t, PageKey>> pages; // pid -> vaddr -> key
};

class Loader
{
public:
    explicit Loader(SnapshotStore &store)
        : m_store(store)
        , m_reader(store)
    {
    }

    Result<Loaded> load(int64_t id)
    {
        auto manifest = Manifest::load(m_store.database(), id);
        if (!manifest) {
            return std::unexpected(manifest.error());
        }
        Loaded out;
        std::vector<uint8_t> bytes;
        for (const ManifestEntry &e : *manifest) {
            CRYOPOD_PROPAGATE(Manifest::validate(e));
            if (e.kind == ManifestKind::Bulk) {
                if (e.sectionType != uint32_t(image::SectionType::Pages)) {
                    continue;
                }
                auto fields = m_reader.read(e.fieldChunk);
                if (!fields) {
                    return std::unexpected(fields.error());
                }
                image::PagesRecord record;
                auto length = image::SectionBytes::decodePagesFields(*fields, record);
                if (!length) {
                    return std::unexpected(length.error());
                }
                CRYOPOD_PROPAGATE(place(out, record, e.chunks, out.header.pageSize));
                continue;
            }
            bytes.resize(e.dataBytes);
            CRYOPOD_PROPAGATE(m_reader.readInto(e.chunks, e.chunkSize, bytes));
            if (e.seq == 0) {
                auto header = image::SectionBytes::decodeHeader(bytes);
                if (!header) {
                    return std::unexpected(header.error());
                }
                out.header = *header;
                continue;
            }
            if (e.sectionType == uint32_t(image::SectionType::FileData)) {
                continue;
            }
            if (e.sectionType == uint32_t(image::SectionType::Pages)) {
                CRYOPOD_PROPAGATE(placeVerbatim(out, bytes));
                continue;
            }
            auto section = image::SectionBytes::decode(bytes, out.header);
            if (!section) {
                return std::unexpected(section.error());
            }
            if (auto *t = std::get_if<image::ProcessTreeRecord>(&*section)) {
                out.tree = std::move(*t);
            } else if (auto *task = std::get_if<image::TaskRecord>(&*section)) {
                out.tasks[task->pid] = std::move(*task);
            } else if (auto *c = std::get_if<image::CredsRecord>(&*section)) {
                out.creds[c->pid] = std::move(*c);
            } else if (auto *f = std::get_if<image::FilesRecord>(&*section)) {
                out.files[f->pid] = std::move(*f);
            } else if (auto *mm = std::get_if<image::MmRecord>(&*section)) {
                out.mms[mm->pid] = std::move(*mm);
            }
        }
        return out;
    }

private:
    static Result<void> place(Loaded &out, const image::PagesRecord &record, std::span<const int64_t> keys, uint32_t pageSize)
    {
        auto &map = out.pages[record.pid];
        size_t i = 0;
        for (const image::PageRun &run : record.runs) {
            for (uint32_t p = 0; p < run.pages; ++p, ++i) {
                if (i >= keys.size()) {
                    return fail("the page runs hold more pages than the section's data", EBADMSG);
                }
                map[run.vaddr + uint64_t(p) * pageSize] = keys[i];
            }
        }
        return {};
    }

    Result<void> placeVerbatim(Loaded &out, std::span<const uint8_t> bytes)
    {
        auto parts = image::SectionBytes::splitBulk(bytes, out.header);
        if (!parts) {
            return std::unexpected(parts.error());
        }
        std::vector<uint8_t> data(parts->dataLength);
        CRYOPOD_PROPAGATE(m_codec.decode(parts->frame.flags, parts->stored, data));
        if (!m_lookup) {
            auto q = m_store.database().prepare("SELECT id FROM chunks WHERE hash = ?1 LIMIT 1");
            if (!q) {
                return std::unexpected(q.error());
            }
            m_lookup.emplace(std::move(*q));
        }
        std::vector<int64_t> keys;
        const uint32_t pageSize = out.header.pageSize;
        for (uint64_t at = 0; at < data.size(); at += pageSize) {
            const std::span<const uint8_t> page(data.data() + at, std::min<uint64_t>(pageSize, data.size() - at));
            if (isAllZero(page)) {
                keys.push_back(0);
                continue;
            }
            const ChunkHash hash = ChunkHash::of(page, m_store.hashSeed());
            m_lookup->bindBlob(1, hash.span());
            auto row = m_lookup->step();
            if (!row) {
                m_lookup->reset();
                return std::unexpected(row.error());
            }
            if (*row) {
                keys.push_back(m_lookup->columnInt(0));
            } else {
                auto [it, inserted] = m_ownKeys.emplace(hash, -int64_t(m_ownKeys.size() + 1));
                keys.push_back(it->second);
            }
            m_lookup->reset();
        }
        return place(out, parts->pages, keys, pageSize);
    }

    SnapshotStore &m_store;
    ChunkReader m_reader;
    image::BulkCodec m_codec;
    std::optional<SqliteStatement> m_lookup;
    std::unordered_map<ChunkHash, int64_t, ChunkHashHasher> m_ownKeys;
};

std::string regionName(const VmaRecord &v)
{
    return v.path;
}

std::string describeFd(const FdRecord &f)
{
    static const char *const kinds[] = {"regular file", "directory", "character device"};
    const char *kind = uint32_t(f.kind) < 3 ? kinds[uint32_t(f.kind)] : "fd";
    return std::format("{} ({}{}, pos {}, flags {:#o}{})", f.path, kind, f.unlinked ? ", deleted" : "", f.pos, f.openFlags, f.cloexec ? ", cloexec" : "");
}

void compareRegions(const Loaded &a, const Loaded &b, int32_t pid, DiffReport &report)
{
    static const image::MmRecord empty;
    static const std::map<uint64_t, PageKey> none;
    const auto mmA = a.mms.find(pid);
    const auto mmB = b.mms.find(pid);
    const image::MmRecord &ma = mmA != a.mms.end() ? mmA->second : empty;
    const image::MmRecord &mb = mmB != b.mms.end() ? mmB->second : empty;
    const auto pa = a.pages.find(pid);
    const auto pb = b.pages.find(pid);
    const std::map<uint64_t, PageKey> &pagesA = pa != a.pages.end() ? pa->second : none;
    const std::map<uint64_t, PageKey> &pagesB = pb != b.pages.end() ? pb->second : none;

    auto count = [&](uint64_t start, uint64_t end, RegionDiff &r) {
        auto ia = pagesA.lower_bound(start);
        auto ib = pagesB.lower_bound(start);
        while ((ia != pagesA.end() && ia->first < end) || (ib != pagesB.end() && ib->first < end)) {
            const bool haveA = ia != pagesA.end() && ia->first < end;
            const bool haveB = ib != pagesB.end() && ib->first < end;
            if (haveA && haveB && ia->first == ib->first) {
                ++r.pagesA;
                ++r.pagesB;
                if (ia->second != ib->second) {
                    ++r.changed;
                } else {
                    ++report.pagesSame;
                }
                ++ia;
                ++ib;
            } else if (haveA && (!haveB || ia->first < ib->first)) {
                ++r.pagesA;
                ++r.removed;
                ++ia;
            } else {
                ++r.pagesB;
                ++r.added;
                ++ib;
            }
        }
    };
    auto sameVma = [](const VmaRecord &x, const VmaRecord &y) {
        return x.start == y.start && x.end == y.end && x.path == y.path;
    };
    for (const VmaRecord &v : mb.vmas) {
        RegionDiff r {pid, v.start, v.end, regionName(v), "", 0, 0, 0, 0, 0};
        bool mapped = false;
        for (const VmaRecord &w : ma.vmas) {
            if (sameVma(v, w)) {
                mapped = true;
                break;
            }
        }
        if (!mapped) {
            r.mapping = "added";
        }
        count(v.start, v.end, r);
        if (r.changed || r.added || r.removed || !r.mapping.empty()) {
            report.regions.push_back(r);
        }
    }
    for (const VmaRecord &w : ma.vmas) {
        bool kept = false;
        for (const VmaRecord &v : mb.vmas) {
            if (sameVma(v, w)) {
                kept = true;
                break;
            }
        }
        if (kept) {
            continue;
        }
        RegionDiff r {pid, w.start, w.end, regionName(w), "removed", 0, 0, 0, 0, 0};
        // pages of the old region that no region of the new snapshot covers
        for (auto it = pagesA.lower_bound(w.start); it != pagesA.end() && it->first < w.end; ++it) {
            bool covered = false;
            for (const VmaRecord &v : mb.vmas) {
                if (it->first >= v.start && it->first < v.end) {
                    covered = true;
                    break;
                }
            }
            ++r.pagesA;
            if (!covered) {
                ++r.removed;
            }
        }
        report.regions.push_back(r);
    }
}

void compareFds(const Loaded &a, const Loaded &b, int32_t pid, DiffReport &report)
{
    std::map<int32_t, const FdRecord *> fa, fb;
    if (auto it = a.files.find(pid); it != a.files.end()) {
        for (const FdRecord &f : it->second.fds) {
            fa[f.fd] = &f;
        }
    }
    if (auto it = b.files.find(pid); it != b.files.end()) {
        for (const FdRecord &f : it->second.fds) {
            fb[f.fd] = &f;
        }
    }
    for (const auto &[fd, f] : fb) {
        const auto old = fa.find(fd);
        if (old == fa.end()) {
            report.fds.push_back(std::format("pid {} fd {}: opened {}", pid, fd, describeFd(*f)));
            continue;
        }
        const FdRecord &o = *old->second;
        if (o.path != f->path || o.kind != f->kind || o.dev != f->dev || o.ino != f->ino) {
            report.fds.push_back(std::format("pid {} fd {}: now {} (was {})", pid, fd, describeFd(*f), describeFd(o)));
        } else if (o.pos != f->pos || o.openFlags != f->openFlags || o.cloexec != f->cloexec || o.size != f->size || o.unlinked != f->unlinked) {
            std::string what;
            if (o.pos != f->pos) {
                what += std::format(", position {} -> {}", o.pos, f->pos);
            }
            if (o.size != f->size) {
                what += std::format(", size {} -> {}", o.size, f->size);
            }
            if (o.openFlags != f->openFlags || o.cloexec != f->cloexec) {
                what += std::format(", flags {:#o}{} -> {:#o}{}", o.openFlags, o.cloexec ? "+cloexec" : "", f->openFlags, f->cloexec ? "+cloexec" : "");
            }
            if (o.unlinked != f->unlinked) {
                what += f->unlinked ? ", deleted since" : ", no longer deleted";
            }
            report.fds.push_back(std::format("pid {} fd {}: {}{}", pid, fd, f->path, what));
        }
    }
    for (const auto &[fd, f] : fa) {
        if (!fb.contains(fd)) {
            report.fds.push_back(std::format("pid {} fd {}: closed {}", pid, fd, describeFd(*f)));
        }
    }
}

void compareProcesses(const Loaded &a, const Loaded &b, DiffReport &report)
{
    std::map<int32_t, const image::ProcessEntry *> ea, eb;
    for (const auto &e : a.tree.processes) {
        ea[e.pid] = &e;
    }
    for (const auto &e : b.tree.processes) {
        eb[e.pid] = &e;
    }
    auto comm = [](const Loaded &l, int32_t pid) {
        auto it = l.tasks.find(pid);
        return it != l.tasks.end() ? it->second.comm : std::string("?");
    };
    if (a.tree.rootPid != b.tree.rootPid) {
        report.processes.push_back(std::format("root process {} -> {}", a.tree.rootPid, b.tree.rootPid));
    }
    for (const auto &[pid, e] : eb) {
        const auto old = ea.find(pid);
        if (old == ea.end()) {
            report.processes.push_back(std::format("process {} ({}) is new, parent {}", pid, comm(b, pid), e->ppid));
            continue;
        }
        const image::ProcessEntry &o = *old->second;
        if (o.ppid != e->ppid) {
            report.processes.push_back(std::format("process {}: parent {} -> {}", pid, o.ppid, e->ppid));
        }
        if (o.pgid != e->pgid || o.sid != e->sid) {
            report.processes.push_back(std::format("process {}: group {} session {} -> group {} session {}", pid, o.pgid, o.sid, e->pgid, e->sid));
        }
        if (o.tids.size() != e->tids.size()) {
            report.processes.push_back(std::format("process {}: {} -> {} threads", pid, o.tids.size(), e->tids.size()));
        }
        const auto ta = a.tasks.find(pid);
        const auto tb = b.tasks.find(pid);
        if (ta != a.tasks.end() && tb != b.tasks.end()) {
            const image::TaskRecord &x = ta->second;
            const image::TaskRecord &y = tb->second;
            if (x.comm != y.comm) {
                report.processes.push_back(std::format("process {}: name {} -> {}", pid, x.comm, y.comm));
            }
            if (x.exePath != y.exePath) {
                report.processes.push_back(std::format("process {}: executable {} -> {}", pid, x.exePath, y.exePath));
            }
            if (x.cwd != y.cwd) {
                report.processes.push_back(std::format("process {}: working directory {} -> {}", pid, x.cwd, y.cwd));
            }
            if (x.umask != y.umask) {
                report.processes.push_back(std::format("process {}: umask {:03o} -> {:03o}", pid, x.umask, y.umask));
            }
            for (size_t r = 0; r < x.rlimits.size(); ++r) {
                if (x.rlimits[r] != y.rlimits[r]) {
                    report.processes.push_back(std::format("process {}: resource limit {} changed", pid, r));
                }
            }
        }
        const auto ca = a.creds.find(pid);
        const auto cb = b.creds.find(pid);
        if (ca != a.creds.end() && cb != b.creds.end() && !(ca->second == cb->second)) {
            const image::CredsRecord &x = ca->second;
            const image::CredsRecord &y = cb->second;
            report.processes.push_back(std::format("process {}: credentials changed (uid {}/{} -> {}/{}, gid {} -> {}, capabilities {:#x} -> {:#x})",
                                                   pid,
                                                   x.uid,
                                                   x.euid,
                                                   y.uid,
                                                   y.euid,
                                                   x.gid,
                                                   y.gid,
                                                   x.capEffective,
                                                   y.capEffective));
        }
    }
    for (const auto &[pid, e] : ea) {
        if (!eb.contains(pid)) {
            report.processes.push_back(std::format("process {} ({}) is gone", pid, comm(a, pid)));
        }
    }
}
} // namespace

Result<DiffReport> SnapshotDiff::compare(SnapshotStore &store, int64_t a, int64_t b)
{
    auto lock = StoreLock::acquire(store.directory(), StoreLock::Mode::Shared, true);
    if (!lock) {
        return std::unexpected(lock.error());
    }
    for (const int64_t id : {a, b}) {
        if (auto s = store.snapshot(id); !s) {
            return std::unexpected(s.error().context("diff"));
        }
    }
    Loader loader(store);
    auto la = loader.load(a);
    if (!la) {
        return std::unexpected(la.error().context(std::format("diff: snapshot {}", a)));
    }
    auto lb = loader.load(b);
    if (!lb) {
        return std::unexpected(lb.error().context(std::format("diff: snapshot {}", b)));
    }
    DiffReport report;
    report.a = a;
    report.b = b;
    report.pageSize = lb->header.pageSize;
    std::set<int32_t> pids;
    for (const auto &e : la->tree.processes) {
        pids.insert(e.pid);
    }
    for (const auto &e : lb->tree.processes) {
        pids.insert(e.pid);
    }
    for (const int32_t pid : pids) {
        compareRegions(*la, *lb, pid, report);
        compareFds(*la, *lb, pid, report);
    }
    for (const RegionDiff &r : report.regions) {
        report.pagesChanged += r.changed;
        report.pagesAdded += r.added;
        report.pagesRemoved += r.removed;
    }
    compareProcesses(*la, *lb, report);
    return report;
}

} // namespace cryopod::store
