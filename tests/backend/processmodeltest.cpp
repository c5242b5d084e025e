// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// ProcessModel and ProcessFilterModel on the real process table, under
// QAbstractItemModelTester: the tree's shape for processes this test starts,
// and refreshes applied incrementally (values changed, then rows removed and
// inserted; never a move, never a reset).

#include "processmodel.h"
#include "processfiltermodel.h"
#include "processscanner.h"
#include "testprocesses.h"

#include <QAbstractItemModelTester>
#include <QFile>
#include <QPersistentModelIndex>
#include <QRegularExpression>
#include <QSet>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QTest>

#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>

using namespace TestProcesses;

namespace
{
int pidOf(const QModelIndex &index)
{
    return index.data(ProcessModel::PidRole).toInt();
}

// The model's own invariants: each process once, each under its parent
// process, top-level rows only for processes whose parent is not shown.
void verifyTreeConsistency(const QAbstractItemModel &model)
{
    QSet<int> pids;
    QList<QModelIndex> topLevel;
    QList<QModelIndex> pending {QModelIndex()};
    while (!pending.isEmpty()) {
        const QModelIndex parent = pending.takeLast();
        for (int row = 0; row < model.rowCount(parent); ++row) {
            const QModelIndex index = model.index(row, 0, parent);
            const int pid = pidOf(index);
            QVERIFY2(!pids.contains(pid), qPrintable(QStringLiteral("pid %1 shown twice").arg(pid)));
            pids.insert(pid);
            if (parent.isValid()) {
                QCOMPARE(index.data(ProcessModel::ParentPidRole).toInt(), pidOf(parent));
            } else {
                topLevel.append(index);
            }
            pending.append(index);
        }
    }
    for (const QModelIndex &index : std::as_const(topLevel)) {
        const int ppid = index.data(ProcessModel::ParentPidRole).toInt();
        QVERIFY2(ppid == 0 || !pids.contains(ppid), qPrintable(QStringLiteral("pid %1 is top-level but its parent %2 is shown").arg(pidOf(index)).arg(ppid)));
    }
}

// Finds a pid anywhere in a model (also a proxy).
QModelIndex findPid(const QAbstractItemModel &model, int pid, const QModelIndex &parent = {})
{
    for (int row = 0; row < model.rowCount(parent); ++row) {
        const QModelIndex index = model.index(row, 0, parent);
        if (pidOf(index) == pid) {
            return index;
        }
        const QModelIndex found = findPid(model, pid, index);
        if (found.isValid()) {
            return found;
        }
    }
    return {};
}

// A scan of /proc applied. The scan runs on a worker thread and takes well
// under a second even on a loaded machine; 30 s is for a machine that is
// stalled, not slow.
bool refreshAndWait(ProcessModel &model)
{
    QSignalSpy refreshed(&model, &ProcessModel::refreshed);
    model.refresh();
    return refreshed.wait(30000);
}

// Field 48 of /proc/self/stat: where this process's command line starts.
quintptr argStart()
{
    QFile stat(QStringLiteral("/proc/self/stat"));
    if (!stat.open(QIODevice::ReadOnly)) {
        return 0;
    }
    const QByteArray text = stat.readAll();
    const QList<QByteArray> fields = text.mid(text.lastIndexOf(')') + 2).split(' ');
    return fields.size() > 45 ? quintptr(fields.at(45).toULongLong()) : 0; // fields[0] is field 3
}

// A child whose command line becomes unreadable on request, as during a
// restore by the engine: the page that holds it is then missing and
// registered with userfaultfd, and nobody fills it. Any read of
// /proc/PID/cmdline then waits until the child is gone.
struct UffdChild {
    pid_t pid = -1;
    int toChild = -1;
    int fromChild = -1;

    bool start()
    {
        const quintptr page = argStart() & ~quintptr(4095);
        int down[2];
        int up[2];
        if (!page || ::pipe2(down, O_CLOEXEC) < 0 || ::pipe2(up, O_CLOEXEC) < 0) {
            return false;
        }
        const pid_t self = ::getpid();
        pid = ::fork();
        if (pid == 0) {
            dieWithParent(self);
            ::prctl(PR_SET_NAME, "cpt-uffd");
            char byte = 'r';
            (void)!::write(up[1], &byte, 1);
            if (::read(down[0], &byte, 1) != 1) {
                ::_exit(1);
            }
            byte = 'k';
            const int uffd = int(::syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK));
            uffdio_api api {};
            api.api = UFFD_API;
            uffdio_register reg {};
            reg.range.start = page;
            reg.range.len = 4096;
            reg.mode = UFFDIO_REGISTER_MODE_MISSING;
            if (uffd < 0 || ::ioctl(uffd, UFFDIO_API, &api) < 0 || ::ioctl(uffd, UFFDIO_REGISTER, &reg) < 0 ||
                ::madvise(reinterpret_cast<void *>(page), 4096, MADV_DONTNEED) < 0) {
                byte = 'e';
            }
            (void)!::write(up[1], &byte, 1);
            for (;;) {
                ::pause();
            }
        }
        ::close(down[0]);
        ::close(up[1]);
        toChild = down[1];
        fromChild = up[0];
        char byte = 0;
        return pid > 0 && readAll(fromChild, &byte, 1) && byte == 'r';
    }

    bool makeCmdlineUnreadable()
    {
        char byte = 'g';
        return ::write(toChild, &byte, 1) == 1 && readAll(fromChild, &byte, 1) && byte == 'k';
    }

    ~UffdChild()
    {
        killAndReap(pid);
        ::close(toChild);
        ::close(fromChild);
    }
};

ProcessInfo fakeProcess(pid_t pid, pid_t ppid, quint64 startTicks, const char *name)
{
    ProcessInfo info;
    info.pid = pid;
    info.ppid = ppid;
    info.startTicks = startTicks;
    info.name = QString::fromLatin1(name);
    info.userName = QStringLiteral("root");
    info.state = 'S';
    return info;
}
// A child that forks children of its own on request: spawn() sends it a
// name, it forkNamed()s a child with that name and answers with its pid.
struct Spawner {
    pid_t pid = -1;
    int requests = -1;
    int answers = -1;

    bool start(const char *name)
    {
        int toChild[2];
        int fromChild[2];
        if (::pipe2(toChild, O_CLOEXEC) < 0 || ::pipe2(fromChild, O_CLOEXEC) < 0) {
            return false;
        }
        const pid_t self = ::getpid();
        pid = ::fork();
        if (pid == 0) {
            dieWithParent(self);
            ::prctl(PR_SET_NAME, name);
            ::close(toChild[1]);
            ::close(fromChild[0]);
            char childName[16];
            while (readAll(toChild[0], childName, sizeof childName, -1)) {
                childName[sizeof childName - 1] = 0;
                const pid_t child = forkNamed(childName);
                (void)!::write(fromChild[1], &child, sizeof child);
            }
            ::_exit(0);
        }
        ::close(toChild[0]);
        ::close(fromChild[1]);
        requests = toChild[1];
        answers = fromChild[0];
        return pid > 0;
    }

    pid_t spawn(const char *name)
    {
        char childName[16] = {};
        qstrncpy(childName, name, sizeof childName);
        pid_t child = -1;
        if (::write(requests, childName, sizeof childName) != sizeof childName || !readAll(answers, &child, sizeof child)) {
            return -1;
        }
        return child;
    }

    ~Spawner()
    {
        if (pid > 0) {
            killAndReap(pid); // its children die with it
        }
        ::close(requests);
        ::close(answers);
    }
};

} // namespace

class ProcessModelTest : public QObject
{
    Q_OBJECT

    Tree m_tree;

private Q_SLOTS:
    void initTestCase()
    {
        QCOMPARE(::geteuid(), uid_t(0));
        becomeSubreaper();
    }

    void init()
    {
        QVERIFY(m_tree.start());
    }

    void cleanup()
    {
        m_tree.stop();
    }

    void testTreeStructure()
    {
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(model.isLoading());
        QVERIFY(refreshAndWait(model));
        QVERIFY(!model.isLoading());
        QVERIFY(model.processCount() > 4);
        QCOMPARE(model.columnCount(), int(ProcessModel::ColumnCount));

        const QModelIndex self = model.indexForPid(::getpid());
        const QModelIndex parent = model.indexForPid(m_tree.parent);
        const QModelIndex child = model.indexForPid(m_tree.child);
        const QModelIndex nobody = model.indexForPid(m_tree.nobody);
        const QModelIndex sleeper = model.indexForPid(m_tree.sleeper);
        QVERIFY(self.isValid() && parent.isValid() && child.isValid() && nobody.isValid() && sleeper.isValid());

        // The shape: test -> parent -> {child, nobody, sleeper}, in pid order.
        QCOMPARE(parent.parent(), self);
        QCOMPARE(model.rowCount(parent), 3);
        QCOMPARE(child.parent(), parent);
        QCOMPARE(nobody.parent(), parent);
        QCOMPARE(sleeper.parent(), parent);
        QCOMPARE(model.index(0, 0, parent), child);
        QCOMPARE(model.index(1, 0, parent), nobody);
        QCOMPARE(model.index(2, 0, parent), sleeper);
        QVERIFY(!model.hasChildren(child));
        QVERIFY(model.hasChildren(parent));
        verifyTreeConsistency(model);

        // Roles and columns.
        QCOMPARE(child.data(ProcessModel::NameRole).toString(), QStringLiteral("cpt-child"));
        QCOMPARE(child.data(Qt::DisplayRole).toString(), QStringLiteral("cpt-child"));
        QCOMPARE(child.siblingAtColumn(ProcessModel::PidColumn).data().toString(), QString::number(m_tree.child));
        QCOMPARE(child.siblingAtColumn(ProcessModel::UserColumn).data().toString(), QStringLiteral("root"));
        QCOMPARE(nobody.siblingAtColumn(ProcessModel::UserColumn).data().toString(), QStringLiteral("nobody"));
        QCOMPARE(nobody.data(ProcessModel::UidRole).toUInt(), uint(nobodyUid));
        QCOMPARE(sleeper.data(ProcessModel::CommandLineRole).toString(), QStringLiteral("sleep 3600"));
        QCOMPARE(sleeper.data(Qt::ToolTipRole).toString(), QStringLiteral("sleep 3600"));
        QVERIFY(child.data(ProcessModel::MemoryRole).toULongLong() > 0);
        QVERIFY(child.siblingAtColumn(ProcessModel::MemoryColumn).data().toString().contains(QLatin1String("iB")));
        QCOMPARE(child.data(ProcessModel::StateRole).toString(), QStringLiteral("S"));
        QCOMPARE(child.data(ProcessModel::IconNameRole).toString(), QStringLiteral("system-run"));
        QVERIFY(model.roleNames().value(ProcessModel::PidRole) == "pid");
        QVERIFY(model.roleNames().value(ProcessModel::SortIndicatorRole) == "sort");
    }

    void testChildExitRemovesRow()
    {
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(refreshAndWait(model));

        const QPersistentModelIndex parent = model.indexForPid(m_tree.parent);
        const QPersistentModelIndex nobody = model.indexForPid(m_tree.nobody);
        const QModelIndex child = model.indexForPid(m_tree.child);
        QVERIFY(parent.isValid() && nobody.isValid() && child.isValid());
        const int childRow = child.row();

        // The child exits; its parent reaps it.
        ::kill(m_tree.child, SIGKILL);
        QVERIFY(waitGone(m_tree.child));
        const pid_t gone = m_tree.child;
        m_tree.child = -1;

        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsAboutToBeRemoved);
        QSignalSpy layout(&model, &QAbstractItemModel::layoutAboutToBeChanged);
        QVERIFY(refreshAndWait(model));

        QCOMPARE(reset.count(), 0);
        QCOMPARE(layout.count(), 0);
        QVERIFY(!model.indexForPid(gone).isValid());
        bool sawChildRemoved = false;
        for (const auto &arguments : std::as_const(removed)) {
            if (arguments.at(0).value<QModelIndex>() == QModelIndex(parent)) {
                QCOMPARE(arguments.at(1).toInt(), childRow);
                QCOMPARE(arguments.at(2).toInt(), childRow);
                sawChildRemoved = true;
            }
        }
        QVERIFY(sawChildRemoved);
        // The rest of the tree kept its indexes.
        QVERIFY(parent.isValid() && nobody.isValid());
        QCOMPARE(pidOf(parent), m_tree.parent);
        QCOMPARE(pidOf(nobody), m_tree.nobody);
        QCOMPARE(nobody.parent(), QModelIndex(parent));
        QCOMPARE(model.rowCount(parent), 2);
        verifyTreeConsistency(model);
    }

    void testOrphanReparentedIsReinserted()
    {
        // The parent of three processes exits; they are re-parented to us,
        // the subreaper. The model says so with removals and insertions (no
        // row moves, which Qt's TreeView and proxies mishandle between
        // parents), after the changed values, and the testers of the model
        // and of the GUI's proxy (searching, sorted) follow every step.
        ProcessModel model;
        model.setActive(false);
        ProcessFilterModel filter;
        filter.setSourceModel(&model);
        filter.setSortColumn(ProcessModel::PidColumn);
        filter.setFilterString(QStringLiteral("cpt-"));
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester filterTester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(refreshAndWait(model));
        QVERIFY(findPid(filter, m_tree.child).isValid());
        const QPersistentModelIndex parentRow = model.indexForPid(m_tree.parent);
        QVERIFY(parentRow.isValid());

        killAndReap(m_tree.parent);
        const pid_t parent = m_tree.parent;
        m_tree.parent = -1;
        QTRY_COMPARE_WITH_TIMEOUT(ProcessScanner::readProcess(m_tree.child)->ppid, ::getpid(), 30000);
        QTRY_COMPARE_WITH_TIMEOUT(ProcessScanner::readProcess(m_tree.sleeper)->ppid, ::getpid(), 30000);
        QTRY_COMPARE_WITH_TIMEOUT(ProcessScanner::readProcess(m_tree.nobody)->ppid, ::getpid(), 30000);

        // The order of the model's signals, and what was removed and inserted.
        QStringList events;
        QList<int> removedPids;
        QList<int> insertedPids;
        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        QSignalSpy moved(&model, &QAbstractItemModel::rowsAboutToBeMoved);
        QSignalSpy layout(&model, &QAbstractItemModel::layoutAboutToBeChanged);
        connect(&model, &QAbstractItemModel::dataChanged, this, [&] { events.append(QStringLiteral("data")); });
        // A scan's snapshot, then its details passes': each applied on its own.
        connect(&model, &ProcessModel::snapshotApplied, this, [&] { events.append(QStringLiteral("applied")); });
        connect(&model, &QAbstractItemModel::rowsAboutToBeRemoved, this, [&](const QModelIndex &from, int first, int last) {
            events.append(QStringLiteral("remove"));
            for (int row = first; row <= last; ++row) {
                removedPids.append(pidOf(model.index(row, 0, from)));
            }
        });
        connect(&model, &QAbstractItemModel::rowsInserted, this, [&](const QModelIndex &into, int first, int last) {
            events.append(QStringLiteral("insert"));
            for (int row = first; row <= last; ++row) {
                const QModelIndex index = model.index(row, 0, into);
                insertedPids.append(pidOf(index));
                QCOMPARE(pidOf(into), pidOf(model.indexForPid(index.data(ProcessModel::ParentPidRole).toInt())));
            }
        });
        QVERIFY(refreshAndWait(model));

        QCOMPARE(reset.count(), 0);
        QCOMPARE(moved.count(), 0);
        QCOMPARE(layout.count(), 0);
        // Values first: in each applied snapshot, no dataChanged after its
        // first row change; the orphans' moves are in the scan's (the first).
        QVERIFY(events.contains(QStringLiteral("applied")));
        bool rowsChanged = false;
        qsizetype begin = 0;
        for (qsizetype end = events.indexOf(QStringLiteral("applied")); end >= 0; begin = end + 1, end = events.indexOf(QStringLiteral("applied"), begin)) {
            const QStringList applied = events.mid(begin, end - begin);
            const qsizetype removed = applied.indexOf(QStringLiteral("remove"));
            const qsizetype inserted = applied.indexOf(QStringLiteral("insert"));
            const qsizetype firstRowChange = removed < 0 ? inserted : (inserted < 0 ? removed : std::min(removed, inserted));
            if (firstRowChange >= 0) {
                rowsChanged = true;
                QVERIFY2(applied.lastIndexOf(QStringLiteral("data")) < firstRowChange, qPrintable(events.join(QLatin1Char(' '))));
            }
        }
        QVERIFY(rowsChanged);
        // Each orphan left its old parent's row and came back under us.
        for (const pid_t orphan : {m_tree.child, m_tree.nobody, m_tree.sleeper}) {
            QVERIFY(removedPids.contains(orphan));
            QVERIFY(insertedPids.contains(orphan));
            QCOMPARE(model.indexForPid(orphan).parent(), model.indexForPid(::getpid()));
        }
        QVERIFY(removedPids.contains(parent));
        QVERIFY(!parentRow.isValid());
        QVERIFY(!model.indexForPid(parent).isValid());
        verifyTreeConsistency(model);
        // The proxy shows them under us, in pid order.
        const QModelIndex child = findPid(filter, m_tree.child);
        QVERIFY(child.isValid());
        QCOMPARE(pidOf(child.parent()), ::getpid());
        QVERIFY(!findPid(filter, parent).isValid());
        verifyTreeConsistency(filter);

        // We are their parent now: stop() reaps them.
    }

    void testShowOnlyMine()
    {
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(refreshAndWait(model));
        QVERIFY(model.indexForPid(m_tree.nobody).isValid());
        QVERIFY(model.indexForPid(2).isValid() || !ProcessScanner::readProcess(2)); // kthreadd, when visible here
        const QPersistentModelIndex child = model.indexForPid(m_tree.child);

        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        QSignalSpy countChanged(&model, &ProcessModel::processCountChanged);
        const int allCount = model.processCount();
        model.setShowOnlyMine(true); // applied at once, without a new scan
        QCOMPARE(reset.count(), 0);
        QCOMPARE(countChanged.count(), 1);
        QVERIFY(model.processCount() < allCount);
        QVERIFY(!model.indexForPid(m_tree.nobody).isValid()); // nobody's
        QVERIFY(model.indexForPid(m_tree.parent).isValid()); // ours (root's)
        QVERIFY(child.isValid()); // untouched rows keep their indexes
        for (int row = 0; row < model.rowCount(); ++row) {
            QVERIFY(!model.index(row, 0).data(ProcessModel::KernelThreadRole).toBool());
        }
        verifyTreeConsistency(model);

        QVERIFY(refreshAndWait(model));
        QVERIFY(!model.indexForPid(m_tree.nobody).isValid());
        verifyTreeConsistency(model);

        model.setShowOnlyMine(false);
        QCOMPARE(reset.count(), 0);
        const QModelIndex nobody = model.indexForPid(m_tree.nobody);
        QVERIFY(nobody.isValid());
        QCOMPARE(nobody.parent(), model.indexForPid(m_tree.parent));
        verifyTreeConsistency(model);
    }

    void testCpuPercent()
    {
        const pid_t busy = forkBusy("cpt-busy");
        QVERIFY(busy > 0);
        ProcessModel model;
        model.setActive(false);
        QVERIFY(refreshAndWait(model));
        QTest::qWait(1000);
        QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
        QVERIFY(refreshAndWait(model));
        const QModelIndex busyIndex = model.indexForPid(busy);
        const QModelIndex idleIndex = model.indexForPid(m_tree.child);
        const double busyPercent = busyIndex.data(ProcessModel::CpuPercentRole).toDouble();
        const double idlePercent = idleIndex.data(ProcessModel::CpuPercentRole).toDouble();
        killAndReap(busy);

        // One spinning thread is up to 100 / (number of CPUs) percent of the
        // machine; others share the CPUs, so only ask for a clear share.
        qInfo("busy child: %.1f%% of the machine", busyPercent);
        QVERIFY2(busyPercent > 5.0, qPrintable(QString::number(busyPercent)));
        QVERIFY(busyPercent <= 100.0);
        QCOMPARE(idlePercent, 0.0);
        QVERIFY(!busyIndex.siblingAtColumn(ProcessModel::CpuColumn).data().toString().isEmpty());
        QVERIFY(idleIndex.siblingAtColumn(ProcessModel::CpuColumn).data().toString().isEmpty());
        // The busy process's row was reported changed.
        bool busyChanged = false;
        for (const auto &arguments : std::as_const(changed)) {
            const QModelIndex first = arguments.at(0).value<QModelIndex>();
            const QModelIndex last = arguments.at(1).value<QModelIndex>();
            if (first.parent() == busyIndex.parent() && first.row() <= busyIndex.row() && last.row() >= busyIndex.row()) {
                busyChanged = true;
            }
        }
        QVERIFY(busyChanged);
    }

    void testPidReuseIsANewRow()
    {
        // Synthetic snapshots: the same pid with a different start time is a
        // different process, so its row is replaced, not updated.
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        ProcessSnapshot first;
        first.monotonicNs = 1'000'000'000;
        first.processes = {fakeProcess(1, 0, 1, "init"), fakeProcess(50, 1, 100, "old"), fakeProcess(51, 50, 101, "kid")};
        model.applySnapshot(first);
        QCOMPARE(model.processCount(), 3);
        const QPersistentModelIndex old = model.indexForPid(50);
        QVERIFY(old.isValid());

        ProcessSnapshot second;
        second.monotonicNs = 2'000'000'000;
        // 50 is a new process now; 51 survived its old parent and was re-parented to 1.
        second.processes = {fakeProcess(1, 0, 1, "init"), fakeProcess(50, 51, 500, "new"), fakeProcess(51, 1, 101, "kid")};
        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        model.applySnapshot(second);
        QCOMPARE(reset.count(), 0);
        QVERIFY(!old.isValid());
        const QModelIndex reused = model.indexForPid(50);
        QCOMPARE(reused.data(ProcessModel::NameRole).toString(), QStringLiteral("new"));
        QCOMPARE(reused.parent(), model.indexForPid(51));
        QCOMPARE(model.indexForPid(51).parent(), model.indexForPid(1));
        QCOMPARE(model.processCount(), 3);
        verifyTreeConsistency(model);
    }

    void testFailedScanKeepsTheTree()
    {
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        ProcessSnapshot good;
        good.monotonicNs = 1'000'000'000;
        good.processes = {fakeProcess(1, 0, 1, "init"), fakeProcess(50, 1, 100, "app")};
        model.applySnapshot(good);
        QCOMPARE(model.processCount(), 2);
        QCOMPARE(model.scanError(), QString());

        QSignalSpy errorChanged(&model, &ProcessModel::scanErrorChanged);
        ProcessSnapshot failed;
        failed.monotonicNs = 2'000'000'000;
        failed.error = QStringLiteral("the Cryopod helper did not list the processes: no helper");
        model.applySnapshot(failed);
        QCOMPARE(errorChanged.count(), 1);
        QCOMPARE(model.scanError(), failed.error);
        QCOMPARE(model.processCount(), 2); // not emptied by a scan that read nothing
        QVERIFY(model.indexForPid(50).isValid());

        good.monotonicNs = 3'000'000'000;
        model.applySnapshot(good);
        QCOMPARE(errorChanged.count(), 2);
        QCOMPARE(model.scanError(), QString());
    }

    // Inside a Flatpak the tree comes from the helper; with no helper on the
    // bus the model says why instead of showing an empty tree.
    void testHelperSourceWithoutAHelper()
    {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        qputenv("CRYOPOD_PROCESS_SOURCE", "helper");
        qputenv("DBUS_SYSTEM_BUS_ADDRESS", QByteArray(QByteArray("unix:path=") + dir.filePath(QStringLiteral("no-bus")).toUtf8()));
        ProcessModel model;
        qunsetenv("CRYOPOD_PROCESS_SOURCE");
        qunsetenv("DBUS_SYSTEM_BUS_ADDRESS");
        QSignalSpy refreshed(&model, &ProcessModel::refreshed);
        model.refresh();
        QTRY_VERIFY_WITH_TIMEOUT(refreshed.count() > 0, 20000);
        QVERIFY2(model.scanError().contains(QLatin1String("Cryopod helper")), qPrintable(model.scanError()));
        QCOMPARE(model.processCount(), 0);
        QVERIFY(!model.isLoading());
    }

    void testReparentIsRemoveAndInsert()
    {
        // Synthetic snapshots: a process re-parented under a childless
        // process, then under one with children, then back to the top level
        // with its own child: always a removal and an insertion of the
        // subtree, never a row move.
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        ProcessSnapshot first;
        first.monotonicNs = 1'000'000'000;
        first.processes = {fakeProcess(1, 0, 1, "init"), fakeProcess(10, 1, 10, "reaper"), fakeProcess(20, 1, 20, "a"), fakeProcess(21, 20, 21, "b"),
                           fakeProcess(22, 21, 22, "c")};
        model.applySnapshot(first);
        QSignalSpy moved(&model, &QAbstractItemModel::rowsMoved);
        QSignalSpy removed(&model, &QAbstractItemModel::rowsRemoved);
        QSignalSpy inserted(&model, &QAbstractItemModel::rowsInserted);
        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);

        ProcessSnapshot second = first;
        second.monotonicNs = 2'000'000'000;
        second.processes[3].ppid = 10; // b (with c): from a to the childless reaper
        model.applySnapshot(second);
        QCOMPARE(removed.count(), 1);
        QCOMPARE(inserted.count(), 1);
        QCOMPARE(model.indexForPid(21).parent(), model.indexForPid(10));
        QCOMPARE(model.indexForPid(22).parent(), model.indexForPid(21)); // its subtree came along
        QCOMPARE(model.rowCount(model.indexForPid(20)), 0);
        QCOMPARE(model.indexForPid(21).data(ProcessModel::ParentPidRole).toInt(), 10);

        ProcessSnapshot third = second;
        third.monotonicNs = 3'000'000'000;
        third.processes[2].ppid = 10; // a joins b under the reaper
        model.applySnapshot(third);
        QCOMPARE(removed.count(), 2);
        QCOMPARE(inserted.count(), 2);
        QCOMPARE(model.indexForPid(20).parent(), model.indexForPid(10));
        QCOMPARE(model.rowCount(model.indexForPid(10)), 2);

        ProcessSnapshot fourth = third;
        fourth.monotonicNs = 4'000'000'000;
        fourth.processes.removeAt(1); // the reaper exits: a and b become top-level
        fourth.processes[1].ppid = 0;
        fourth.processes[2].ppid = 0;
        model.applySnapshot(fourth);
        QVERIFY(!model.indexForPid(10).isValid());
        QVERIFY(!model.indexForPid(21).parent().isValid());
        QCOMPARE(model.indexForPid(22).parent(), model.indexForPid(21));
        QCOMPARE(moved.count(), 0);
        QCOMPARE(reset.count(), 0);
        QCOMPARE(model.processCount(), 4);
        verifyTreeConsistency(model);
    }

    void testFilterModel()
    {
        ProcessModel model;
        model.setActive(false);
        ProcessFilterModel filter;
        filter.setSourceModel(&model);
        QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(refreshAndWait(model));

        // Searching by name keeps the matches and their ancestors.
        filter.setFilterString(QStringLiteral("CPT-CHILD"));
        const QModelIndex child = findPid(filter, m_tree.child);
        QVERIFY(child.isValid());
        QCOMPARE(pidOf(child.parent()), m_tree.parent);
        QCOMPARE(pidOf(child.parent().parent()), ::getpid());
        QCOMPARE(filter.rowCount(child.parent()), 1);
        QVERIFY(!findPid(filter, m_tree.nobody).isValid());

        // By command line, and by pid.
        filter.setFilterString(QStringLiteral("sleep 3600"));
        QVERIFY(findPid(filter, m_tree.sleeper).isValid());
        QVERIFY(!findPid(filter, m_tree.child).isValid());
        filter.setFilterString(QString::number(m_tree.nobody));
        QVERIFY(findPid(filter, m_tree.nobody).isValid());

        // Sorting within the parent: by PID, both ways.
        filter.setFilterString(QString());
        QSignalSpy headerChanged(&filter, &QAbstractItemModel::headerDataChanged);
        filter.setSortColumn(ProcessModel::PidColumn);
        filter.setSortOrder(Qt::DescendingOrder);
        QVERIFY(headerChanged.count() >= 1);
        QModelIndex parent = findPid(filter, m_tree.parent);
        QCOMPARE(pidOf(filter.index(0, 0, parent)), m_tree.sleeper);
        QCOMPARE(pidOf(filter.index(2, 0, parent)), m_tree.child);
        filter.toggleSort(ProcessModel::PidColumn);
        QCOMPARE(filter.sortOrder(), Qt::AscendingOrder);
        parent = findPid(filter, m_tree.parent);
        QCOMPARE(pidOf(filter.index(0, 0, parent)), m_tree.child);
        // By name: cpt-child < cpt-nobody < sleep.
        filter.toggleSort(ProcessModel::NameColumn);
        QCOMPARE(filter.sortColumn(), int(ProcessModel::NameColumn));
        parent = findPid(filter, m_tree.parent);
        QCOMPARE(pidOf(filter.index(0, 0, parent)), m_tree.child);
        QCOMPARE(pidOf(filter.index(1, 0, parent)), m_tree.nobody);
        QCOMPARE(pidOf(filter.index(2, 0, parent)), m_tree.sleeper);
        // Numbers sort largest first on the first click.
        filter.toggleSort(ProcessModel::MemoryColumn);
        QCOMPARE(filter.sortOrder(), Qt::DescendingOrder);

        // Header: translated titles from the GUI, the sort indicator.
        filter.setColumnTitles({QStringLiteral("Nom"), QStringLiteral("PID")});
        QCOMPARE(filter.headerData(0, Qt::Horizontal).toString(), QStringLiteral("Nom"));
        QCOMPARE(filter.headerData(2, Qt::Horizontal).toString(), QStringLiteral("User"));
        QCOMPARE(filter.headerData(ProcessModel::MemoryColumn, Qt::Horizontal, ProcessModel::SortIndicatorRole).toInt(), int(Qt::DescendingOrder));
        QVERIFY(!filter.headerData(ProcessModel::NameColumn, Qt::Horizontal, ProcessModel::SortIndicatorRole).isValid());

        // A refresh through the proxy keeps the tree consistent.
        QVERIFY(refreshAndWait(model));
        verifyTreeConsistency(filter);
    }

    void testVerdictsDoNotRelayout()
    {
        // A verdict arriving changes the badge's cell only (reportUpdated(),
        // which refreshCheckpointability() calls at once, as an answer from
        // the helper does): the tree sorted by name is not re-sorted, so the
        // view does not lay its rows out anew under a click.
        ProcessModel model;
        model.setRefreshInterval(0);
        ProcessFilterModel filter;
        filter.setSourceModel(&model);
        QAbstractItemModelTester tester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(refreshAndWait(model));
        QCOMPARE(filter.sortColumn(), int(ProcessModel::NameColumn));
        QSignalSpy layout(&filter, &QAbstractItemModel::layoutChanged);
        QSignalSpy changed(&filter, &QAbstractItemModel::dataChanged);
        const QModelIndex probe = filter.indexForPid(m_tree.child);
        QVERIFY(probe.isValid());
        model.refreshCheckpointability(m_tree.child);
        QCOMPARE(changed.count(), 1);
        for (const QList<QVariant> &signal : std::as_const(changed)) {
            QCOMPARE(signal.at(0).toModelIndex().column(), int(ProcessModel::CheckpointColumn));
            QCOMPARE(signal.at(1).toModelIndex().column(), int(ProcessModel::CheckpointColumn));
        }
        QCOMPARE(layout.count(), 0);
    }

    void testFilterIndexForHiddenPid()
    {
        // Looking up a process the search hides (ProcessFilterModel::indexForPid,
        // as the view does to expand or select by pid) must not leave the proxy
        // with a stale map of the hidden parent's rows: when children were
        // inserted under that parent later, the proxy reported "invalid inserted
        // rows" and lost track of them (rows the QML TreeView then read after
        // they were gone).
        QTest::failOnWarning(QRegularExpression(QStringLiteral("QSortFilterProxyModel")));
        ProcessModel model;
        model.setActive(false);
        ProcessFilterModel filter;
        filter.setSourceModel(&model);
        QAbstractItemModelTester modelTester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester filterTester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
        filter.setFilterString(QStringLiteral("cpt-"));

        Spawner spawner;
        QVERIFY(spawner.start("hold-spawner"));
        const pid_t hidden = spawner.spawn("hold-kid");
        QVERIFY(hidden > 0);
        QVERIFY(refreshAndWait(model));
        QVERIFY(model.indexForPid(hidden).isValid());
        QVERIFY(!findPid(filter, spawner.pid).isValid()); // no match below it
        QVERIFY(!filter.indexForPid(hidden).isValid());

        // A match appears under the hidden parent, which then shows; then another.
        const pid_t first = spawner.spawn("cpt-first");
        QVERIFY(first > 0);
        QVERIFY(refreshAndWait(model));
        QVERIFY(findPid(filter, spawner.pid).isValid());
        const pid_t second = spawner.spawn("cpt-second");
        QVERIFY(second > 0);
        QVERIFY(refreshAndWait(model));
        const QModelIndex parent = findPid(filter, spawner.pid);
        QVERIFY(parent.isValid());
        QCOMPARE(filter.rowCount(parent), 2);
        QCOMPARE(filter.indexForPid(first).parent(), parent);
        QCOMPARE(filter.indexForPid(second).parent(), parent);
        QVERIFY(!filter.indexForPid(hidden).isValid());
        verifyTreeConsistency(filter);
    }

    void testLiveChurn()
    {
        // Processes appear, exit and get re-parented while the model refreshes:
        // the testers watch every signal, and the tree stays consistent.
        const pid_t self = ::getpid();
        const pid_t churner = ::fork();
        if (churner == 0) {
            dieWithParent(self);
            ::prctl(PR_SET_NAME, "cpt-churner");
            for (unsigned i = 0;; ++i) {
                const pid_t middle = ::fork();
                if (middle == 0) {
                    // A grandchild that outlives its parent for a while: re-parented.
                    if (::fork() == 0) {
                        ::usleep(30000 + (i % 5) * 20000);
                        ::_exit(0);
                    }
                    ::usleep((i % 3) * 20000);
                    ::_exit(0);
                }
                ::usleep(5000);
                while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
            }
        }
        QVERIFY(churner > 0);
        ProcessModel model;
        model.setActive(false);
        ProcessFilterModel filter;
        filter.setSourceModel(&model);
        QAbstractItemModelTester modelTester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QAbstractItemModelTester filterTester(&filter, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QSignalSpy reset(&model, &QAbstractItemModel::modelAboutToBeReset);
        for (int i = 0; i < 30; ++i) {
            QVERIFY(refreshAndWait(model));
            verifyTreeConsistency(model);
            verifyTreeConsistency(filter);
            // Orphaned grandchildren come to us, the subreaper.
            while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
            if (i == 10) {
                filter.setFilterString(QStringLiteral("cpt-"));
            }
            if (i == 20) {
                filter.setFilterString(QString());
                model.setShowOnlyMine(true);
            }
            QTest::qWait(20);
        }
        QCOMPARE(reset.count(), 0);
        killAndReap(churner);
        QTest::qWait(200);
        while (::waitpid(-1, nullptr, WNOHANG) > 0) { }
    }

    void testRefreshWithUnreadableCommandLine()
    {
        // A process being restored is stopped by its tracer while its pages
        // are filled through userfaultfd; reading its command line would wait
        // for the restore. The scan leaves it out and does not wait, and the
        // row keeps the command line read before.
        UffdChild blocked;
        QVERIFY(blocked.start());
        ProcessModel model;
        model.setActive(false);
        QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
        QVERIFY(refreshAndWait(model));
        const QString commandLine = model.indexForPid(blocked.pid).data(ProcessModel::CommandLineRole).toString();
        QVERIFY(!commandLine.isEmpty());

        QVERIFY(blocked.makeCmdlineUnreadable());
        QCOMPARE(::ptrace(PTRACE_SEIZE, blocked.pid, nullptr, nullptr), 0L);
        QCOMPARE(::ptrace(PTRACE_INTERRUPT, blocked.pid, nullptr, nullptr), 0L);
        int status = 0;
        QCOMPARE(::waitpid(blocked.pid, &status, __WALL), blocked.pid);
        QVERIFY(WIFSTOPPED(status));
        QCOMPARE(ProcessScanner::readProcess(blocked.pid)->state, 't');
        QVERIFY(!ProcessScanner::readProcess(blocked.pid)->argumentsRead);

        QVERIFY2(refreshAndWait(model), "the scan waited for the command line of a stopped, traced process");
        const QModelIndex row = model.indexForPid(blocked.pid);
        QVERIFY(row.isValid());
        QCOMPARE(row.data(ProcessModel::StateRole).toString(), QStringLiteral("t"));
        QCOMPARE(row.data(ProcessModel::CommandLineRole).toString(), commandLine);
    }

    void benchmarkRefresh()
    {
        // Applying a snapshot to a populated model (the UI thread's share of a refresh).
        ProcessModel model;
        model.setActive(false);
        QVERIFY(refreshAndWait(model));
        const ProcessSnapshot snapshot = ProcessScanner::scan();
        QBENCHMARK
        {
            model.applySnapshot(snapshot);
        }
    }
};

QTEST_GUILESS_MAIN(ProcessModelTest)
#include "processmodeltest.moc"
