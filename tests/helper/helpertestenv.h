// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The world cryopod-helper's integration tests run in (as root, inside the
// build root): a private dbus-daemon configured as the system bus (the
// helper's and polkit's bus policies), a real polkitd on it (running as user
// polkitd, with the helper's actions installed in /usr/share/polkit-1/actions
// and a test rule in /etc/polkit-1/rules.d), unprivileged test users, and the
// helper itself. Callers are helpertestclient processes, run as a test user
// through setpriv. Every wait has a timeout.
//
// Test users and what the test rule grants them:
//   cryopod-hlp-user, cryopod-hlp-user2  the plain actions (what allow_active
//                        gives a local user); "-other" actions fall to the
//                        policy's defaults (auth_admin_keep: refused here)
//   cryopod-hlp-admin    every action (an administrator who authenticated)
//   cryopod-hlp-none     no action at all (a rule granting nothing)
//   cryopod-hlp-norule   no rule: the policy's defaults outside a session
#pragma once

#include <QProcess>
#include <QString>
#include <QStringList>
#include <QTemporaryDir>

#include <memory>
#include <sys/types.h>

class PrivateSystemBus;

struct TestUser {
    QString name;
    uid_t uid = 0;
    gid_t gid = 0;
};

// Kills (SIGKILL) and reaps a process that is still running when dropped.
struct ProcessKiller {
    void operator()(QProcess *process) const;
};
using ProcessPtr = std::unique_ptr<QProcess, ProcessKiller>;

struct ClientRun {
    int exitCode = -1;
    QStringList lines; // stdout
    QString stderrText;

    QString result() const; // the "result ..." line, or ""
    bool ok() const;
    QString errorName() const; // from "result error NAME ...", or ""
    QString value(const QString &key) const; // KEY=VALUE of "result ok"
    bool has(const QString &prefix) const; // a line starting with prefix
};

class HelperTestEnv
{
public:
    HelperTestEnv();
    ~HelperTestEnv();

    // Bus, polkitd, users. false + error when something is missing.
    bool start(QString *error);
    QString address() const;

    // The helper, as root, on the private bus.
    bool startHelper(QString *error, int idleMs = 60000);
    // SIGKILL, as a crash would.
    void killHelper();
    void stopHelper();
    qint64 helperPid() const;
    bool helperRunning() const;
    // Its exit code once it has exited by itself; -1 if a signal ended it.
    int helperExitCode() const;

    TestUser user(const QString &name) const;
    // A directory owned by the user (removed with the environment).
    QString userDirectory(const QString &userName);

    // helpertestclient ARGS as userName ("" = root), to completion.
    ClientRun runClient(const QString &userName, const QStringList &args, int timeoutMs = 60000);
    // Any program as userName ("" = root), with DBUS_SYSTEM_BUS_ADDRESS set
    // to the private bus, to completion (stdout lines, stderr text).
    ClientRun runAs(const QString &userName, const QString &program, const QStringList &args, int timeoutMs = 60000);
    // The same, left running (the caller reads its output and ends it).
    ProcessPtr startClient(const QString &userName, const QStringList &args);
    // A process as userName ("" = root), fds 0-2 on /dev/null, nothing else
    // inherited, cwd workDir.
    ProcessPtr startProcess(const QString &userName, const QString &program, const QStringList &args, const QString &workDir = QStringLiteral("/"));

    // Restarts polkitd (after a rules change).
    bool restartPolkit(QString *error);
    // Writes an extra rules file (removed with the environment).
    bool addRules(const QString &fileName, const QString &javascript, QString *error);

private:
    QStringList setprivArgs(const QString &userName) const;
    bool ensureUser(const QString &name, QString *error);
    bool startPolkit(QString *error);
    bool waitForName(const QString &name, int timeoutMs);

    std::unique_ptr<PrivateSystemBus> m_bus;
    QProcess m_polkitd;
    QProcess m_helper;
    QTemporaryDir m_dir;
    QStringList m_installedFiles;
    QStringList m_userDirs;
};

// /proc/PID/stat state ('S', 'R', 't', 'T', 'Z', ...), or 0 if gone.
char processState(qint64 pid);
