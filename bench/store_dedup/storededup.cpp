// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// store_dedup: the snapshot store against the targets of issue 7, on a real
// process (store_churn) checkpointed by the real engine. Run as root, alone
// on the machine for meaningful times.
//
//  1. the engine's dump throughput: checkpoint to /dev/null (best of 3)
//  2. the store's ingest throughput on its own: the image from a tmpfs file
//     into a new store (all pages new), then a second image (2 % new)
//  3. N snapshots through the real path (engine -> pipe -> store), the
//     process changing PERCENT % of its pages in between: store size after
//     the first and after all, each snapshot's time and pause
//  4. the timeline: the store's snapshots cloned in the index up to LIST
//     rows (reference counts kept right), then listed (cold and warm)
//  5. rebuild throughput of the last snapshot (to /dev/null)
//
// Targets (issue 7): store size after N <= 1.5x one snapshot; storing >= 80 %
// of the engine's dump throughput; listing 10,000 snapshots < 50 ms.
//
// usage: store_dedup [--size MIB] [--snapshots N] [--percent P] [--list N]
//                    [--dir DIR] [--shm DIR] [--verify-all] [--check]
//                    [--stream-level N]
//
// The image stream from the engine to the store is uncompressed, as in
// cryopodctl snapshot (the store compresses what it keeps by itself);
// --stream-level N compresses it with zstd at level N instead, to compare.

#include "directengine.h"
#include "engine.h"
#include "manifest.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "sqlitedatabase.h"
#include "targetprobe.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <optional>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

using namespace cryopod;
using namespace cryopod::store;

namespace
{
struct Options {
    unsigned sizeMiB = 512;
    unsigned snapshots = 20;
    double percent = 2.0;
    unsigned list = 10000;
    std::string dir = "/var/tmp"; // the store: a real disk
    std::string shm = "/dev/shm"; // image files for the ingest-only run
    bool verifyAll = false;
    bool check = false;
    std::optional<int> streamLevel; // none: an uncompressed stream
};

double now()
{
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double mib(uint64_t bytes)
{
    return double(bytes) / (1024.0 * 1024.0);
}

std::string readFile(const std::string &path)
{
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

uint64_t treeBytes(const std::string &dir)
{
    uint64_t total = 0;
    DIR *d = ::opendir(dir.c_str());
    if (!d) {
        return 0;
    }
    while (const dirent *e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") {
            continue;
        }
        struct stat st {};
        const std::string path = dir + "/" + name;
        if (::lstat(path.c_str(), &st) == 0) {
            total += S_ISDIR(st.st_mode) ? treeBytes(path) : uint64_t(st.st_blocks) * 512;
        }
    }
    ::closedir(d);
    return total;
}

[[noreturn]] void die(const std::string &what)
{
    std::fprintf(stderr, "store_dedup: %s\n", what.c_str());
    std::exit(1);
}

class Workload
{
public:
    Workload(const std::string &log, unsigned mib, double percent)
        : m_log(log)
    {
        ::unlink(log.c_str());
        const std::string exe = STORE_CHURN_PATH;
        const std::string size = std::to_string(mib);
        const std::string pct = std::to_string(percent);
        m_pid = ::fork();
        if (m_pid == 0) {
            const int null = ::open("/dev/null", O_RDWR);
            const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
            ::dup2(null, 0);
            ::dup2(out, 1);
            ::dup2(null, 2);
            ::syscall(SYS_close_range, 3, ~0u, 0);
            ::execl(exe.c_str(), exe.c_str(), size.c_str(), pct.c_str(), "7", static_cast<char *>(nullptr));
            ::_exit(127);
        }
        if (!waitFor("ready ")) {
            die("the workload did not start");
        }
    }
    ~Workload()
    {
        ::kill(m_pid, SIGKILL);
        int status;
        ::waitpid(m_pid, &status, 0);
    }
    void change()
    {
        ::kill(m_pid, SIGUSR1);
        if (!waitFor("changed " + std::to_string(++m_generation) + " ")) {
            die("the workload did not change its pages");
        }
    }
    pid_t pid() const
    {
        return m_pid;
    }

private:
    bool waitFor(const std::string &prefix)
    {
        for (int i = 0; i < 120000; ++i) {
            std::istringstream in(readFile(m_log));
            for (std::string line; std::getline(in, line);) {
                if (line.starts_with(prefix) && !in.eof()) {
                    return true;
                }
            }
            ::usleep(1000);
        }
        return false;
    }
    std::string m_log;
    pid_t m_pid = 0;
    unsigned m_generation = 0;
};

engine::CheckpointResult checkpointTo(pid_t pid, const std::string &path)
{
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        die("open " + path + ": " + std::strerror(errno));
    }
    engine::CheckpointOptions options;
    options.leaveRunning = true;
    auto r = engine::checkpoint(pid, fd, options);
    ::close(fd);
    if (!r) {
        die("checkpoint: " + r.error().describe());
    }
    return *r;
}

// Clones the store's snapshots in the index (rows, manifests and reference
// counts) until it holds `total` snapshots.
void cloneSnapshots(SnapshotStore &store, unsigned total)
{
    SqliteDatabase &db = store.database();
    auto list = store.list();
    if (!list || list->empty()) {
        die("no snapshots to clone");
    }
    const std::vector<SnapshotInfo> sources = *list;
    std::map<int64_t, std::map<int64_t, int64_t>> refsOf; // snapshot -> chunk -> references
    for (const SnapshotInfo &s : sources) {
        auto manifest = Manifest::load(db, s.id);
        if (!manifest) {
            die(manifest.error().describe());
        }
        for (const ManifestEntry &e : *manifest) {
            Manifest::forEachRef(e, [&](int64_t id) {
                ++refsOf[s.id][id];
            });
        }
    }
    auto tx = SqliteTransaction::begin(db);
    if (!tx) {
        die(tx.error().describe());
    }
    std::map<int64_t, int64_t> extraRefs;
    int64_t clock = sources.back().createdAtNs;
    for (size_t n = sources.size(), i = 0; n < total; ++n, ++i) {
        const SnapshotInfo &src = sources[i % sources.size()];
        clock += 60ll * 1000000000; // one a minute
        auto ins = db.prepare(
            "INSERT INTO snapshots (target_id, created_at, stored_at, label, note, pinned, parent_id, origin, root_pid, comm, image_bytes, raw_bytes, pages, "
            "sections, stored_bytes, duration_ns, pause_ns, engine_version, format_version, codec, image_hash, status) "
            "SELECT target_id, ?1, stored_at, 'clone', note, pinned, parent_id, origin, root_pid, comm, image_bytes, raw_bytes, pages, sections, 0, "
            "duration_ns, pause_ns, engine_version, format_version, codec, image_hash, status FROM snapshots WHERE id = ?2");
        ins->bind(1, clock).bind(2, src.id);
        if (auto ok = ins->run(); !ok) {
            die(ok.error().describe());
        }
        const int64_t id = db.lastInsertRowid();
        auto man = db.prepare(
            "INSERT INTO manifest (snapshot_id, seq, kind, section_type, frame, level, threaded, field_chunk, chunk_size, data_bytes, chunks) "
            "SELECT ?1, seq, kind, section_type, frame, level, threaded, field_chunk, chunk_size, data_bytes, chunks FROM manifest WHERE snapshot_id = ?2");
        man->bind(1, id).bind(2, src.id);
        if (auto ok = man->run(); !ok) {
            die(ok.error().describe());
        }
        for (const auto &[chunk, count] : refsOf[src.id]) {
            extraRefs[chunk] += count;
        }
    }
    auto upd = db.prepare("UPDATE chunks SET refs = refs + ?1 WHERE id = ?2");
    for (const auto &[chunk, count] : extraRefs) {
        upd->bind(1, count).bind(2, chunk);
        if (auto ok = upd->run(); !ok) {
            die(ok.error().describe());
        }
        upd->reset();
    }
    if (auto ok = tx->commit(); !ok) {
        die(ok.error().describe());
    }
}

void usage()
{
    std::fprintf(stderr, "usage: store_dedup [--size MIB] [--snapshots N] [--percent P] [--list N] [--dir DIR] [--shm DIR] [--verify-all] [--check] [--stream-level N]\n");
    std::exit(2);
}
} // namespace

int main(int argc, char **argv)
{
    Options o;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (++i >= argc) {
                usage();
            }
            return argv[i];
        };
        if (a == "--size") {
            o.sizeMiB = unsigned(std::stoul(value()));
        } else if (a == "--snapshots") {
            o.snapshots = unsigned(std::stoul(value()));
        } else if (a == "--percent") {
            o.percent = std::stod(value());
        } else if (a == "--list") {
            o.list = unsigned(std::stoul(value()));
        } else if (a == "--dir") {
            o.dir = value();
        } else if (a == "--shm") {
            o.shm = value();
        } else if (a == "--verify-all") {
            o.verifyAll = true;
        } else if (a == "--check") {
            o.check = true;
        } else if (a == "--stream-level") {
            o.streamLevel = std::stoi(value());
        } else {
            usage();
        }
    }
    if (::geteuid() != 0) {
        die("run as root (the engine checkpoints the workload)");
    }
    ::prctl(PR_SET_CHILD_SUBREAPER, 1);
    const std::string work = o.dir + "/cryopod-store-dedup-" + std::to_string(::getpid());
    const std::string shmImage = o.shm + "/cryopod-store-dedup-" + std::to_string(::getpid()) + ".img";
    const std::string shmImage2 = shmImage + ".2";
    ::mkdir(work.c_str(), 0700);
    std::printf("store_dedup: %u MiB workload, %u snapshots, %.1f %% of the pages changed in between; store in %s\n",
                o.sizeMiB,
                o.snapshots,
                o.percent,
                work.c_str());
    Workload w(work + "/workload.log", o.sizeMiB, o.percent);

    // 1. the engine alone
    double dumpBest = 1e30;
    engine::CheckpointResult dump {};
    for (int i = 0; i < 3; ++i) {
        const double t0 = now();
        dump = checkpointTo(w.pid(), "/dev/null");
        dumpBest = std::min(dumpBest, now() - t0);
    }
    const engine::CheckpointResult toShm = checkpointTo(w.pid(), shmImage);
    const double dumpRate = mib(dump.rawBytes) / dumpBest;
    std::printf("\n1. engine dump to /dev/null: %.0f MiB raw -> %.0f MiB image in %.3f s = %.0f MiB/s raw (pause %.0f ms)\n",
                mib(dump.rawBytes),
                mib(dump.imageBytes),
                dumpBest,
                dumpRate,
                double(dump.pauseNs) / 1e6);

    IngestOptions options;
    options.verify = o.verifyAll ? VerifyPolicy::EverySection : VerifyPolicy::Sample;

    // 2. the store alone, from a tmpfs file
    double ingestFirst = 0, ingestSecond = 0;
    {
        const std::string dir = work + "/ingest-store";
        auto store = SnapshotStore::open(dir);
        if (!store) {
            die(store.error().describe());
        }
        IngestStats s1, s2;
        double t0 = now();
        if (auto id = (*store)->importImage(shmImage, options, &s1); !id) {
            die(id.error().describe());
        }
        ingestFirst = now() - t0;
        w.change();
        checkpointTo(w.pid(), shmImage2);
        t0 = now();
        if (auto id = (*store)->importImage(shmImage2, options, &s2); !id) {
            die(id.error().describe());
        }
        ingestSecond = now() - t0;
        std::printf("2. store ingest from tmpfs: first image %.3f s = %.0f MiB/s raw (%.0f%% of the engine's dump rate), %llu of %llu bulk sections re-encoded to verify\n"
                    "   second image (%.1f %% changed) %.3f s = %.0f MiB/s raw (%.0f%%), %.2f MiB new\n",
                    ingestFirst,
                    mib(toShm.rawBytes) / ingestFirst,
                    100.0 * (mib(toShm.rawBytes) / ingestFirst) / dumpRate,
                    static_cast<unsigned long long>(s1.verifiedSections),
                    static_cast<unsigned long long>(s1.bulkSections),
                    o.percent,
                    ingestSecond,
                    mib(toShm.rawBytes) / ingestSecond,
                    100.0 * (mib(toShm.rawBytes) / ingestSecond) / dumpRate,
                    mib(s2.storedBytes));
        for (const IngestStats *st : {&s1, &s2}) {
            std::printf("   %s image, CPU ms: read %.0f, decompress %.0f, verify %.0f, hash+lookup %.0f, compress+write %.0f; commit %.0f ms wall\n",
                        st == &s1 ? "first " : "second",
                        double(st->readNs) / 1e6,
                        double(st->decodeNs) / 1e6,
                        double(st->verifyNs) / 1e6,
                        double(st->chunkNs) / 1e6,
                        double(st->packNs) / 1e6,
                        double(st->commitNs) / 1e6);
        }
        ::unlink(shmImage.c_str());
        ::unlink(shmImage2.c_str());
        std::string rm = "rm -rf '" + dir + "'";
        (void)std::system(rm.c_str());
    }

    // 3. N snapshots through the real path
    const std::string storeDir = work + "/store";
    auto opened = SnapshotStore::open(storeDir);
    if (!opened) {
        die(opened.error().describe());
    }
    SnapshotStore &store = **opened;
    auto target = TargetProbe::probe(w.pid());
    if (!target) {
        die(target.error().describe());
    }
    options.target = *target;
    DirectEngine::Producer producer(o.streamLevel);
    uint64_t firstStore = 0, imageBytes = 0, rawBytes = 0;
    double firstTime = 0, laterTime = 0, laterPause = 0, firstPause = 0;
    IngestStats laterStats;
    const std::string stream = o.streamLevel ? "zstd level " + std::to_string(*o.streamLevel) : std::string("uncompressed");
    std::printf("3. %u snapshots through engine -> pipe (%s) -> store:\n", o.snapshots, stream.c_str());
    for (unsigned i = 0; i < o.snapshots; ++i) {
        if (i > 0) {
            w.change();
        }
        const double t0 = now();
        auto taken = SnapshotJob::take(store, producer, w.pid(), options);
        const double t = now() - t0;
        if (!taken) {
            die(taken.error().describe());
        }
        const uint64_t size = treeBytes(storeDir);
        if (i == 0) {
            firstStore = size;
            imageBytes = taken->ingest.imageBytes;
            rawBytes = taken->ingest.rawBytes;
            firstTime = t;
            firstPause = double(taken->producer.pauseNs) / 1e9;
        } else {
            laterTime += t;
            laterPause += double(taken->producer.pauseNs) / 1e9;
            const IngestStats &st = taken->ingest;
            laterStats.readNs += st.readNs;
            laterStats.decodeNs += st.decodeNs;
            laterStats.verifyNs += st.verifyNs;
            laterStats.chunkNs += st.chunkNs;
            laterStats.packNs += st.packNs;
            laterStats.commitNs += st.commitNs;
            laterStats.prefetchedChunks += st.prefetchedChunks;
        }
        std::printf("   #%-2u %.3f s (%.0f MiB/s raw), pause %4.0f ms, +%7.2f MiB, store %7.1f MiB\n",
                    i + 1,
                    t,
                    mib(taken->ingest.rawBytes) / t,
                    double(taken->producer.pauseNs) / 1e6,
                    mib(taken->ingest.storedBytes),
                    mib(size));
    }
    const uint64_t total = treeBytes(storeDir);
    const double later = o.snapshots > 1 ? laterTime / (o.snapshots - 1) : firstTime;
    const double laterPauseAvg = o.snapshots > 1 ? laterPause / (o.snapshots - 1) : firstPause;
    std::printf("   store after 1 snapshot: %.1f MiB (the image: %.1f MiB, raw %.1f MiB)\n", mib(firstStore), mib(imageBytes), mib(rawBytes));
    std::printf("   store after %u snapshots: %.1f MiB = %.2fx one snapshot (%.2fx the image)          target <= 1.5x: %s\n",
                o.snapshots,
                mib(total),
                double(total) / double(firstStore),
                double(total) / double(imageBytes),
                double(total) <= 1.5 * double(firstStore) ? "met" : "MISSED");
    std::printf("   snapshot through the store: first %.0f MiB/s raw (%.0f%%), later %.0f MiB/s raw (%.0f%% of the engine's dump to /dev/null)  target >= 80%%: %s\n",
                mib(rawBytes) / firstTime,
                100.0 * mib(rawBytes) / firstTime / dumpRate,
                mib(rawBytes) / later,
                100.0 * mib(rawBytes) / later / dumpRate,
                100.0 * mib(rawBytes) / later / dumpRate >= 80.0 ? "met" : "MISSED");
    if (o.snapshots > 1) {
        const double n = double(o.snapshots - 1);
        std::printf("   later snapshots, store CPU ms on average: read %.0f, decompress %.0f, verify %.0f, hash+lookup %.0f (%.0f hashes prefetched), "
                    "compress+write %.0f; commit %.0f ms wall\n",
                    double(laterStats.readNs) / 1e6 / n,
                    double(laterStats.decodeNs) / 1e6 / n,
                    double(laterStats.verifyNs) / 1e6 / n,
                    double(laterStats.chunkNs) / 1e6 / n,
                    double(laterStats.prefetchedChunks) / n,
                    double(laterStats.packNs) / 1e6 / n,
                    double(laterStats.commitNs) / 1e6 / n);
    }
    std::printf("   pause: engine alone %.0f ms, through the store first %.0f ms, later %.0f ms on average\n",
                double(dump.pauseNs) / 1e6,
                firstPause * 1e3,
                laterPauseAvg * 1e3);

    // 5. rebuild (restore path) of the last snapshot
    {
        auto list = store.list();
        const int64_t last = list->back().id;
        const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        const double t0 = now();
        auto r = store.rebuild(last, fd);
        const double t = now() - t0;
        ::close(fd);
        if (!r) {
            die(r.error().describe());
        }
        std::printf("5. rebuild of the last snapshot (verified, identical: %s): %.3f s = %.0f MiB/s raw\n", r->identical ? "yes" : "NO", t, mib(rawBytes) / t);
    }
    if (o.check) {
        const double t0 = now();
        auto report = store.check({true});
        if (!report) {
            die(report.error().describe());
        }
        std::printf("   store check --rebuild: %s in %.1f s\n", report->ok() ? "intact" : "DAMAGED", now() - t0);
    }

    // 4. the timeline
    if (o.list > o.snapshots) {
        cloneSnapshots(store, o.list);
    }
    opened->reset();
    auto reopened = SnapshotStore::open(storeDir);
    if (!reopened) {
        die(reopened.error().describe());
    }
    double cold = 0, warm = 1e30;
    size_t rows = 0;
    for (int i = 0; i < 6; ++i) {
        const double t0 = now();
        auto list = (*reopened)->list();
        const double t = now() - t0;
        if (!list) {
            die(list.error().describe());
        }
        rows = list->size();
        if (i == 0) {
            cold = t;
        } else {
            warm = std::min(warm, t);
        }
    }
    SnapshotFilter page;
    page.targetId = target->pid ? (*reopened)->list()->front().targetId : 0;
    page.newestFirst = true;
    page.limit = 100;
    double pageTime = 1e30;
    for (int i = 0; i < 5; ++i) {
        const double t0 = now();
        auto list = (*reopened)->list(page);
        pageTime = std::min(pageTime, now() - t0);
    }
    std::printf("4. listing the timeline of %zu snapshots: %.1f ms (first, store just opened), %.1f ms (warm); newest 100 of the target: %.2f ms   target < 50 ms: %s\n",
                rows,
                cold * 1e3,
                warm * 1e3,
                pageTime * 1e3,
                cold < 0.050 ? "met" : "MISSED");
    std::string rm = "rm -rf '" + work + "'";
    (void)std::system(rm.c_str());
    return 0;
}
