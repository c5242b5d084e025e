// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "processscanner.h"

#include "backendlogging.h"
#include "desktopapps.h"

#include <QElapsedTimer>
#include <QHash>
#include <QMutex>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

namespace
{
// The kernel's PF_KTHREAD flag, as reported in field 9 of /proc/PID/stat.
constexpr unsigned long kPfKthread = 0x00200000;

// An owned file descriptor.
class Fd
{
public:
    explicit Fd(int fd)
        : m_fd(fd)
    {
    }
    ~Fd()
    {
        if (m_fd >= 0) {
            ::close(m_fd);
        }
    }
    Fd(const Fd &) = delete;
    Fd &operator=(const Fd &) = delete;
    Fd &operator=(Fd &&other) noexcept
    {
        std::swap(m_fd, other.m_fd);
        return *this;
    }

    int get() const
    {
        return m_fd;
    }
    bool valid() const
    {
        return m_fd >= 0;
    }

private:
    int m_fd;
};

// An owned DIR stream.
class Dir
{
public:
    explicit Dir(DIR *dir)
        : m_dir(dir)
    {
    }
    ~Dir()
    {
        if (m_dir) {
            ::closedir(m_dir);
        }
    }
    Dir(const Dir &) = delete;
    Dir &operator=(const Dir &) = delete;

    DIR *get() const
    {
        return m_dir;
    }

private:
    DIR *m_dir;
};

// Reads a whole (small) file relative to dirFd. nullopt when it cannot be
// opened or read; for /proc/PID files that means the process is gone (ESRCH,
// ENOENT) or not ours to read (EACCES).
std::optional<std::string> readFileAt(int dirFd, const char *name, size_t maxBytes = 1 << 20)
{
    Fd fd(::openat(dirFd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        return std::nullopt;
    }
    std::string data;
    char buffer[4096];
    while (data.size() < maxBytes) {
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return std::nullopt;
        }
        if (n == 0) {
            break;
        }
        data.append(buffer, size_t(n));
    }
    return data;
}

template<typename T>
bool parseNumber(std::string_view text, T &value)
{
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    return ec == std::errc() && end == text.data() + text.size();
}

// Fields of /proc/PID/stat that Cryopod uses.
struct StatFields {
    std::string comm;
    char state = '?';
    pid_t ppid = 0;
    unsigned long flags = 0;
    quint64 utime = 0;
    quint64 stime = 0;
    quint64 startTicks = 0;
    quint64 rssPages = 0;
};

// "pid (comm) state ppid ...": comm may contain spaces and parentheses, so it
// ends at the LAST ')'.
std::optional<StatFields> parseStat(const std::string &text)
{
    const size_t open = text.find('(');
    const size_t close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos || close < open || close + 2 > text.size()) {
        return std::nullopt;
    }
    StatFields stat;
    stat.comm = text.substr(open + 1, close - open - 1);

    // Split the rest (starting with field 3, the state) on spaces.
    std::vector<std::string_view> fields;
    fields.reserve(52);
    std::string_view rest(text);
    rest.remove_prefix(close + 2);
    while (!rest.empty()) {
        const size_t space = rest.find_first_of(" \n");
        fields.push_back(rest.substr(0, space));
        if (space == std::string_view::npos) {
            break;
        }
        rest.remove_prefix(space + 1);
    }
    // fields[i] is stat field i + 3 (1-based, as in proc(5)).
    auto field = [&fields](int number) -> std::string_view {
        const size_t i = size_t(number - 3);
        return i < fields.size() ? fields[i] : std::string_view();
    };
    if (fields.size() < 22 || field(3).size() != 1) {
        return std::nullopt;
    }
    stat.state = field(3).front();
    if (!parseNumber(field(4), stat.ppid) || !parseNumber(field(9), stat.flags) || !parseNumber(field(14), stat.utime) || !parseNumber(field(15), stat.stime) ||
        !parseNumber(field(22), stat.startTicks) || !parseNumber(field(24), stat.rssPages)) {
        return std::nullopt;
    }
    return stat;
}

// The real and effective uid from the "Uid:" line of /proc/PID/status.
bool parseUids(const std::string &status, uid_t &uid, uid_t &euid)
{
    const size_t at = status.find("\nUid:");
    if (at == std::string::npos) {
        return false;
    }
    std::string_view line(status);
    line.remove_prefix(at + 5);
    line = line.substr(0, line.find('\n'));
    uid_t values[2] = {};
    for (uid_t &value : values) {
        const size_t start = line.find_first_not_of(" \t");
        if (start == std::string_view::npos) {
            return false;
        }
        line.remove_prefix(start);
        const size_t end = line.find_first_of(" \t");
        if (!parseNumber(line.substr(0, end), value)) {
            return false;
        }
        line.remove_prefix(end == std::string_view::npos ? line.size() : end);
    }
    uid = values[0];
    euid = values[1];
    return true;
}

// Calls f with each piece of data between separators (a last one without
// its separator too).
template<typename F>
void forEachPiece(const std::string &data, char separator, F f)
{
    size_t start = 0;
    while (start < data.size()) {
        size_t end = data.find(separator, start);
        if (end == std::string::npos) {
            end = data.size();
        }
        f(std::string_view(data.data() + start, end - start));
        start = end + 1;
    }
}

QStringList parseCmdline(const std::string &data)
{
    QStringList arguments;
    forEachPiece(data, '\0', [&](std::string_view piece) { arguments.append(QString::fromUtf8(piece.data(), qsizetype(piece.size()))); });
    return arguments;
}

QString readLinkAt(int dirFd, const char *name)
{
    char buffer[4096];
    const ssize_t n = ::readlinkat(dirFd, name, buffer, sizeof buffer);
    if (n <= 0) {
        return {};
    }
    return QString::fromUtf8(buffer, n);
}

// User names by uid, shared by all scans (they may run on different threads).
QString userNameOf(uid_t uid)
{
    static QMutex mutex;
    static QHash<uid_t, QString> cache;
    QMutexLocker locker(&mutex);
    const auto it = cache.constFind(uid);
    if (it != cache.constEnd()) {
        return *it;
    }
    struct passwd entry;
    struct passwd *result = nullptr;
    std::vector<char> buffer(16384);
    QString name;
    if (::getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &result) == 0 && result) {
        name = QString::fromUtf8(result->pw_name);
    } else {
        name = QString::number(uid);
    }
    cache.insert(uid, name);
    return name;
}

// Boot time in seconds since the epoch ("btime" in /proc/stat); fixed while
// the system runs.
qint64 bootTimeSeconds()
{
    static const qint64 bootTime = [] {
        Fd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        const auto stat = proc.valid() ? readFileAt(proc.get(), "stat") : std::nullopt;
        if (!stat) {
            return qint64(0);
        }
        const size_t at = stat->find("\nbtime ");
        if (at == std::string::npos) {
            return qint64(0);
        }
        std::string_view value(*stat);
        value.remove_prefix(at + 7);
        value = value.substr(0, value.find('\n'));
        qint64 seconds = 0;
        return parseNumber(value, seconds) ? seconds : qint64(0);
    }();
    return bootTime;
}

qint64 monotonicNowNs()
{
    timespec now {};
    ::clock_gettime(CLOCK_MONOTONIC, &now);
    return qint64(now.tv_sec) * 1000000000 + now.tv_nsec;
}

// The freezer files of a process's cgroups ("" for none), from /proc/PID/cgroup:
// cgroup v2's cgroup.events and the v1 freezer's freezer.state.
struct FreezerFiles {
    std::string v2Events;
    std::string v1State;
};

FreezerFiles freezerFilesOf(const std::string &cgroupText)
{
    FreezerFiles files;
    forEachPiece(cgroupText, '\n', [&](std::string_view line) {
        const size_t first = line.find(':');
        const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
        if (second == std::string_view::npos) {
            return;
        }
        const std::string_view controllers = line.substr(first + 1, second - first - 1);
        const std::string path(line.substr(second + 1));
        if (path == "/") {
            return; // the root cgroup is never frozen
        }
        if (line.substr(0, first) == "0" && controllers.empty()) {
            files.v2Events = path + "/cgroup.events";
        } else if (controllers == "freezer") {
            files.v1State = "/sys/fs/cgroup/freezer" + path + "/freezer.state";
        }
    });
    return files;
}

// A Flatpak app's id from its cgroup path ".../app-flatpak-org.kde.kate-12345.scope"), "" for none.
QString flatpakAppIdOf(const std::string &cgroupText)
{
    static constexpr std::string_view marker = "app-flatpak-";
    const size_t at = cgroupText.find(marker);
    if (at == std::string::npos) {
        return {};
    }
    const size_t begin = at + marker.size();
    const size_t end = cgroupText.find(".scope", begin);
    const size_t dash = end == std::string::npos ? std::string::npos : cgroupText.rfind('-', end);
    if (dash == std::string::npos || dash <= begin) {
        return {};
    }
    return QString::fromUtf8(cgroupText.data() + begin, qsizetype(dash - begin));
}

// Whether a freezer file says frozen; answers cached per file for one scan.
bool frozenBy(const FreezerFiles &files, std::unordered_map<std::string, bool> &cache)
{
    auto check = [&](const std::string &key, auto read) {
        if (key.empty()) {
            return false;
        }
        auto it = cache.find(key);
        if (it == cache.end()) {
            it = cache.emplace(key, read()).first;
        }
        return it->second;
    };
    auto readText = [](const std::string &path) -> std::string {
        Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        if (!fd.valid()) {
            return {};
        }
        char buffer[512];
        const ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
        return n > 0 ? std::string(buffer, size_t(n)) : std::string();
    };
    const bool v2 = check(files.v2Events, [&] {
        // cgroup2 is at /sys/fs/cgroup, or at /sys/fs/cgroup/unified beside v1.
        for (const char *root : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified"}) {
            const std::string text = readText(root + files.v2Events);
            if (!text.empty()) {
                return text.find("frozen 1") != std::string::npos;
            }
        }
        return false;
    });
    return v2 || check(files.v1State, [&] {
               const std::string text = readText(files.v1State);
               return text.starts_with("FROZEN") || text.starts_with("FREEZING");
           });
}

} // namespace

// What a scan read of each process that changes only with exec or the
// credentials, for the next scan of the same source, and the processes
// whose details (below) are still to be read.
struct ProcfsScanCache {
    struct Entry {
        quint64 startTicks = 0;
        std::string comm;
        uid_t dirUid = 0; // /proc/PID's owner: the euid of a dumpable process
        gid_t dirGid = 0;
        int age = 0; // scans since the files were read
        // The details below were read (else uid and euid are the owner's
        // of /proc/PID until they are).
        bool detailed = false;
        uid_t uid = 0;
        uid_t euid = 0;
        QStringList arguments;
        QString executable;
        FreezerFiles freezer;
        QString flatpakAppId;
    };
    std::unordered_map<pid_t, Entry> entries;
    // Processes (pid, start time) whose details a details pass reads, in
    // pid order.
    std::vector<std::pair<pid_t, quint64>> pending;
};

namespace
{
// What a process's details are: the files that change only with exec or
// a change of credentials (status: the uids; cmdline, the exe link,
// cgroup) and what follows from them. Reads them through the process's
// /proc/PID directory (dirFd, which pins the process). False when it is
// gone. A kernel thread has none (it is root's).
bool readDetailsAt(int dirFd, const StatFields &stat, ProcessInfo &info, FreezerFiles &freezer)
{
    if (info.kernelThread) {
        return true;
    }
    const auto status = readFileAt(dirFd, "status");
    if (!status || !parseUids(*status, info.uid, info.euid)) {
        return false;
    }
    // cmdline is read from the process's memory, and that read waits as
    // long as the memory cannot be read: for a process in the middle of
    // a restore (ours, or CRIU's), whose pages a tracer fills through
    // userfaultfd while the process is stopped, until its page is filled
    // (under load, seconds; for a page the image does not hold, until
    // the restore ends). One such process would stall the whole scan, so
    // the command line of a traced, stopped process is not read.
    if (stat.state == 't') {
        info.argumentsRead = false;
    } else if (const auto cmdline = readFileAt(dirFd, "cmdline")) {
        // Legitimately unreadable for zombies and other users' processes.
        info.arguments = parseCmdline(*cmdline);
        info.argumentsRead = true;
    } else {
        info.argumentsRead = true;
    }
    info.executable = readLinkAt(dirFd, "exe");
    if (const auto cgroup = readFileAt(dirFd, "cgroup")) {
        freezer = freezerFilesOf(*cgroup);
        info.flatpakAppId = flatpakAppIdOf(*cgroup);
    }
    return true;
}

// Reads one process. Without a cache (CLI, tests): every file. With one
// (the GUI's scans, ProcfsProcessSource), a scan reads what changes all
// the time: stat (state, CPU time, memory) and the owner of /proc/PID;
// its details (readDetailsAt) come from the cache for a process it knows
// (same start time, comm, which exec sets, and owner), and for a new one
// they are left to the details pass that follows the scan
// (readPendingDetails): the scan lists it with its stat, its owner as its
// user and no arguments (argumentsRead false) yet. A known process's
// details are read again by that pass every kMaxCacheAge scans (a process
// may rewrite its arguments or move to another cgroup).
// The uids: for a process whose /proc/PID is not root's, that owner is its
// effective uid, and a change of its effective ids makes the process
// undumpable, which makes /proc/PID root's: so its status is read by the
// details pass only. A root-owned one (root's processes, undumpable ones)
// could change its ids unseen, so its status is read every time, except
// for kernel threads (always root's). The freezer state is the current one
// (of the cgroup the details say).
constexpr int kMaxCacheAge = 10;

std::optional<ProcessInfo> readProcessAt(int procFd, pid_t pid, std::unordered_map<std::string, bool> &freezerCache, const ProcfsScanCache *cache = nullptr,
                                         ProcfsScanCache *next = nullptr)
{
    static const long ticksPerSecond = ::sysconf(_SC_CLK_TCK);
    static const long pageSize = ::sysconf(_SC_PAGESIZE);

    const std::string name = std::to_string(pid);
    const ProcfsScanCache::Entry *entry = nullptr;
    if (cache) {
        const auto it = cache->entries.find(pid);
        entry = it != cache->entries.end() ? &it->second : nullptr;
    }
    struct ::stat owner = {};
    std::optional<std::string> statText;
    // Without a cache the directory is held open: it pins this process, so
    // that if it exits meanwhile, reads fail instead of returning a
    // successor's data under a reused pid. With one, the files are read by
    // path (fewer calls), after the directory's owner: a successor under a
    // reused pid has another start time, so what the cache holds is not
    // mixed up with it (and a root-owned one's status, read every scan,
    // is right again in the next).
    Fd dir(-1);
    if (cache) {
        if (::fstatat(procFd, name.c_str(), &owner, 0) != 0) {
            return std::nullopt;
        }
        statText = readFileAt(procFd, (name + "/stat").c_str());
    } else {
        dir = Fd(::openat(procFd, name.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        if (!dir.valid() || ::fstat(dir.get(), &owner) != 0) {
            return std::nullopt;
        }
        statText = readFileAt(dir.get(), "stat");
    }
    const auto stat = statText ? parseStat(*statText) : std::nullopt;
    if (!stat) {
        return std::nullopt;
    }
    const bool same =
        entry && entry->startTicks == stat->startTicks && entry->comm == stat->comm && entry->dirUid == owner.st_uid && entry->dirGid == owner.st_gid;
    const ProcfsScanCache::Entry *known = same ? entry : nullptr;
    ProcessInfo info;
    info.pid = pid;
    info.ppid = stat->ppid;
    info.name = QString::fromUtf8(stat->comm.data(), qsizetype(stat->comm.size()));
    info.state = stat->state;
    info.kernelThread = (stat->flags & kPfKthread) != 0;
    info.rssBytes = stat->rssPages * quint64(pageSize);
    info.cpuTimeNs = (stat->utime + stat->stime) * (1000000000ULL / quint64(ticksPerSecond));
    info.startTicks = stat->startTicks;
    info.startTimeMs = bootTimeSeconds() * 1000 + qint64(stat->startTicks * 1000 / quint64(ticksPerSecond));
    FreezerFiles freezer;
    bool detailed = true;
    if (!cache) {
        if (!readDetailsAt(dir.get(), *stat, info, freezer)) {
            return std::nullopt;
        }
    } else {
        if (info.kernelThread) {
            // Always root's; nothing else to read.
        } else if (owner.st_uid != 0) {
            info.uid = known && known->detailed ? known->uid : owner.st_uid;
            info.euid = known && known->detailed ? known->euid : owner.st_uid;
        } else {
            const auto status = readFileAt(procFd, (name + "/status").c_str());
            if (!status || !parseUids(*status, info.uid, info.euid)) {
                return std::nullopt;
            }
        }
        if (known && known->detailed) {
            info.arguments = known->arguments;
            info.executable = known->executable;
            info.flatpakAppId = known->flatpakAppId;
            freezer = known->freezer;
        } else if (!info.kernelThread) {
            detailed = false;
            info.argumentsRead = false; // not read yet: the details pass reads them
        }
    }
    info.userName = userNameOf(info.euid);
    if (!info.kernelThread) {
        info.frozen = frozenBy(freezer, freezerCache);
    }
    if (!next) {
        return info;
    }
    // A zombie is not kept (its files are read again next time); its
    // details are read by the pass all the same.
    const bool due = !detailed || (known && known->age + 1 >= kMaxCacheAge);
    if (due) {
        next->pending.emplace_back(pid, stat->startTicks);
    }
    if (stat->state != 'Z') {
        ProcfsScanCache::Entry fresh;
        if (known) {
            fresh = *known;
            fresh.uid = info.uid;
            fresh.euid = info.euid;
            ++fresh.age;
        } else {
            fresh.startTicks = stat->startTicks;
            fresh.comm = stat->comm;
            fresh.dirUid = owner.st_uid;
            fresh.dirGid = owner.st_gid;
            // Spread the re-reads over the scans.
            fresh.age = int(pid % kMaxCacheAge);
            fresh.detailed = detailed;
            fresh.uid = info.uid;
            fresh.euid = info.euid;
        }
        next->entries.emplace(pid, std::move(fresh));
    }
    return info;
}

// The details pass: reads the details of up to budgetNs worth of the
// pending processes into snapshot (the last scan's) and the cache.
// Returns how many it read.
int readDetailsPass(ProcfsScanCache &cache, ProcessSnapshot &snapshot, qint64 budgetNs)
{
    QElapsedTimer timer;
    timer.start();
    Fd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!proc.valid()) {
        cache.pending.clear();
        return 0;
    }
    std::unordered_map<std::string, bool> freezerCache;
    size_t done = 0;
    int read = 0;
    for (; done < cache.pending.size() && (done == 0 || timer.nsecsElapsed() < budgetNs); ++done) {
        const auto [pid, startTicks] = cache.pending[done];
        const auto it = std::lower_bound(snapshot.processes.begin(), snapshot.processes.end(), pid, [](const ProcessInfo &info, pid_t p) {
            return info.pid < p;
        });
        if (it == snapshot.processes.end() || it->pid != pid || it->startTicks != startTicks) {
            continue;
        }
        // Through the directory, which pins the process: the same one as
        // the scan's when its stat has the same start time.
        Fd dir(::openat(proc.get(), std::to_string(pid).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
        const auto statText = dir.valid() ? readFileAt(dir.get(), "stat") : std::nullopt;
        const auto stat = statText ? parseStat(*statText) : std::nullopt;
        if (!stat || stat->startTicks != startTicks) {
            continue; // gone: the next scan says so
        }
        ProcessInfo info = *it;
        FreezerFiles freezer;
        if (!readDetailsAt(dir.get(), *stat, info, freezer)) {
            continue;
        }
        info.userName = userNameOf(info.euid);
        info.frozen = frozenBy(freezer, freezerCache);
        *it = info;
        ++read;
        const auto entry = cache.entries.find(pid);
        if (entry != cache.entries.end() && entry->second.startTicks == startTicks && info.argumentsRead) {
            ProcfsScanCache::Entry &e = entry->second;
            e.detailed = true;
            e.age = 0;
            e.uid = info.uid;
            e.euid = info.euid;
            e.arguments = info.arguments;
            e.executable = info.executable;
            e.freezer = freezer;
            e.flatpakAppId = info.flatpakAppId;
        }
    }
    cache.pending.erase(cache.pending.begin(), cache.pending.begin() + qsizetype(done));
    return read;
}
} // namespace

// Lives in the scanner's thread: scans when asked, answers with the
// snapshot, then reads what the scan left to a details pass, answering
// after each pass.
class ProcessScanWorker : public QObject
{
    Q_OBJECT

public:
    explicit ProcessScanWorker(std::shared_ptr<ProcessSource> source)
        : m_source(std::move(source))
    {
    }

    void scan()
    {
        deliver(m_source->scan(), false);
    }

    void readDetails()
    {
        m_detailsQueued = false;
        if (m_source->hasPendingDetails()) {
            deliver(m_source->readPendingDetails(), true);
        }
    }

Q_SIGNALS:
    void scanned(const ProcessSnapshot &snapshot);
    void detailsRead(const ProcessSnapshot &snapshot);

private:
    void deliver(ProcessSnapshot snapshot, bool details)
    {
        // Which app each process belongs to: the desktop files are read
        // once, here, off the UI thread.
        if (!m_apps.isLoaded()) {
            m_apps.loadDefault();
        }
        m_apps.annotate(snapshot.processes);
        if (details) {
            Q_EMIT detailsRead(snapshot);
        } else {
            Q_EMIT scanned(snapshot);
        }
        // The next pass after what is queued now (a scan asked for meanwhile
        // comes first).
        if (m_source->hasPendingDetails() && !m_detailsQueued) {
            m_detailsQueued = true;
            QMetaObject::invokeMethod(this, &ProcessScanWorker::readDetails, Qt::QueuedConnection);
        }
    }

    std::shared_ptr<ProcessSource> m_source;
    DesktopApps m_apps;
    bool m_detailsQueued = false;
};

ProcfsProcessSource::ProcfsProcessSource()
    : m_cache(std::make_unique<ProcfsScanCache>())
{
}

ProcfsProcessSource::~ProcfsProcessSource() = default;

ProcessSnapshot ProcfsProcessSource::scan()
{
    m_last = ProcessScanner::scan(m_cache.get());
    m_last.detailsPending = int(m_cache->pending.size());
    return m_last;
}

bool ProcfsProcessSource::hasPendingDetails() const
{
    return !m_cache->pending.empty();
}

ProcessSnapshot ProcfsProcessSource::readPendingDetails()
{
    QElapsedTimer timer;
    timer.start();
    const int read = readDetailsPass(*m_cache, m_last, kDetailsPassNs);
    m_last.detailsPending = int(m_cache->pending.size());
    qCDebug(lcProc) << "details of" << read << "processes read in" << timer.nsecsElapsed() / 1000 << "us," << m_last.detailsPending << "to go";
    return m_last;
}

QString ProcfsProcessSource::name() const
{
    return QStringLiteral("procfs");
}

ProcessScanner::ProcessScanner(QObject *parent)
    : ProcessScanner(std::make_shared<ProcfsProcessSource>(), parent)
{
}

ProcessScanner::ProcessScanner(std::shared_ptr<ProcessSource> source, QObject *parent)
    : QObject(parent)
    , m_worker(new ProcessScanWorker(std::move(source)))
{
    m_thread.setObjectName(QStringLiteral("ProcessScanner"));
    m_worker->moveToThread(&m_thread);
    connect(&m_thread, &QThread::finished, m_worker, &QObject::deleteLater);
    connect(m_worker, &ProcessScanWorker::scanned, this, &ProcessScanner::onScanned);
    connect(m_worker, &ProcessScanWorker::detailsRead, this, &ProcessScanner::snapshotReady);
    m_thread.start(QThread::LowPriority);
}

ProcessScanner::~ProcessScanner()
{
    // A scan in progress ends on its own (reads of /proc do not wait; see
    // readProcessAt); its snapshot is dropped with this object.
    m_thread.quit();
    m_thread.wait();
}

std::optional<ProcessInfo> ProcessScanner::readProcess(pid_t pid)
{
    Fd proc(::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!proc.valid()) {
        return std::nullopt;
    }
    std::unordered_map<std::string, bool> freezerCache;
    return readProcessAt(proc.get(), pid, freezerCache);
}

ProcessSnapshot ProcessScanner::scan(ProcfsScanCache *cache)
{
    ProcessSnapshot snapshot;
    QElapsedTimer timer;
    timer.start();
    snapshot.monotonicNs = monotonicNowNs();
    snapshot.cpuCount = std::max(1, int(::sysconf(_SC_NPROCESSORS_ONLN)));

    const int procFd = ::open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (procFd < 0) {
        snapshot.error = QStringLiteral("open /proc: %1").arg(QString::fromUtf8(std::strerror(errno)));
        qCWarning(lcProc) << snapshot.error;
        return snapshot;
    }
    // fdopendir takes ownership of procFd; readProcessAt uses it as a dirfd.
    Dir dir(::fdopendir(procFd));
    if (!dir.get()) {
        snapshot.error = QStringLiteral("read /proc: %1").arg(QString::fromUtf8(std::strerror(errno)));
        ::close(procFd);
        qCWarning(lcProc) << snapshot.error;
        return snapshot;
    }
    std::vector<pid_t> pids;
    pids.reserve(1024);
    while (const dirent *entry = ::readdir(dir.get())) {
        pid_t pid = 0;
        if (parseNumber(std::string_view(entry->d_name), pid) && pid > 0) {
            pids.push_back(pid);
        }
    }
    std::sort(pids.begin(), pids.end());

    snapshot.processes.reserve(qsizetype(pids.size()));
    int vanished = 0;
    std::unordered_map<std::string, bool> freezerCache;
    ProcfsScanCache next; // what this scan saw: processes gone are dropped
    for (pid_t pid : pids) {
        if (auto info = readProcessAt(procFd, pid, freezerCache, cache, cache ? &next : nullptr)) {
            snapshot.processes.append(std::move(*info));
        } else {
            ++vanished;
        }
    }
    if (cache) {
        *cache = std::move(next);
    }
    snapshot.scanDurationUs = timer.nsecsElapsed() / 1000;
    qCDebug(lcProc) << "scanned" << snapshot.processes.size() << "processes in" << snapshot.scanDurationUs << "us," << vanished << "vanished or unreadable";
    return snapshot;
}

void ProcessScanner::requestScan()
{
    if (m_scanning) {
        m_pending = true;
        return;
    }
    startScan();
}

bool ProcessScanner::isScanning() const
{
    return m_scanning;
}

void ProcessScanner::startScan()
{
    m_scanning = true;
    QMetaObject::invokeMethod(m_worker, &ProcessScanWorker::scan, Qt::QueuedConnection);
}

void ProcessScanner::onScanned(const ProcessSnapshot &snapshot)
{
    m_scanning = false;
    Q_EMIT snapshotReady(snapshot);
    if (m_pending) {
        m_pending = false;
        startScan();
    }
}

#include "processscanner.moc"
