// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "helpertestenv.h"

#include "privatesystembus.h"

#include <QDBusConnection>
#include <QDBusConnectionInterface>
#include <QDeadlineTimer>
#include <QDir>
#include <QFile>
#include <QThread>

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

namespace
{
const QString kPolicyInstalled = QStringLiteral("/usr/share/polkit-1/actions/io.github.cryopod.policy");
const QString kPolkitBusPolicy = QStringLiteral("/usr/share/dbus-1/system.d/org.freedesktop.PolicyKit1.conf");
const QString kRulesDir = QStringLiteral("/etc/polkit-1/rules.d");

const char kTestRules[] = R"JS(// cryopod-helper's tests (removed when they end)
polkit.addRule(function(action, subject) {
    if (action.id.indexOf("io.github.cryopod.") !== 0) {
        return polkit.Result.NOT_HANDLED;
    }
    switch (subject.user) {
    case "cryopod-hlp-admin":
        return polkit.Result.YES;
    case "cryopod-hlp-none":
        return polkit.Result.NO;
    case "cryopod-hlp-user":
    case "cryopod-hlp-user2":
        // What allow_active gives a local user in an active session (the
        // build root has none); the -other actions keep their defaults.
        return /-other$/.test(action.id) ? polkit.Result.NOT_HANDLED : polkit.Result.YES;
    }
    return polkit.Result.NOT_HANDLED;
});
)JS";

const QStringList kUsers = {
    QStringLiteral("cryopod-hlp-user"),
    QStringLiteral("cryopod-hlp-user2"),
    QStringLiteral("cryopod-hlp-admin"),
    QStringLiteral("cryopod-hlp-none"),
    QStringLiteral("cryopod-hlp-norule"),
};

bool copyFile(const QString &from, const QString &to, QString *error)
{
    QFile::remove(to);
    if (!QFile::copy(from, to)) {
        *error = QStringLiteral("cannot copy %1 to %2").arg(from, to);
        return false;
    }
    QFile::setPermissions(to, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
    return true;
}
}

void ProcessKiller::operator()(QProcess *process) const
{
    if (process->state() != QProcess::NotRunning) {
        process->kill();
        process->waitForFinished(5000);
    }
    delete process;
}

// ---- ClientRun ----------------------------------------------------------------

QString ClientRun::result() const
{
    for (const QString &line : lines) {
        if (line.startsWith(QLatin1String("result "))) {
            return line;
        }
    }
    return {};
}

bool ClientRun::ok() const
{
    return result().startsWith(QLatin1String("result ok"));
}

QString ClientRun::errorName() const
{
    const QString r = result();
    if (!r.startsWith(QLatin1String("result error "))) {
        return {};
    }
    return r.section(QLatin1Char(' '), 2, 2);
}

QString ClientRun::value(const QString &key) const
{
    const QStringList parts = result().split(QLatin1Char(' '));
    for (const QString &part : parts) {
        if (part.startsWith(key + QLatin1Char('='))) {
            return part.mid(key.size() + 1);
        }
    }
    return {};
}

bool ClientRun::has(const QString &prefix) const
{
    for (const QString &line : lines) {
        if (line.startsWith(prefix)) {
            return true;
        }
    }
    return false;
}

// ---- HelperTestEnv ------------------------------------------------------------

HelperTestEnv::HelperTestEnv() = default;

HelperTestEnv::~HelperTestEnv()
{
    stopHelper();
    if (m_polkitd.state() != QProcess::NotRunning) {
        m_polkitd.kill();
        m_polkitd.waitForFinished(5000);
    }
    for (const QString &file : std::as_const(m_installedFiles)) {
        QFile::remove(file);
    }
    for (const QString &dir : std::as_const(m_userDirs)) {
        QDir(dir).removeRecursively();
    }
}

QString HelperTestEnv::address() const
{
    return m_bus ? m_bus->address() : QString();
}

bool HelperTestEnv::ensureUser(const QString &name, QString *error)
{
    if (::getpwnam(name.toLocal8Bit().constData())) {
        return true;
    }
    QProcess useradd;
    useradd.start(QStringLiteral("useradd"),
                  {QStringLiteral("--system"),
                   QStringLiteral("--user-group"),
                   QStringLiteral("--no-create-home"),
                   QStringLiteral("--home-dir"),
                   QStringLiteral("/nonexistent"),
                   QStringLiteral("--shell"),
                   QStringLiteral("/usr/sbin/nologin"),
                   name});
    if (!useradd.waitForFinished(30000) || useradd.exitCode() != 0 || !::getpwnam(name.toLocal8Bit().constData())) {
        *error = QStringLiteral("cannot create the test user %1: %2").arg(name, QString::fromLocal8Bit(useradd.readAllStandardError()));
        return false;
    }
    return true;
}

TestUser HelperTestEnv::user(const QString &name) const
{
    TestUser u;
    u.name = name;
    if (const passwd *pw = ::getpwnam(name.toLocal8Bit().constData())) {
        u.uid = pw->pw_uid;
        u.gid = pw->pw_gid;
    }
    return u;
}

QString HelperTestEnv::userDirectory(const QString &userName)
{
    const TestUser u = user(userName);
    const QString dir = m_dir.filePath(QStringLiteral("home-%1-%2").arg(userName).arg(m_userDirs.size()));
    QDir().mkpath(dir);
    if (::chown(dir.toLocal8Bit().constData(), u.uid, u.gid) != 0) {
        return {};
    }
    QFile::setPermissions(dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    m_userDirs << dir;
    return dir;
}

bool HelperTestEnv::waitForName(const QString &name, int timeoutMs)
{
    const QString connectionName = QStringLiteral("helpertestenv-%1").arg(quintptr(this));
    bool found = false;
    {
        QDBusConnection bus = QDBusConnection::connectToBus(m_bus->address(), connectionName);
        QDeadlineTimer deadline(timeoutMs);
        while (bus.isConnected() && !deadline.hasExpired()) {
            if (bus.interface()->isServiceRegistered(name)) {
                found = true;
                break;
            }
            QThread::msleep(20);
        }
    }
    QDBusConnection::disconnectFromBus(connectionName);
    return found;
}

bool HelperTestEnv::start(QString *error)
{
    if (::geteuid() != 0) {
        *error = QStringLiteral("the helper's integration tests run as root (inside the build root)");
        return false;
    }
    if (!m_dir.isValid()) {
        *error = QStringLiteral("no temporary directory");
        return false;
    }
    QFile::setPermissions(m_dir.path(), QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner | QFileDevice::ExeGroup | QFileDevice::ExeOther);
    if (!QFile::exists(QStringLiteral(POLKITD_BINARY)) || !QFile::exists(kPolkitBusPolicy)) {
        *error = QStringLiteral("polkitd is not installed (%1)").arg(QStringLiteral(POLKITD_BINARY));
        return false;
    }
    for (const QString &name : kUsers) {
        if (!ensureUser(name, error)) {
            return false;
        }
    }
    // The actions polkitd reads, and the test rule.
    if (!copyFile(QStringLiteral(HELPER_POLKIT_POLICY), kPolicyInstalled, error)) {
        return false;
    }
    m_installedFiles << kPolicyInstalled;
    if (!addRules(QStringLiteral("50-cryopod-helper-test.rules"), QString::fromUtf8(kTestRules), error)) {
        return false;
    }
    m_bus = std::make_unique<PrivateSystemBus>(QStringList{QStringLiteral(HELPER_BUS_POLICY), kPolkitBusPolicy});
    if (!m_bus->start(error)) {
        return false;
    }
    return startPolkit(error);
}

bool HelperTestEnv::addRules(const QString &fileName, const QString &javascript, QString *error)
{
    const QString path = kRulesDir + QLatin1Char('/') + fileName;
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(javascript.toUtf8()) < 0) {
        *error = QStringLiteral("cannot write %1").arg(path);
        return false;
    }
    file.close();
    QFile::setPermissions(path, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ReadGroup | QFileDevice::ReadOther);
    if (!m_installedFiles.contains(path)) {
        m_installedFiles << path;
    }
    return true;
}

bool HelperTestEnv::startPolkit(QString *error)
{
    QProcessEnvironment env;
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), m_bus->address());
    env.insert(QStringLiteral("PATH"), QStringLiteral("/usr/sbin:/usr/bin:/sbin:/bin"));
    m_polkitd.setProcessEnvironment(env);
    m_polkitd.setProcessChannelMode(QProcess::MergedChannels);
    m_polkitd.setStandardOutputFile(m_dir.filePath(QStringLiteral("polkitd.log")), QIODevice::Append);
    m_polkitd.start(QStringLiteral("setpriv"),
                    {QStringLiteral("--reuid=polkitd"),
                     QStringLiteral("--regid=polkitd"),
                     QStringLiteral("--init-groups"),
                     QStringLiteral(POLKITD_BINARY),
                     QStringLiteral("--no-debug")});
    if (!m_polkitd.waitForStarted(5000) || !waitForName(QStringLiteral("org.freedesktop.PolicyKit1"), 15000)) {
        QFile log(m_dir.filePath(QStringLiteral("polkitd.log")));
        log.open(QIODevice::ReadOnly);
        *error = QStringLiteral("polkitd did not come up on the private bus: %1").arg(QString::fromLocal8Bit(log.readAll()));
        return false;
    }
    return true;
}

bool HelperTestEnv::restartPolkit(QString *error)
{
    m_polkitd.terminate();
    if (!m_polkitd.waitForFinished(5000)) {
        m_polkitd.kill();
        m_polkitd.waitForFinished(5000);
    }
    // Wait until the old polkitd's name is gone, then start anew.
    QDeadlineTimer deadline(5000);
    while (waitForName(QStringLiteral("org.freedesktop.PolicyKit1"), 0) && !deadline.hasExpired()) {
        QThread::msleep(20);
    }
    return startPolkit(error);
}

bool HelperTestEnv::startHelper(QString *error, int idleMs)
{
    stopHelper();
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), m_bus->address());
    env.insert(QStringLiteral("CRYOPOD_HELPER_IDLE_MS"), QString::number(idleMs));
    m_helper.setProcessEnvironment(env);
    m_helper.setProcessChannelMode(QProcess::ForwardedChannels);
    m_helper.setStandardInputFile(QProcess::nullDevice());
    m_helper.start(QStringLiteral(HELPER_BINARY), {});
    if (!m_helper.waitForStarted(5000) || !waitForName(QStringLiteral("io.github.cryopod.Helper"), 10000)) {
        *error = QStringLiteral("cryopod-helper did not come up: %1").arg(m_helper.errorString());
        return false;
    }
    return true;
}

void HelperTestEnv::killHelper()
{
    if (m_helper.state() != QProcess::NotRunning) {
        ::kill(pid_t(m_helper.processId()), SIGKILL);
        m_helper.waitForFinished(5000);
    }
}

void HelperTestEnv::stopHelper()
{
    if (m_helper.state() != QProcess::NotRunning) {
        m_helper.terminate();
        if (!m_helper.waitForFinished(5000)) {
            m_helper.kill();
            m_helper.waitForFinished(5000);
        }
    }
}

qint64 HelperTestEnv::helperPid() const
{
    return m_helper.processId();
}

bool HelperTestEnv::helperRunning() const
{
    return m_helper.state() == QProcess::Running;
}

int HelperTestEnv::helperExitCode() const
{
    return m_helper.exitStatus() == QProcess::NormalExit ? m_helper.exitCode() : -1;
}

QStringList HelperTestEnv::setprivArgs(const QString &userName) const
{
    const TestUser u = user(userName);
    return {QStringLiteral("--reuid=%1").arg(u.uid), QStringLiteral("--regid=%1").arg(u.gid), QStringLiteral("--init-groups")};
}

ClientRun HelperTestEnv::runClient(const QString &userName, const QStringList &args, int timeoutMs)
{
    ClientRun run;
    ProcessPtr process = startClient(userName, args);
    if (!process->waitForFinished(timeoutMs)) {
        process->kill();
        process->waitForFinished(5000);
        run.lines << QStringLiteral("test: the client did not finish in time");
    }
    run.exitCode = process->exitStatus() == QProcess::NormalExit ? process->exitCode() : -1;
    const QString out = QString::fromLocal8Bit(process->readAllStandardOutput());
    run.lines << out.split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    run.stderrText = QString::fromLocal8Bit(process->readAllStandardError());
    return run;
}

ClientRun HelperTestEnv::runAs(const QString &userName, const QString &program, const QStringList &args, int timeoutMs)
{
    ClientRun run;
    ProcessPtr process(new QProcess);
    QProcessEnvironment env = QProcessEnvironment::systemEnvironment();
    env.insert(QStringLiteral("DBUS_SYSTEM_BUS_ADDRESS"), m_bus->address());
    process->setProcessEnvironment(env);
    process->setStandardInputFile(QProcess::nullDevice());
    process->setUnixProcessParameters(QProcess::UnixProcessFlag::CloseFileDescriptors);
    if (userName.isEmpty()) {
        process->start(program, args);
    } else {
        QStringList setpriv = setprivArgs(userName);
        setpriv << program << args;
        process->start(QStringLiteral("setpriv"), setpriv);
    }
    if (!process->waitForFinished(timeoutMs)) {
        run.lines << QStringLiteral("test: did not finish in time");
    }
    run.exitCode = process->exitStatus() == QProcess::NormalExit ? process->exitCode() : -1;
    run.lines << QString::fromLocal8Bit(process->readAllStandardOutput()).split(QLatin1Char('\n'), Qt::SkipEmptyParts);
    run.stderrText = QString::fromLocal8Bit(process->readAllStandardError());
    return run;
}

ProcessPtr HelperTestEnv::startClient(const QString &userName, const QStringList &args)
{
    ProcessPtr process(new QProcess);
    QStringList full{QStringLiteral("--address"), m_bus->address()};
    full << args;
    process->setStandardInputFile(QProcess::nullDevice());
    process->setUnixProcessParameters(QProcess::UnixProcessFlag::CloseFileDescriptors);
    if (userName.isEmpty()) {
        process->start(QStringLiteral(HELPER_TEST_CLIENT), full);
    } else {
        QStringList setpriv = setprivArgs(userName);
        setpriv << QStringLiteral(HELPER_TEST_CLIENT) << full;
        process->start(QStringLiteral("setpriv"), setpriv);
    }
    process->waitForStarted(5000);
    return process;
}

ProcessPtr HelperTestEnv::startProcess(const QString &userName, const QString &program, const QStringList &args, const QString &workDir)
{
    ProcessPtr process(new QProcess);
    process->setStandardInputFile(QProcess::nullDevice());
    process->setStandardOutputFile(QProcess::nullDevice());
    process->setStandardErrorFile(QProcess::nullDevice());
    process->setWorkingDirectory(workDir);
    process->setUnixProcessParameters(QProcess::UnixProcessFlag::CloseFileDescriptors | QProcess::UnixProcessFlag::ResetSignalHandlers);
    if (userName.isEmpty()) {
        process->start(program, args);
    } else {
        QStringList setpriv = setprivArgs(userName);
        setpriv << program << args;
        process->start(QStringLiteral("setpriv"), setpriv);
    }
    process->waitForStarted(5000);
    return process;
}

char processState(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly)) {
        return 0;
    }
    const QByteArray text = stat.readAll();
    const qsizetype paren = text.lastIndexOf(')');
    return paren >= 0 && paren + 2 < text.size() ? text.at(paren + 2) : char(0);
}
