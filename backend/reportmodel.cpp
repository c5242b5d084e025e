// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "reportmodel.h"

#include "helperclient.h"

#include <QDBusArgument>
#include <QDBusMetaType>
#include <QRegularExpression>

namespace
{
QList<QVariantMap> mapList(const QVariant &value)
{
    if (value.canConvert<QDBusArgument>()) {
        return qdbus_cast<QList<QVariantMap>>(value.value<QDBusArgument>());
    }
    if (value.canConvert<QList<QVariantMap>>()) {
        return value.value<QList<QVariantMap>>();
    }
    QList<QVariantMap> out;
    const QVariantList list = value.toList();
    for (const QVariant &item : list) {
        out.append(item.toMap());
    }
    return out;
}
} // namespace

ReportModel::ReportModel(QObject *parent)
    : QAbstractListModel(parent)
{
    qDBusRegisterMetaType<QList<QVariantMap>>();
}

ReportModel::~ReportModel() = default;

int ReportModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_rows.size());
}

QVariant ReportModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
        return {};
    }
    const Row &row = m_rows.at(index.row());
    switch (role) {
    case Qt::DisplayRole:
    case DescriptionRole:
        if (row.process) {
            return tr("Process %1 (%2)").arg(row.pid).arg(row.name);
        }
        return tr("File descriptor %1: %2").arg(row.fd).arg(describeTarget(row.target));
    case KindRole:
        return row.process ? QStringLiteral("process") : QStringLiteral("fd");
    case ProcessPidRole:
        return row.pid;
    case ProcessNameRole:
        return row.name;
    case SectionRole:
        return tr("%1 (process %2)").arg(row.name).arg(row.pid);
    case FdRole:
        return row.fd;
    case TargetRole:
        return row.target;
    case VerdictRole:
        return row.verdict;
    case ReasonRole:
        return row.reason;
    }
    return {};
}

QHash<int, QByteArray> ReportModel::roleNames() const
{
    return {
        {Qt::DisplayRole, "display"}, {KindRole, "kind"},     {ProcessPidRole, "processPid"}, {ProcessNameRole, "processName"},
        {SectionRole, "section"},     {FdRole, "fd"},         {TargetRole, "target"},         {DescriptionRole, "description"},
        {VerdictRole, "verdict"},     {ReasonRole, "reason"},
    };
}

int ReportModel::pid() const
{
    return m_pid;
}

void ReportModel::setPid(int pid)
{
    if (m_pid == pid) {
        return;
    }
    m_pid = pid;
    Q_EMIT pidChanged();
    reload();
}

bool ReportModel::isLoading() const
{
    return m_loading;
}

QString ReportModel::verdict() const
{
    return m_verdict;
}

QString ReportModel::errorString() const
{
    return m_error;
}

void ReportModel::setLoading(bool loading)
{
    if (m_loading != loading) {
        m_loading = loading;
        Q_EMIT loadingChanged();
    }
}

void ReportModel::reload()
{
    if (m_call) {
        // The answer of an earlier pid (or an earlier reload) is not wanted.
        m_call->disconnect(this);
        m_call->deleteLater();
        m_call.clear();
    }
    if (m_pid <= 0) {
        setReport({});
        setLoading(false);
        return;
    }
    if (!m_client) {
        m_client = new HelperClient(QDBusConnection::systemBus(), this);
    }
    setLoading(true);
    HelperCall *call = m_client->report(m_pid);
    m_call = call;
    connect(call, &HelperCall::finished, this, [this, call](bool ok, const QString &, const QString &message, const QVariantMap &result) {
        call->deleteLater();
        m_call.clear();
        if (ok) {
            setReport(result);
        } else {
            setReport({});
            m_error = message.isEmpty() ? tr("cryopod-helper gave no report") : message;
            Q_EMIT reportChanged();
        }
        setLoading(false);
    });
}

void ReportModel::setReport(const QVariantMap &report)
{
    beginResetModel();
    m_rows.clear();
    for (const QVariantMap &process : mapList(report.value(QStringLiteral("processes")))) {
        Row row;
        row.pid = process.value(QStringLiteral("pid")).toInt();
        row.name = process.value(QStringLiteral("comm")).toString();
        row.verdict = process.value(QStringLiteral("verdict")).toString();
        row.reason = process.value(QStringLiteral("reasons")).toStringList().join(QLatin1Char('\n'));
        m_rows.append(row);
        for (const QVariantMap &fd : mapList(process.value(QStringLiteral("fds")))) {
            Row fdRow = row;
            fdRow.process = false;
            fdRow.fd = fd.value(QStringLiteral("fd")).toInt();
            fdRow.target = fd.value(QStringLiteral("target")).toString();
            fdRow.verdict = fd.value(QStringLiteral("verdict")).toString();
            fdRow.reason = fd.value(QStringLiteral("reason")).toString();
            m_rows.append(fdRow);
        }
    }
    endResetModel();
    m_verdict = report.value(QStringLiteral("verdict")).toString();
    m_error.clear();
    Q_EMIT reportChanged();
}

QString ReportModel::describeTarget(const QString &target)
{
    static const QRegularExpression kernelObject(QStringLiteral("^(pipe|socket|anon_inode):\\[?([^\\]]*)\\]?(.*)$"));
    const QRegularExpressionMatch match = kernelObject.match(target);
    if (match.hasMatch()) {
        const QString kind = match.captured(1);
        const QString what = match.captured(2);
        const QString rest = match.captured(3).trimmed();
        QString text;
        if (kind == QLatin1String("pipe")) {
            text = tr("a pipe");
        } else if (kind == QLatin1String("socket")) {
            text = tr("a network or local socket");
        } else if (what == QLatin1String("eventfd")) {
            text = tr("an event counter (eventfd)");
        } else if (what == QLatin1String("eventpoll")) {
            text = tr("an epoll instance");
        } else if (what == QLatin1String("timerfd")) {
            text = tr("a timer (timerfd)");
        } else if (what == QLatin1String("signalfd")) {
            text = tr("a signal queue (signalfd)");
        } else if (what == QLatin1String("inotify")) {
            text = tr("a file watch (inotify)");
        } else if (what == QLatin1String("pidfd")) {
            text = tr("a process handle (pidfd)");
        } else {
            text = tr("a kernel object (%1)").arg(what);
        }
        return rest.isEmpty() ? text : tr("%1 %2").arg(text, rest);
    }
    if (target.startsWith(QLatin1String("/dev/pts/")) || target.startsWith(QLatin1String("/dev/tty"))) {
        return tr("the terminal %1").arg(target);
    }
    if (target == QLatin1String("/dev/null")) {
        return tr("nothing (/dev/null)");
    }
    if (target.startsWith(QLatin1String("/dev/"))) {
        return tr("the device %1").arg(target);
    }
    if (target.startsWith(QLatin1Char('/'))) {
        return tr("the file %1").arg(target);
    }
    return target;
}
