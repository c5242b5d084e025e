// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotdetailsmodel.h"

#include "imageinfo.h"
#include "snapshotjob.h"
#include "snapshotstore.h"
#include "uniquefd.h"

#include <QLocale>

#include <algorithm>

#include <unistd.h>

using namespace cryopod;

namespace
{
QString q(const std::string &text)
{
    return QString::fromStdString(text);
}

QString size(uint64_t bytes)
{
    return QLocale().formattedDataSize(qint64(bytes), 1, QLocale::DataSizeIecFormat);
}

QString protection(uint32_t prot, image::VmaKind kind)
{
    const bool shared = kind == image::VmaKind::FileShared || kind == image::VmaKind::SharedAnonymous;
    return QStringLiteral("%1%2%3%4")
        .arg(prot & image::kVmaRead ? QLatin1Char('r') : QLatin1Char('-'))
        .arg(prot & image::kVmaWrite ? QLatin1Char('w') : QLatin1Char('-'))
        .arg(prot & image::kVmaExec ? QLatin1Char('x') : QLatin1Char('-'))
        .arg(shared ? QLatin1Char('s') : QLatin1Char('p'));
}

QString regionName(const image::VmaRecord &vma)
{
    if (!vma.path.empty()) {
        return q(vma.path);
    }
    return vma.kind == image::VmaKind::SharedAnonymous ? SnapshotDetailsModel::tr("shared memory") : SnapshotDetailsModel::tr("anonymous memory");
}

QString fdKind(image::FdKind kind)
{
    switch (kind) {
    case image::FdKind::Regular:
        return SnapshotDetailsModel::tr("file");
    case image::FdKind::Directory:
        return SnapshotDetailsModel::tr("directory");
    case image::FdKind::CharDevice:
        return SnapshotDetailsModel::tr("device");
    case image::FdKind::Pipe:
        return SnapshotDetailsModel::tr("pipe");
    case image::FdKind::Fifo:
        return SnapshotDetailsModel::tr("named pipe");
    case image::FdKind::EventFd:
        return SnapshotDetailsModel::tr("event counter");
    case image::FdKind::TimerFd:
        return SnapshotDetailsModel::tr("timer");
    case image::FdKind::SignalFd:
        return SnapshotDetailsModel::tr("signal queue");
    case image::FdKind::Epoll:
        return SnapshotDetailsModel::tr("epoll instance");
    case image::FdKind::UnixSocket:
        return SnapshotDetailsModel::tr("local socket");
    case image::FdKind::Terminal:
        return SnapshotDetailsModel::tr("terminal");
    case image::FdKind::InetSocket:
        return SnapshotDetailsModel::tr("network socket");
    case image::FdKind::Inotify:
        return SnapshotDetailsModel::tr("file watcher");
    case image::FdKind::Memfd:
        return SnapshotDetailsModel::tr("memory file");
    case image::FdKind::ProcFile:
        return SnapshotDetailsModel::tr("process information file");
    }
    return SnapshotDetailsModel::tr("unknown");
}

QList<SnapshotDetailsModel::Row> rowsOf(const image::ImageInfo &info)
{
    using Row = SnapshotDetailsModel::Row;
    QList<Row> processes, memory, files, credentials;
    for (const image::ImageProcess &p : info.processes) {
        const int pid = p.entry.pid;
        const QString comm = p.task ? q(p.task->comm) : QString();
        processes.append(
            Row {QStringLiteral("processes"), pid, SnapshotDetailsModel::tr("%1 (process %2)").arg(comm).arg(pid),
                 SnapshotDetailsModel::tr("parent %1 · threads: %2 · %3 of memory saved").arg(p.entry.ppid).arg(p.entry.tids.size()).arg(size(p.rawBytes)) +
                     (p.task ? QStringLiteral(" · ") + q(p.task->exePath) : QString()),
                 qint64(p.rawBytes)});
        for (const image::ImageVma &vma : p.vmas) {
            memory.append(Row {QStringLiteral("memory"), pid, regionName(vma.vma),
                               SnapshotDetailsModel::tr("%1 · %2 mapped · %3 saved (%4 in the image) · process %5")
                                   .arg(protection(vma.vma.prot, vma.vma.kind))
                                   .arg(size(vma.vma.end - vma.vma.start))
                                   .arg(size(vma.rawBytes))
                                   .arg(size(vma.storedBytes))
                                   .arg(pid),
                               qint64(vma.rawBytes)});
        }
        for (const image::ImageFd &fd : p.fds) {
            files.append(Row {QStringLiteral("files"), pid, SnapshotDetailsModel::tr("%1: %2").arg(fd.fd.fd).arg(q(fd.fd.path)),
                              SnapshotDetailsModel::tr("%1 · position %2%3 · process %4")
                                  .arg(fdKind(fd.fd.kind))
                                  .arg(fd.fd.pos)
                                  .arg(fd.fd.unlinked ? SnapshotDetailsModel::tr(" · deleted, its contents saved (%1)").arg(size(fd.dataRawBytes)) : QString())
                                  .arg(pid),
                              qint64(fd.dataRawBytes)});
        }
        if (p.creds) {
            const image::CredsRecord &c = *p.creds;
            QStringList groups;
            for (uint32_t g : c.groups) {
                groups.append(QString::number(g));
            }
            credentials.append(Row {QStringLiteral("credentials"), pid,
                                    SnapshotDetailsModel::tr("%1 (process %2): user %3, group %4").arg(comm).arg(pid).arg(c.euid).arg(c.egid),
                                    SnapshotDetailsModel::tr("uid %1/%2/%3 · gid %4/%5/%6 · groups %7 · effective capabilities %8%9")
                                        .arg(c.uid)
                                        .arg(c.euid)
                                        .arg(c.suid)
                                        .arg(c.gid)
                                        .arg(c.egid)
                                        .arg(c.sgid)
                                        .arg(groups.isEmpty() ? SnapshotDetailsModel::tr("none") : groups.join(QLatin1Char(',')))
                                        .arg(c.capEffective == 0 ? SnapshotDetailsModel::tr("none") : QStringLiteral("0x%1").arg(c.capEffective, 0, 16))
                                        .arg(c.noNewPrivs ? SnapshotDetailsModel::tr(" · no new privileges") : QString()),
                                    0});
        }
    }
    // The regions that hold the most of the snapshot first.
    std::stable_sort(memory.begin(), memory.end(), [](const Row &a, const Row &b) { return a.bytes > b.bytes; });
    return processes + memory + files + credentials;
}
} // namespace

SnapshotDetailsModel::SnapshotDetailsModel(QObject *parent)
    : SnapshotImageModel(parent)
{
}

int SnapshotDetailsModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant SnapshotDetailsModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const Row &row = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole:
        return row.title;
    case SectionRole:
        return row.section;
    case PidRole:
        return row.pid;
    case DetailRole:
        return row.detail;
    case BytesRole:
        return row.bytes;
    }
    return {};
}

QHash<int, QByteArray> SnapshotDetailsModel::roleNames() const
{
    return {
        {Qt::DisplayRole, "display"}, {SectionRole, "section"}, {PidRole, "pid"}, {TitleRole, "title"}, {DetailRole, "detail"}, {BytesRole, "bytes"},
    };
}

qint64 SnapshotDetailsModel::snapshotId() const
{
    return m_id;
}

void SnapshotDetailsModel::setSnapshotId(qint64 id)
{
    if (m_id != id) {
        m_id = id;
        Q_EMIT snapshotIdChanged();
        load();
    }
}

std::function<SnapshotImageModel::Loaded(const std::string &)> SnapshotDetailsModel::reader()
{
    if (m_id <= 0) {
        return {};
    }
    return [this, id = m_id](const std::string &storeDir) {
        Result result = read(storeDir, id);
        return Loaded {[this, rows = std::move(result.rows)] { m_rows = rows; }, result.error};
    };
}

void SnapshotDetailsModel::clearRows()
{
    m_rows.clear();
}

SnapshotDetailsModel::Result SnapshotDetailsModel::read(const std::string &storeDir, qint64 id)
{
    Result result;
    const ImageRead image = readImage(storeDir, id);
    if (!image.info) {
        result.error = image.error;
        return result;
    }
    result.rows = rowsOf(*image.info);
    return result;
}

SnapshotDetailsModel::ImageRead SnapshotDetailsModel::readImage(const std::string &storeDir, qint64 id)
{
    ImageRead result;
    auto store = store::SnapshotStore::open(storeDir);
    if (!store) {
        result.error = tr("Cannot open the snapshot store: %1").arg(q(store.error().describe()));
        return result;
    }
    // The stored image, rebuilt into a pipe, read beside it. As a restore
    // reads it: a snapshot stored before a zstd upgrade comes out
    // re-encoded, not refused.
    cryopod::Result<image::ImageInfo> info = fail("not read");
    auto rebuilt = store::SnapshotJob::read(**store, id, [&](int fd) {
        info = image::ImageInfo::read(fd);
    });
    if (!rebuilt) {
        result.error = tr("Cannot read snapshot %1 from the store: %2").arg(id).arg(q(rebuilt.error().describe()));
        return result;
    }
    if (!info) {
        result.error = tr("Snapshot %1's image cannot be read: %2").arg(id).arg(q(info.error().describe()));
        return result;
    }
    result.info = std::make_shared<const image::ImageInfo>(std::move(*info));
    return result;
}
