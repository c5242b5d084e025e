// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "snapshotdiffmodel.h"

#include "imageinfo.h"
#include "snapshotdetailsmodel.h"

#include <QLocale>

#include <algorithm>
#include <map>
#include <utility>

using namespace cryopod;
using Row = SnapshotDiffModel::Row;
using Change = SnapshotDiffModel::Change;

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

// Pairs the items of before and after by key and calls visit(key, a, b),
// a or b null for an item only one side has, in key order.
template<typename Key, typename Item, typename KeyOf, typename Visit>
void pairUp(const std::vector<Item> &before, const std::vector<Item> &after, KeyOf keyOf, Visit visit)
{
    std::map<Key, std::pair<const Item *, const Item *>> paired;
    for (const Item &item : before) {
        paired[keyOf(item)].first = &item;
    }
    for (const Item &item : after) {
        paired[keyOf(item)].second = &item;
    }
    for (const auto &[key, items] : paired) {
        visit(key, items.first, items.second);
    }
}

Row row(const QString &section, int pid, const QString &title, const QString &before, const QString &after)
{
    Row r;
    r.section = section;
    r.pid = pid;
    r.title = title;
    r.before = before;
    r.after = after;
    r.change = before.isEmpty() ? Change::Added : (after.isEmpty() ? Change::Removed : Change::Changed);
    return r;
}

QString processText(const image::ImageProcess &p)
{
    return SnapshotDiffModel::tr("%1 · parent %2 · threads: %3 · %4 of memory saved")
        .arg(p.task ? q(p.task->exePath) : QString())
        .arg(p.entry.ppid)
        .arg(p.entry.tids.size())
        .arg(size(p.rawBytes));
}

QString regionText(const image::ImageVma &v)
{
    const uint32_t prot = v.vma.prot;
    const QString protText = QStringLiteral("%1%2%3")
                                 .arg(prot & image::kVmaRead ? QLatin1Char('r') : QLatin1Char('-'))
                                 .arg(prot & image::kVmaWrite ? QLatin1Char('w') : QLatin1Char('-'))
                                 .arg(prot & image::kVmaExec ? QLatin1Char('x') : QLatin1Char('-'));
    return SnapshotDiffModel::tr("%1 · %2 mapped · %3 saved (%4 in the image)")
        .arg(protText, size(v.vma.end - v.vma.start), size(v.rawBytes), size(v.storedBytes));
}

QString regionName(const image::VmaRecord &vma)
{
    if (!vma.path.empty()) {
        return q(vma.path);
    }
    return vma.kind == image::VmaKind::SharedAnonymous ? SnapshotDiffModel::tr("shared memory") : SnapshotDiffModel::tr("anonymous memory");
}

QString fdText(const image::ImageFd &f)
{
    return SnapshotDiffModel::tr("%1 · position %2%3").arg(q(f.fd.path)).arg(f.fd.pos).arg(f.fd.unlinked ? SnapshotDiffModel::tr(" · deleted") : QString());
}

QString credsText(const image::CredsRecord &c)
{
    QStringList groups;
    for (uint32_t g : c.groups) {
        groups.append(QString::number(g));
    }
    return SnapshotDiffModel::tr("uid %1/%2/%3 · gid %4/%5/%6 · groups %7 · capabilities 0x%8")
        .arg(c.uid)
        .arg(c.euid)
        .arg(c.suid)
        .arg(c.gid)
        .arg(c.egid)
        .arg(c.sgid)
        .arg(groups.isEmpty() ? SnapshotDiffModel::tr("none") : groups.join(QLatin1Char(',')))
        .arg(c.capEffective, 0, 16);
}
} // namespace

SnapshotDiffModel::Diff SnapshotDiffModel::compare(const image::ImageInfo &before, const image::ImageInfo &after)
{
    Diff diff;
    QList<Row> processes, memory, files, credentials;
    pairUp<int32_t>(
        before.processes, after.processes, [](const image::ImageProcess &p) { return p.entry.pid; },
        [&](int32_t pid, const image::ImageProcess *a, const image::ImageProcess *b) {
            ++diff.processes;
            const image::ImageProcess &some = b ? *b : *a;
            const QString title = tr("%1 (process %2)").arg(some.task ? q(some.task->comm) : QString()).arg(pid);
            const QString textA = a ? processText(*a) : QString();
            const QString textB = b ? processText(*b) : QString();
            const bool sameName = a && b && (a->task ? a->task->comm : std::string()) == (b->task ? b->task->comm : std::string());
            if (textA != textB || (a && b && !sameName)) {
                Row r = row(QStringLiteral("processes"), pid, title, textA, textB);
                r.bytesBefore = a ? qint64(a->rawBytes) : 0;
                r.bytesAfter = b ? qint64(b->rawBytes) : 0;
                processes.append(r);
            }
            static const std::vector<image::ImageVma> noVmas;
            static const std::vector<image::ImageFd> noFds;
            pairUp<uint64_t>(
                a ? a->vmas : noVmas, b ? b->vmas : noVmas, [](const image::ImageVma &v) { return v.vma.start; },
                [&](uint64_t start, const image::ImageVma *va, const image::ImageVma *vb) {
                    ++diff.regions;
                    if (va && vb && va->vma == vb->vma && va->rawBytes == vb->rawBytes && va->storedBytes == vb->storedBytes) {
                        return;
                    }
                    Row r = row(QStringLiteral("memory"), pid, tr("%1 at 0x%2 · process %3").arg(regionName((vb ? vb : va)->vma)).arg(start, 0, 16).arg(pid),
                                va ? regionText(*va) : QString(), vb ? regionText(*vb) : QString());
                    r.bytesBefore = va ? qint64(va->rawBytes) : 0;
                    r.bytesAfter = vb ? qint64(vb->rawBytes) : 0;
                    r.storedBefore = va ? qint64(va->storedBytes) : 0;
                    r.storedAfter = vb ? qint64(vb->storedBytes) : 0;
                    if (r.change == Change::Changed && r.before == r.after) {
                        // The same in the units shown: say so in bytes.
                        r.before += tr(" · %1 bytes in the image").arg(r.storedBefore);
                        r.after += tr(" · %1 bytes in the image").arg(r.storedAfter);
                    }
                    memory.append(r);
                });
            pairUp<int32_t>(
                a ? a->fds : noFds, b ? b->fds : noFds, [](const image::ImageFd &f) { return f.fd.fd; },
                [&](int32_t fd, const image::ImageFd *fa, const image::ImageFd *fb) {
                    ++diff.files;
                    if (fa && fb && fa->fd.path == fb->fd.path && fa->fd.kind == fb->fd.kind && fa->fd.pos == fb->fd.pos &&
                        fa->fd.unlinked == fb->fd.unlinked && fa->dataRawBytes == fb->dataRawBytes) {
                        return;
                    }
                    Row r = row(QStringLiteral("files"), pid, tr("File descriptor %1 · process %2").arg(fd).arg(pid), fa ? fdText(*fa) : QString(),
                                fb ? fdText(*fb) : QString());
                    r.bytesBefore = fa ? qint64(fa->dataRawBytes) : 0;
                    r.bytesAfter = fb ? qint64(fb->dataRawBytes) : 0;
                    files.append(r);
                });
            const QString credsA = a && a->creds ? credsText(*a->creds) : QString();
            const QString credsB = b && b->creds ? credsText(*b->creds) : QString();
            if (credsA != credsB || (a && b && a->creds != b->creds)) {
                credentials.append(row(QStringLiteral("credentials"), pid, title, credsA, credsB));
            }
        });
    // The regions whose saved memory changed most first.
    std::stable_sort(memory.begin(), memory.end(),
                     [](const Row &x, const Row &y) { return std::abs(x.bytesAfter - x.bytesBefore) > std::abs(y.bytesAfter - y.bytesBefore); });
    diff.rows = processes + memory + files + credentials;
    return diff;
}

SnapshotDiffModel::SnapshotDiffModel(QObject *parent)
    : SnapshotImageModel(parent)
{
}

int SnapshotDiffModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_diff.rows.size());
}

QVariant SnapshotDiffModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const Row &r = m_diff.rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case TitleRole:
        return r.title;
    case SectionRole:
        return r.section;
    case ChangeRole:
        return r.change == Change::Added ? QStringLiteral("added") : (r.change == Change::Removed ? QStringLiteral("removed") : QStringLiteral("changed"));
    case PidRole:
        return r.pid;
    case BeforeRole:
        return r.before;
    case AfterRole:
        return r.after;
    case BytesBeforeRole:
        return r.bytesBefore;
    case BytesAfterRole:
        return r.bytesAfter;
    case StoredBeforeRole:
        return r.storedBefore;
    case StoredAfterRole:
        return r.storedAfter;
    }
    return {};
}

QHash<int, QByteArray> SnapshotDiffModel::roleNames() const
{
    return {
        {Qt::DisplayRole, "display"},
        {SectionRole, "section"},
        {ChangeRole, "change"},
        {PidRole, "pid"},
        {TitleRole, "title"},
        {BeforeRole, "before"},
        {AfterRole, "after"},
        {BytesBeforeRole, "bytesBefore"},
        {BytesAfterRole, "bytesAfter"},
        {StoredBeforeRole, "storedBefore"},
        {StoredAfterRole, "storedAfter"},
    };
}

qint64 SnapshotDiffModel::beforeId() const
{
    return m_before;
}

void SnapshotDiffModel::setBeforeId(qint64 id)
{
    if (m_before != id) {
        m_before = id;
        Q_EMIT idsChanged();
        load();
    }
}

qint64 SnapshotDiffModel::afterId() const
{
    return m_after;
}

void SnapshotDiffModel::setAfterId(qint64 id)
{
    if (m_after != id) {
        m_after = id;
        Q_EMIT idsChanged();
        load();
    }
}

void SnapshotDiffModel::comparePair(qint64 one, qint64 other)
{
    const qint64 before = std::min(one, other);
    const qint64 after = std::max(one, other);
    if (before == m_before && after == m_after) {
        return;
    }
    m_before = before;
    m_after = after;
    Q_EMIT idsChanged();
    load();
}

QString SnapshotDiffModel::summary() const
{
    if (m_before <= 0 || m_after <= 0 || !errorString().isEmpty() || isLoading()) {
        return {};
    }
    return tr("%n difference(s) in %1 processes, %2 memory regions and %3 open files", nullptr, int(m_diff.rows.size()))
        .arg(m_diff.processes)
        .arg(m_diff.regions)
        .arg(m_diff.files);
}

std::function<SnapshotImageModel::Loaded(const std::string &)> SnapshotDiffModel::reader()
{
    if (m_before <= 0 || m_after <= 0) {
        return {};
    }
    return [this, before = m_before, after = m_after](const std::string &storeDir) {
        Result result = read(storeDir, before, after);
        return Loaded {[this, diff = std::move(result.diff)] { m_diff = diff; }, result.error};
    };
}

void SnapshotDiffModel::clearRows()
{
    m_diff = Diff {};
}

SnapshotDiffModel::Result SnapshotDiffModel::read(const std::string &storeDir, qint64 before, qint64 after)
{
    Result result;
    const SnapshotDetailsModel::ImageRead a = SnapshotDetailsModel::readImage(storeDir, before);
    if (!a.info) {
        result.error = a.error;
        return result;
    }
    const SnapshotDetailsModel::ImageRead b = SnapshotDetailsModel::readImage(storeDir, after);
    if (!b.info) {
        result.error = b.error;
        return result;
    }
    result.diff = compare(*a.info, *b.info);
    return result;
}
