// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ReportModel: the checkpointability report of one process tree, as the
// engine made it (cryopod-helper's Report, docs/dbus-interface.md), for the
// report sheet: one row per process (its verdict and reasons) followed by
// one row per open file descriptor of it, each said in plain words. The
// call is asynchronous; it may ask for a password (the user asked for it).
#pragma once

#include <QAbstractListModel>
#include <QPointer>
#include <QVariantMap>
#include <QtQmlIntegration>

class HelperCall;
class HelperClient;

class ReportModel : public QAbstractListModel
{
    Q_OBJECT
    QML_ELEMENT

    // The root of the tree to report on; setting it loads its report.
    Q_PROPERTY(int pid READ pid WRITE setPid NOTIFY pidChanged)
    Q_PROPERTY(bool loading READ isLoading NOTIFY loadingChanged)
    // "ok", "caveat", "refused" (the worst of all), or "" before an answer.
    Q_PROPERTY(QString verdict READ verdict NOTIFY reportChanged)
    // Why there is no report (the helper's message), "" when there is one.
    Q_PROPERTY(QString errorString READ errorString NOTIFY reportChanged)
    Q_PROPERTY(int count READ rowCount NOTIFY reportChanged)

public:
    enum Role {
        KindRole = Qt::UserRole + 1, // "process" or "fd"
        ProcessPidRole,
        ProcessNameRole,
        SectionRole, // "name (pid)": the process a row belongs to
        FdRole, // -1 for process rows
        TargetRole, // what the fd points to, as the kernel names it
        DescriptionRole, // what the row is about, in words ("a pipe", "the file /tmp/x")
        VerdictRole, // "ok", "caveat" or "refused"
        ReasonRole, // why, in words ("" when ok)
    };
    Q_ENUM(Role)

    explicit ReportModel(QObject *parent = nullptr);
    ~ReportModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    int pid() const;
    void setPid(int pid);
    bool isLoading() const;
    QString verdict() const;
    QString errorString() const;

    // Asks the helper again.
    Q_INVOKABLE void reload();

    // What an fd's target (as /proc/PID/fd shows it) is, in words.
    static QString describeTarget(const QString &target);

Q_SIGNALS:
    void pidChanged();
    void loadingChanged();
    void reportChanged();

private:
    struct Row {
        bool process = true;
        int pid = 0;
        QString name;
        int fd = -1;
        QString target;
        QString verdict;
        QString reason;
    };
    void setLoading(bool loading);
    void setReport(const QVariantMap &report);

    HelperClient *m_client = nullptr;
    QPointer<HelperCall> m_call;
    QList<Row> m_rows;
    int m_pid = 0;
    bool m_loading = false;
    QString m_verdict;
    QString m_error;
};
