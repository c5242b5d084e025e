// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// cryopodctl's snapshot store commands (docs/store.md): snapshot, list, show,
// restore ID, diff, export, import, delete, edit, store check|gc|stats|path.
// Wiring only: the work is in backend/store. Checkpoint and restore go
// through an ImageProducer/ImageConsumer: cryopod-helper over the system bus
// (HelperEngine, unprivileged), or with --direct the engine in this process
// (DirectEngine, root only).

#include "cliargs.h"
#include "commands.h"

#include "directengine.h"
#include "helperclient.h"
#include "helperengine.h"
#include "snapshotdiff.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "targetprobe.h"

#include <QDateTime>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSet>
#include <QString>
#include <QStringList>

#include <cstdio>
#include <memory>
#include <functional>
#include <map>
#include <optional>

using namespace cryopod;
using namespace cryopod::store;
using Cryopodctl::Args;
using Cryopodctl::failure;
using Cryopodctl::print;
using Cryopodctl::usageError;

namespace
{
const char storeOption[] =
    "  --store DIR      the store (default: $CRYOPOD_STORE, else\n"
    "                   $XDG_DATA_HOME/cryopod)\n";

QString q(const std::string &s)
{
    return QString::fromStdString(s);
}

Result<std::unique_ptr<SnapshotStore>> openStore(const Args &args)
{
    const auto dir = args.value("--store");
    return SnapshotStore::open(dir ? dir->toStdString() : SnapshotStore::defaultLocation());
}

std::optional<int64_t> parseId(const QString &text)
{
    bool ok = false;
    const qlonglong id = text.toLongLong(&ok);
    if (!ok || id <= 0) {
        return std::nullopt;
    }
    return id;
}

// "2026-03-01", "2026-03-01T14:00", "2026-03-01 14:00:05" (local time) or seconds since the epoch.
std::optional<int64_t> parseTime(const QString &text)
{
    bool ok = false;
    const qlonglong seconds = text.toLongLong(&ok);
    if (ok) {
        return int64_t(seconds) * 1000000000;
    }
    QString iso = text;
    iso.replace(QLatin1Char(' '), QLatin1Char('T'));
    QDateTime t = QDateTime::fromString(iso, Qt::ISODate);
    if (!t.isValid()) {
        const QDate day = QDate::fromString(text, Qt::ISODate);
        if (!day.isValid()) {
            return std::nullopt;
        }
        t = day.startOfDay();
    }
    return int64_t(t.toMSecsSinceEpoch()) * 1000000;
}

QString ms(uint64_t ns)
{
    return QString::number(double(ns) / 1e6, 'f', 0) + QStringLiteral(" ms");
}

QJsonObject snapshotJson(const SnapshotInfo &s)
{
    return QJsonObject {
        {QStringLiteral("id"), qint64(s.id)},
        {QStringLiteral("target"), qint64(s.targetId)},
        {QStringLiteral("createdAt"), QDateTime::fromMSecsSinceEpoch(s.createdAtNs / 1000000).toString(Qt::ISODateWithMs)},
        {QStringLiteral("storedAt"), QDateTime::fromMSecsSinceEpoch(s.storedAtNs / 1000000).toString(Qt::ISODateWithMs)},
        {QStringLiteral("label"), q(s.label)},
        {QStringLiteral("note"), q(s.note)},
        {QStringLiteral("pinned"), s.pinned},
        {QStringLiteral("parent"), s.parentId ? QJsonValue(qint64(s.parentId)) : QJsonValue()},
        {QStringLiteral("origin"), q(s.origin)},
        {QStringLiteral("pid"), s.rootPid},
        {QStringLiteral("comm"), q(s.comm)},
        {QStringLiteral("exe"), q(s.exe)},
        {QStringLiteral("host"), q(s.host)},
        {QStringLiteral("imageBytes"), qint64(s.imageBytes)},
        {QStringLiteral("rawBytes"), qint64(s.rawBytes)},
        {QStringLiteral("storedBytes"), qint64(s.storedBytes)},
        {QStringLiteral("pages"), qint64(s.pages)},
        {QStringLiteral("sections"), qint64(s.sections)},
        {QStringLiteral("durationNs"), qint64(s.durationNs)},
        {QStringLiteral("pauseNs"), qint64(s.pauseNs)},
        {QStringLiteral("engineVersion"), q(s.engineVersion)},
        {QStringLiteral("formatVersion"), qint64(s.formatVersion)},
        {QStringLiteral("codec"), q(s.codec)},
        {QStringLiteral("status"), q(s.status)},
    };
}

// ---- snapshot

const char snapshotUsage[] =
    "usage: cryopodctl snapshot PID [--label L] [--note N] [--level N] [--verify-all] [--direct] [--store DIR]\n"
    "\n"
    "Checkpoints process PID (it keeps running) and stores the image in the\n"
    "snapshot store as it is written: only pages the store does not hold yet\n"
    "take space. Prints the new snapshot's id. The checkpoint is done by\n"
    "cryopod-helper (polkit decides whether you may); as root, --direct runs\n"
    "the engine in this process instead.\n"
    "\n"
    "options:\n"
    "  --label L        a label for the snapshot\n"
    "  --note N         a note\n"
    "  --level N        compress the image stream with zstd at level N, -7 to 19\n"
    "                   (default: the stream is not compressed; the store\n"
    "                   compresses what it keeps by itself)\n"
    "  --verify-all     re-encode every page section at store time (default: a sample)\n"
    "  --direct         run the engine in this process (root only), not the helper\n"
    "  --detach-fd N    fd N of the process is saved detached: restored as a pipe\n"
    "                   end whose writer is gone (libcryopod's cryopod_snapshot)\n"
    "%s"
    "  -h, --help       this text\n";

int runSnapshot(const QStringList &list)
{
    const std::string usage = std::string(snapshotUsage).replace(std::string(snapshotUsage).find("%s"), 2, storeOption);
    const Args args(list,
                    {QStringLiteral("--label"), QStringLiteral("--note"), QStringLiteral("--level"), QStringLiteral("--store"), QStringLiteral("--detach-fd")},
                    {QStringLiteral("--verify-all"), QStringLiteral("--direct")});
    if (args.help) {
        std::fputs(usage.c_str(), stdout);
        return 0;
    }
    if (!args.error.isEmpty()) {
        return usageError("snapshot", args.error, usage.c_str());
    }
    if (args.positional.size() != 1) {
        return usageError("snapshot", QStringLiteral("give exactly one PID"), usage.c_str());
    }
    bool ok = false;
    const int pid = args.positional[0].toInt(&ok);
    if (!ok || pid <= 0) {
        return usageError("snapshot", QStringLiteral("PID must be a positive number"), usage.c_str());
    }
    std::optional<int> level;
    if (const auto l = args.value("--level")) {
        level = l->toInt(&ok);
        if (!ok || *level < -7 || *level > 19) {
            return usageError("snapshot", QStringLiteral("--level must be a zstd level, -7 to 19"), usage.c_str());
        }
    }
    QList<int> detached;
    if (const auto d = args.value("--detach-fd")) {
        const int fd = d->toInt(&ok);
        if (!ok || fd < 0) {
            return usageError("snapshot", QStringLiteral("--detach-fd must be an fd number"), usage.c_str());
        }
        if (args.has("--direct")) {
            return usageError("snapshot", QStringLiteral("--detach-fd works through the helper only"), usage.c_str());
        }
        detached << fd;
    }
    if (args.has("--direct") && !DirectEngine::available()) {
        return failure("snapshot", DirectEngine::unavailableReason());
    }
    auto store = openStore(args);
    if (!store) {
        return failure("snapshot", store.error().describe());
    }
    auto target = TargetProbe::probe(pid);
    if (!target) {
        return failure("snapshot", target.error().describe());
    }
    IngestOptions options;
    options.target = *target;
    options.label = args.value("--label").value_or(QString()).toStdString();
    options.note = args.value("--note").value_or(QString()).toStdString();
    image::WriterOptions writer;
    writer.compressionLevel = level.value_or(writer.compressionLevel);
    options.encodingHint = image::bulkEncodingOf(writer);
    options.verify = args.has("--verify-all") ? VerifyPolicy::EverySection : VerifyPolicy::Sample;
    std::unique_ptr<HelperClient> client;
    std::unique_ptr<ImageProducer> producer;
    if (args.has("--direct")) {
        producer = std::make_unique<DirectEngine::Producer>(level);
    } else {
        client = std::make_unique<HelperClient>();
        auto helperProducer = std::make_unique<HelperEngine::Producer>(*client, level);
        helperProducer->setDetachedFds(detached);
        producer = std::move(helperProducer);
    }
    auto taken = SnapshotJob::take(**store, *producer, pid, options);
    if (!taken) {
        return failure("snapshot", taken.error().describe());
    }
    const IngestStats &st = taken->ingest;
    const double shared = st.chunks ? 100.0 * double(st.chunks - st.newChunks - st.zeroChunks) / double(st.chunks) : 0.0;
    print(QStringLiteral("snapshot %1 of %2 (%3): image %4, added %5 to the store (%6% of its chunks were already stored), pause %7, total %8\n")
              .arg(taken->id)
              .arg(pid)
              .arg(q(target->exe))
              .arg(q(formatBytes(st.imageBytes)), q(formatBytes(st.storedBytes)))
              .arg(shared, 0, 'f', 1)
              .arg(ms(taken->producer.pauseNs), ms(taken->producer.totalNs)));
    return 0;
}

// ---- list

const char listUsage[] =
    "usage: cryopodctl list [--target ID] [--since TIME] [--until TIME] [--limit N] [--newest-first] [--json] [--store DIR]\n"
    "\n"
    "The timeline: every snapshot (or a target's), oldest first. TIME is a date,\n"
    "a date and time (local, e.g. 2026-03-01T14:00) or seconds since the epoch.\n"
    "Also: cryopodctl list --targets (the targets).\n"
    "\n"
    "options:\n"
    "  --target ID      only this target's snapshots\n"
    "  --since TIME     taken at or after TIME\n"
    "  --until TIME     taken before TIME\n"
    "  --limit N        at most N snapshots\n"
    "  --newest-first   the newest first\n"
    "  --targets        list the targets instead\n"
    "  --json           one JSON document\n"
    "%s"
    "  -h, --help       this text\n";

int runList(const QStringList &list)
{
    const std::string usage = std::string(listUsage).replace(std::string(listUsage).find("%s"), 2, storeOption);
    const Args args(list,
                    {QStringLiteral("--target"), QStringLiteral("--since"), QStringLiteral("--until"), QStringLiteral("--limit"), QStringLiteral("--store")},
                    {QStringLiteral("--json"), QStringLiteral("--newest-first"), QStringLiteral("--targets")});
    if (args.help) {
        std::fputs(usage.c_str(), stdout);
        return 0;
    }
    if (!args.error.isEmpty() || !args.positional.isEmpty()) {
        return usageError("list", args.error.isEmpty() ? QStringLiteral("unexpected argument '%1'").arg(args.positional.value(0)) : args.error, usage.c_str());
    }
    SnapshotFilter filter;
    if (const auto t = args.value("--target")) {
        const auto id = parseId(*t);
        if (!id) {
            return usageError("list", QStringLiteral("--target needs a target id"), usage.c_str());
        }
        filter.targetId = *id;
    }
    for (const auto &[option, out] : {std::pair<const char *, int64_t *>("--since", &filter.sinceNs), {"--until", &filter.untilNs}}) {
        if (const auto v = args.value(option)) {
            const auto t = parseTime(*v);
            if (!t) {
                return usageError("list", QStringLiteral("%1: '%2' is not a time").arg(QLatin1String(option), *v), usage.c_str());
            }
            *out = *t;
        }
    }
    if (const auto l = args.value("--limit")) {
        const auto n = parseId(*l);
        if (!n) {
            return usageError("list", QStringLiteral("--limit needs a positive number"), usage.c_str());
        }
        filter.limit = size_t(*n);
    }
    filter.newestFirst = args.has("--newest-first");
    auto store = openStore(args);
    if (!store) {
        return failure("list", store.error().describe());
    }
    if (args.has("--targets")) {
        auto targets = (*store)->targets();
        if (!targets) {
            return failure("list", targets.error().describe());
        }
        if (args.has("--json")) {
            QJsonArray array;
            for (const Target &t : *targets) {
                array.append(QJsonObject {{QStringLiteral("id"), qint64(t.id)},
                                          {QStringLiteral("label"), q(t.label)},
                                          {QStringLiteral("exe"), q(t.info.exe)},
                                          {QStringLiteral("cmdline"), q(t.info.cmdline)},
                                          {QStringLiteral("pid"), t.info.pid},
                                          {QStringLiteral("uid"), qint64(t.info.uid)},
                                          {QStringLiteral("user"), q(t.info.user)},
                                          {QStringLiteral("host"), q(t.info.host)},
                                          {QStringLiteral("kernel"), q(t.info.kernel)},
                                          {QStringLiteral("snapshots"), qint64(t.snapshots)}});
            }
            print(QString::fromUtf8(QJsonDocument(array).toJson()));
            return 0;
        }
        print(QStringLiteral("%1  %2  %3  %4  %5\n").arg(QStringLiteral("TARGET"), 6).arg(QStringLiteral("PID"), 7).arg(QStringLiteral("SNAPS"), 5).arg(QStringLiteral("LABEL"), -16).arg(QStringLiteral("COMMAND")));
        for (const Target &t : *targets) {
            print(QStringLiteral("%1  %2  %3  %4  %5\n")
                      .arg(t.id, 6)
                      .arg(t.info.pid, 7)
                      .arg(t.snapshots, 5)
                      .arg(q(t.label), -16)
                      .arg(q(t.info.cmdline.empty() ? t.info.exe : t.info.cmdline)));
        }
        return 0;
    }
    auto snapshots = (*store)->list(filter);
    if (!snapshots) {
        return failure("list", snapshots.error().describe());
    }
    if (args.has("--json")) {
        QJsonArray array;
        for (const SnapshotInfo &s : *snapshots) {
            array.append(snapshotJson(s));
        }
        print(QString::fromUtf8(QJsonDocument(array).toJson()));
        return 0;
    }
    QString out = QStringLiteral("%1  %2  %3  %4  %5  %6  %7  %8\n")
                      .arg(QStringLiteral("ID"), 6)
                      .arg(QStringLiteral("TAKEN"), -19)
                      .arg(QStringLiteral("TARGET"), 6)
                      .arg(QStringLiteral("PID"), 7)
                      .arg(QStringLiteral("COMM"), -15)
                      .arg(QStringLiteral("IMAGE"), 10)
                      .arg(QStringLiteral("ADDED"), 10)
                      .arg(QStringLiteral("LABEL"));
    for (const SnapshotInfo &s : *snapshots) {
        out += QStringLiteral("%1  %2  %3  %4  %5  %6  %7  %8%9\n")
                   .arg(s.id, 6)
                   .arg(q(formatTime(s.createdAtNs)), -19)
                   .arg(s.targetId, 6)
                   .arg(s.rootPid, 7)
                   .arg(q(s.comm), -15)
                   .arg(q(formatBytes(s.imageBytes)), 10)
                   .arg(q(formatBytes(s.storedBytes)), 10)
                   .arg(s.pinned ? QStringLiteral("[pinned] ") : QString(), q(s.label));
    }
    print(out);
    return 0;
}

// ---- show

const char showUsage[] =
    "usage: cryopodctl show ID [--json] [--store DIR]\n"
    "\n"
    "Everything the store knows about snapshot ID.\n";

int runShow(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {QStringLiteral("--json")});
    if (args.help) {
        std::fputs(showUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 1 || !parseId(args.positional[0])) {
        return usageError("show", args.error.isEmpty() ? QStringLiteral("give one snapshot id") : args.error, showUsage);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("show", store.error().describe());
    }
    auto s = (*store)->snapshot(*parseId(args.positional[0]));
    if (!s) {
        return failure("show", s.error().describe());
    }
    if (args.has("--json")) {
        print(QString::fromUtf8(QJsonDocument(snapshotJson(*s)).toJson()));
        return 0;
    }
    QString out;
    auto line = [&](const char *key, const QString &value) {
        out += QStringLiteral("%1 %2\n").arg(QLatin1String(key), -16).arg(value);
    };
    line("snapshot", QString::number(s->id));
    line("label", q(s->label));
    line("note", q(s->note));
    line("pinned", s->pinned ? QStringLiteral("yes") : QStringLiteral("no"));
    line("taken", q(formatTime(s->createdAtNs)));
    line("stored", q(formatTime(s->storedAtNs)));
    line("origin", q(s->origin));
    line("parent", s->parentId ? QString::number(s->parentId) : QStringLiteral("-"));
    line("target", QStringLiteral("%1%2").arg(s->targetId).arg(s->targetLabel.empty() ? QString() : QStringLiteral(" (%1)").arg(q(s->targetLabel))));
    line("process", QStringLiteral("%1 %2 (%3)").arg(s->rootPid).arg(q(s->comm), q(s->exe)));
    line("host", q(s->host));
    line("image", QStringLiteral("%1, %2 raw, %3 pages in %4 sections").arg(q(formatBytes(s->imageBytes)), q(formatBytes(s->rawBytes))).arg(s->pages).arg(s->sections));
    line("added to store", q(formatBytes(s->storedBytes)));
    line("pause", s->pauseNs ? ms(s->pauseNs) : QStringLiteral("-"));
    line("duration", ms(s->durationNs));
    line("engine", QStringLiteral("%1, image format %2, %3").arg(q(s->engineVersion)).arg(s->formatVersion).arg(q(s->codec)));
    line("status", q(s->status));
    print(out);
    return 0;
}

// ---- restore ID

const char restoreIdUsage[] =
    "usage: cryopodctl restore ID [--frozen] [--direct] [--store DIR]\n"
    "       cryopodctl restore -i IMAGE [--frozen] [--direct]\n"
    "\n"
    "Restores snapshot ID from the store: the image is rebuilt (every section\n"
    "verified) and streamed to the engine, which recreates the process with its\n"
    "original PID. cryopod-helper restores it (polkit decides whether you may);\n"
    "as root, --direct runs the engine in this process instead. The second form\n"
    "restores an image file (see `restore -i IMAGE --help`).\n"
    "\n"
    "options:\n"
    "  --frozen         leave the restored process stopped (SIGSTOP)\n"
    "  --direct         run the engine in this process (root only), not the helper\n"
    "%s"
    "  -h, --help       this text\n";

int runRestoreSnapshot(const QStringList &list)
{
    const std::string usage = std::string(restoreIdUsage).replace(std::string(restoreIdUsage).find("%s"), 2, storeOption);
    const Args args(list, {QStringLiteral("--store")}, {QStringLiteral("--frozen"), QStringLiteral("--direct")});
    if (args.help) {
        std::fputs(usage.c_str(), stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 1 || !parseId(args.positional[0])) {
        return usageError("restore", args.error.isEmpty() ? QStringLiteral("give one snapshot id") : args.error, usage.c_str());
    }
    if (args.has("--direct") && !DirectEngine::available()) {
        return failure("restore", DirectEngine::unavailableReason());
    }
    auto store = openStore(args);
    if (!store) {
        return failure("restore", store.error().describe());
    }
    std::unique_ptr<HelperClient> client;
    std::unique_ptr<ImageConsumer> consumer;
    if (args.has("--direct")) {
        consumer = std::make_unique<DirectEngine::Consumer>(args.has("--frozen"));
    } else {
        client = std::make_unique<HelperClient>();
        consumer = std::make_unique<HelperEngine::Consumer>(*client, args.has("--frozen"));
    }
    auto restored = SnapshotJob::restore(**store, *parseId(args.positional[0]), *consumer);
    if (!restored) {
        return failure("restore", restored.error().describe());
    }
    if (restored->rebuild.reencodedSections) {
        std::fprintf(stderr,
                     "cryopodctl: restore: note: %llu sections were re-encoded (the zstd library changed since the snapshot was stored)\n",
                     static_cast<unsigned long long>(restored->rebuild.reencodedSections));
    }
    std::printf("restored pid %d\n", int(restored->consumer.pid));
    std::fflush(stdout);
    return 0;
}

// ---- diff

const char diffUsage[] =
    "usage: cryopodctl diff ID1 ID2 [--store DIR]\n"
    "\n"
    "What changed from snapshot ID1 to ID2: memory pages per region, open files,\n"
    "the process tree and each process's state.\n";

int runDiff(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {});
    if (args.help) {
        std::fputs(diffUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 2 || !parseId(args.positional[0]) || !parseId(args.positional[1])) {
        return usageError("diff", args.error.isEmpty() ? QStringLiteral("give two snapshot ids") : args.error, diffUsage);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("diff", store.error().describe());
    }
    auto diff = SnapshotDiff::compare(**store, *parseId(args.positional[0]), *parseId(args.positional[1]));
    if (!diff) {
        return failure("diff", diff.error().describe());
    }
    QString out = QStringLiteral("memory: %1 pages changed, %2 added, %3 removed, %4 unchanged (%5 changed)\n")
                      .arg(diff->pagesChanged)
                      .arg(diff->pagesAdded)
                      .arg(diff->pagesRemoved)
                      .arg(diff->pagesSame)
                      .arg(q(formatBytes((diff->pagesChanged + diff->pagesAdded) * diff->pageSize)));
    for (const RegionDiff &r : diff->regions) {
        out += QStringLiteral("  pid %1 %2-%3 %4%5: %6 changed, %7 added, %8 removed (of %9 -> %10 pages)\n")
                   .arg(r.pid)
                   .arg(r.start, 12, 16, QLatin1Char('0'))
                   .arg(r.end, 12, 16, QLatin1Char('0'))
                   .arg(r.name.empty() ? QStringLiteral("[anon]") : q(r.name))
                   .arg(r.mapping.empty() ? QString() : QStringLiteral(" (%1)").arg(q(r.mapping)))
                   .arg(r.changed)
                   .arg(r.added)
                   .arg(r.removed)
                   .arg(r.pagesA)
                   .arg(r.pagesB);
    }
    out += diff->fds.empty() ? QStringLiteral("files: no change\n") : QStringLiteral("files:\n");
    for (const std::string &f : diff->fds) {
        out += QStringLiteral("  %1\n").arg(q(f));
    }
    out += diff->processes.empty() ? QStringLiteral("processes: no change\n") : QStringLiteral("processes:\n");
    for (const std::string &p : diff->processes) {
        out += QStringLiteral("  %1\n").arg(q(p));
    }
    print(out);
    return 0;
}

// ---- export / import

const char exportUsage[] =
    "usage: cryopodctl export ID FILE [--allow-reencode] [--store DIR]\n"
    "\n"
    "Writes snapshot ID as one self-contained image file, byte for byte the\n"
    "image that was stored (`cryopodctl inspect FILE` reads it). When the zstd\n"
    "library changed since the snapshot was stored, that is refused unless\n"
    "--allow-reencode accepts an equivalent image (same records and pages,\n"
    "other compressed bytes).\n";

int runExport(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {QStringLiteral("--allow-reencode")});
    if (args.help) {
        std::fputs(exportUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 2 || !parseId(args.positional[0])) {
        return usageError("export", args.error.isEmpty() ? QStringLiteral("give a snapshot id and a file") : args.error, exportUsage);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("export", store.error().describe());
    }
    RebuildOptions options;
    options.exact = !args.has("--allow-reencode");
    auto result = (*store)->exportImage(*parseId(args.positional[0]), args.positional[1].toStdString(), options);
    if (!result) {
        return failure("export", result.error().describe());
    }
    print(QStringLiteral("exported snapshot %1 to %2 (%3, %4 sections, %5)\n")
              .arg(args.positional[0], args.positional[1], q(formatBytes(result->bytes)))
              .arg(result->sections)
              .arg(result->identical ? QStringLiteral("identical to the stored image")
                                     : QStringLiteral("%1 sections re-encoded: equivalent to the stored image").arg(result->reencodedSections)));
    return 0;
}

const char importUsage[] =
    "usage: cryopodctl import FILE [--label L] [--note N] [--store DIR]\n"
    "\n"
    "Stores the image file FILE as a snapshot (checked completely first).\n";

int runImport(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--label"), QStringLiteral("--note"), QStringLiteral("--store")}, {QStringLiteral("--verify-all")});
    if (args.help) {
        std::fputs(importUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 1) {
        return usageError("import", args.error.isEmpty() ? QStringLiteral("give one image file") : args.error, importUsage);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("import", store.error().describe());
    }
    IngestOptions options;
    options.origin = "import";
    options.label = args.value("--label").value_or(QString()).toStdString();
    options.note = args.value("--note").value_or(QString()).toStdString();
    options.verify = args.has("--verify-all") ? VerifyPolicy::EverySection : VerifyPolicy::Sample;
    IngestStats stats;
    auto id = (*store)->importImage(args.positional[0].toStdString(), options, &stats);
    if (!id) {
        return failure("import", id.error().describe());
    }
    print(QStringLiteral("imported %1 as snapshot %2 (image %3, added %4 to the store)\n")
              .arg(args.positional[0])
              .arg(*id)
              .arg(q(formatBytes(stats.imageBytes)), q(formatBytes(stats.storedBytes))));
    return 0;
}

// ---- delete / edit

const char deleteUsage[] =
    "usage: cryopodctl delete ID... [--force] [--no-gc] [--store DIR]\n"
    "\n"
    "Deletes snapshots, then reclaims the space only they used (store gc).\n"
    "A pinned snapshot is kept unless --force is given.\n";

int runDelete(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {QStringLiteral("--force"), QStringLiteral("--no-gc")});
    if (args.help) {
        std::fputs(deleteUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.isEmpty()) {
        return usageError("delete", args.error.isEmpty() ? QStringLiteral("give snapshot ids") : args.error, deleteUsage);
    }
    std::vector<int64_t> ids;
    for (const QString &p : args.positional) {
        const auto id = parseId(p);
        if (!id) {
            return usageError("delete", QStringLiteral("'%1' is not a snapshot id").arg(p), deleteUsage);
        }
        ids.push_back(*id);
    }
    auto store = openStore(args);
    if (!store) {
        return failure("delete", store.error().describe());
    }
    int status = 0;
    for (const int64_t id : ids) {
        if (auto ok = (*store)->remove(id, args.has("--force")); !ok) {
            failure("delete", ok.error().describe());
            status = 1;
        } else {
            std::printf("deleted snapshot %lld\n", static_cast<long long>(id));
        }
    }
    if (!args.has("--no-gc")) {
        auto gc = (*store)->gc();
        if (!gc) {
            failure("delete", gc.error().describe() + " (the space is reclaimed by the next `cryopodctl store gc`)");
        } else {
            print(QStringLiteral("reclaimed %1\n").arg(q(formatBytes(gc->bytesBefore > gc->bytesAfter ? gc->bytesBefore - gc->bytesAfter : 0))));
        }
    }
    std::fflush(stdout);
    return status;
}

const char editUsage[] =
    "usage: cryopodctl edit ID [--label L] [--note N] [--pin|--unpin] [--target-label L] [--store DIR]\n"
    "\n"
    "Changes a snapshot's label, note or pin (a pinned snapshot is not deleted\n"
    "without --force), or the label of its target.\n";

int runEdit(const QStringList &list)
{
    const Args args(list,
                    {QStringLiteral("--label"), QStringLiteral("--note"), QStringLiteral("--target-label"), QStringLiteral("--store")},
                    {QStringLiteral("--pin"), QStringLiteral("--unpin")});
    if (args.help) {
        std::fputs(editUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 1 || !parseId(args.positional[0])) {
        return usageError("edit", args.error.isEmpty() ? QStringLiteral("give one snapshot id") : args.error, editUsage);
    }
    if (args.has("--pin") && args.has("--unpin")) {
        return usageError("edit", QStringLiteral("--pin and --unpin exclude each other"), editUsage);
    }
    const int64_t id = *parseId(args.positional[0]);
    auto store = openStore(args);
    if (!store) {
        return failure("edit", store.error().describe());
    }
    Result<void> ok;
    if (const auto l = args.value("--label"); l && ok) {
        ok = (*store)->setLabel(id, l->toStdString());
    }
    if (const auto n = args.value("--note"); n && ok) {
        ok = (*store)->setNote(id, n->toStdString());
    }
    if ((args.has("--pin") || args.has("--unpin")) && ok) {
        ok = (*store)->setPinned(id, args.has("--pin"));
    }
    if (const auto t = args.value("--target-label"); t && ok) {
        auto s = (*store)->snapshot(id);
        ok = s ? (*store)->setTargetLabel(s->targetId, t->toStdString()) : Result<void>(std::unexpected(s.error()));
    }
    if (!ok) {
        return failure("edit", ok.error().describe());
    }
    return 0;
}

// ---- store check|gc|stats|path

const char storeUsage[] =
    "usage: cryopodctl store check [--rebuild] [--store DIR]\n"
    "       cryopodctl store gc [--wait] [--store DIR]\n"
    "       cryopodctl store stats [--store DIR]\n"
    "       cryopodctl store path [--store DIR]\n"
    "\n"
    "check  verifies every pack, every chunk against its hash, every manifest\n"
    "       and reference count, and says what is damaged (exit status 1);\n"
    "       --rebuild also rebuilds every snapshot and compares its checksums\n"
    "gc     removes chunks and pack files no snapshot uses (leftovers of deleted\n"
    "       snapshots and of interrupted ones) and rewrites half-empty packs;\n"
    "       --wait waits for running snapshots instead of failing\n"
    "stats  sizes and counts\n"
    "path   the store's directory\n";

int runStoreCommand(const QStringList &list)
{
    const Args args(list, {QStringLiteral("--store")}, {QStringLiteral("--rebuild"), QStringLiteral("--wait")});
    if (args.help) {
        std::fputs(storeUsage, stdout);
        return 0;
    }
    if (!args.error.isEmpty() || args.positional.size() != 1) {
        return usageError("store", args.error.isEmpty() ? QStringLiteral("give one of check, gc, stats, path") : args.error, storeUsage);
    }
    const QString what = args.positional[0];
    if (what == QLatin1String("path")) {
        const auto dir = args.value("--store");
        print((dir ? *dir : q(SnapshotStore::defaultLocation())) + QLatin1Char('\n'));
        return 0;
    }
    auto store = openStore(args);
    if (!store) {
        return failure("store", store.error().describe());
    }
    if (what == QLatin1String("check")) {
        CheckOptions options;
        options.rebuild = args.has("--rebuild");
        auto report = (*store)->check(options);
        if (!report) {
            return failure("store check", report.error().describe());
        }
        QString out = QStringLiteral("checked %1 snapshots, %2 packs, %3 blobs, %4 chunks (%5 verified)\n")
                          .arg(report->snapshots)
                          .arg(report->packs)
                          .arg(report->blobs)
                          .arg(report->chunks)
                          .arg(q(formatBytes(report->bytesVerified)));
        for (const std::string &p : report->problems) {
            out += QStringLiteral("DAMAGED: %1\n").arg(q(p));
        }
        if (!report->damagedSnapshots.empty()) {
            QStringList ids;
            for (const int64_t id : report->damagedSnapshots) {
                ids.append(QString::number(id));
            }
            out += QStringLiteral("snapshots that cannot be restored: %1\n").arg(ids.join(QStringLiteral(", ")));
        }
        for (const std::string &g : report->garbage) {
            out += QStringLiteral("garbage (store gc reclaims it): %1\n").arg(q(g));
        }
        for (const std::string &n : report->notes) {
            out += QStringLiteral("note: %1\n").arg(q(n));
        }
        out += report->ok() ? QStringLiteral("store is intact\n") : QStringLiteral("store is damaged\n");
        print(out);
        return report->ok() ? 0 : 1;
    }
    if (what == QLatin1String("gc")) {
        GcOptions options;
        options.wait = args.has("--wait");
        auto report = (*store)->gc(options);
        if (!report) {
            return failure("store gc", report.error().describe());
        }
        print(QStringLiteral("removed %1 chunks, deleted %2 packs, rewrote %3 packs, removed %4 leftover files; store %5 -> %6\n")
                  .arg(report->chunksRemoved)
                  .arg(report->packsDeleted)
                  .arg(report->packsRepacked)
                  .arg(report->orphanFilesRemoved)
                  .arg(q(formatBytes(report->bytesBefore)), q(formatBytes(report->bytesAfter))));
        return 0;
    }
    if (what == QLatin1String("stats")) {
        auto s = (*store)->stats();
        if (!s) {
            return failure("store stats", s.error().describe());
        }
        print(QStringLiteral("store %1\nsnapshots %2, targets %3\npacks %4 (%5), chunks %6 (%7 in use)\nindex %8, on disk %9\n")
                  .arg(q((*store)->directory()))
                  .arg(s->snapshots)
                  .arg(s->targets)
                  .arg(s->packs)
                  .arg(q(formatBytes(s->packBytes)))
                  .arg(s->chunks)
                  .arg(s->liveChunks)
                  .arg(q(formatBytes(s->indexBytes)), q(formatBytes(s->diskBytes))));
        return 0;
    }
    return usageError("store", QStringLiteral("unknown store command '%1'").arg(what), storeUsage);
}
} // namespace

int Cryopodctl::runSnapshot(const QStringList &args)
{
    return ::runSnapshot(args);
}

int Cryopodctl::runList(const QStringList &args)
{
    return ::runList(args);
}

int Cryopodctl::runShow(const QStringList &args)
{
    return ::runShow(args);
}

int Cryopodctl::runRestoreDispatch(const QStringList &args)
{
    // `restore -i IMAGE` restores an image file (restorecommand.cpp);
    // `restore ID` restores a snapshot from the store.
    for (const QString &a : args) {
        if (a == QLatin1String("-i") || a == QLatin1String("--input")) {
            return Cryopodctl::runRestore(args);
        }
    }
    return runRestoreSnapshot(args);
}

int Cryopodctl::runDiff(const QStringList &args)
{
    return ::runDiff(args);
}

int Cryopodctl::runExport(const QStringList &args)
{
    return ::runExport(args);
}

int Cryopodctl::runImport(const QStringList &args)
{
    return ::runImport(args);
}

int Cryopodctl::runDelete(const QStringList &args)
{
    return ::runDelete(args);
}

int Cryopodctl::runEdit(const QStringList &args)
{
    return ::runEdit(args);
}

int Cryopodctl::runStore(const QStringList &args)
{
    return ::runStoreCommand(args);
}
