// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ReportCache: the checkpointability verdict of processes (can be
// snapshotted / with caveats / cannot), from the engine's report through
// cryopod-helper's Report method (docs/dbus-interface.md). The helper does
// the work; the calls are asynchronous D-Bus calls, so the UI thread never
// waits. Verdicts are asked for lazily (when a row shows one), a few at a
// time, without an authentication dialog (a report that would need one is
// "unknown"), and kept for a while per process identity (pid + start time).
#pragma once

#include <QHash>
#include <QList>
#include <QObject>
#include <QSet>
#include <QString>

#include <sys/types.h>

class HelperClient;

class ReportCache : public QObject
{
    Q_OBJECT

public:
    enum class Verdict {
        None, // not asked yet
        Pending, // asked, no answer yet
        Ok,
        Caveat,
        Refused,
        Unknown, // the helper could not answer (not authorized, not there)
    };

    struct Key {
        pid_t pid = 0;
        quint64 startTicks = 0;
        friend bool operator==(const Key &, const Key &) = default;
        friend size_t qHash(const Key &key, size_t seed = 0)
        {
            return qHashMulti(seed, key.pid, key.startTicks);
        }
    };

    struct Entry {
        Verdict verdict = Verdict::None;
        // One line: the first refused or caveat item, and how many more; or
        // why there is no verdict. Empty for Ok.
        QString summary;
        qint64 answeredAtMs = 0;
    };

    // Verdicts older than this are asked for again.
    static constexpr qint64 kMaxAgeMs = 60 * 1000;

    explicit ReportCache(QObject *parent = nullptr);
    ~ReportCache() override;

    Entry entry(const Key &key) const;
    // Asks the helper unless a fresh verdict is known or one is pending.
    // Emits nothing itself (models call it from data()); updated() follows
    // with the answer.
    void request(const Key &key);
    // Forgets the verdict of key (unless it is being asked for): the next
    // request asks again.
    void forget(const Key &key);
    // Forgets the verdicts of processes not in keep.
    template<typename Predicate>
    void retain(Predicate keep)
    {
        m_queue.removeIf([&](const Key &key) {
            if (keep(key)) {
                return false;
            }
            m_asked.remove(key);
            return true;
        });
        m_entries.removeIf([&](const auto &it) { return !m_asked.contains(it.key()) && !keep(it.key()); });
    }
    int pendingCount() const;

    static QString verdictName(Verdict verdict);
    static Verdict verdictFromName(const QString &name);
    // The one-line summary of a report a{sv} (see Entry::summary).
    static QString summaryOf(const QVariantMap &report);

Q_SIGNALS:
    // The helper answered for key.
    void updated(const ReportCache::Key &key);

private:
    void pump();
    void answered(const Key &key, bool ok, const QString &errorName, const QString &message, const QVariantMap &report);

    HelperClient *m_client = nullptr; // created with the first request
    QHash<Key, Entry> m_entries;
    QList<Key> m_queue; // asked for, not sent yet
    QSet<Key> m_asked; // queued or sent
    int m_inFlight = 0;
    // The helper is not on the bus: nothing is asked until then.
    qint64 m_unavailableUntilMs = 0;
    QString m_unavailableReason;
};
