// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The translation pipeline: translations/de/cryopod.po, compiled by the
// build (ki18n_install) into <build>/locale, is what KI18n finds for the
// cryopod domain when the language is German; untranslated languages get
// the English text.

#include "backendtranslator.h"

#include <KLocalizedString>

#include <QtTest>

#include <cstdio>
#include <filesystem>

class TranslationTest : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY2(QFile::exists(QStringLiteral(CRYOPOD_LOCALE_DIR "/de/LC_MESSAGES/cryopod.mo")), "the build did not compile translations/de");
        KLocalizedString::setApplicationDomain("cryopod");
        KLocalizedString::addDomainLocaleDir("cryopod", QStringLiteral(CRYOPOD_LOCALE_DIR));
    }

    void testGerman()
    {
        KLocalizedString::setLanguages({QStringLiteral("de")});
        QCOMPARE(i18nc("@title page", "Processes"), QStringLiteral("Prozesse"));
        QCOMPARE(i18nc("@action:button", "Take Snapshot"), QStringLiteral("Schnappschuss aufnehmen"));
        QCOMPARE(i18nc("@info %2 pause and total time", "Snapshot %1 taken (%2).", QStringLiteral("7"), QStringLiteral("x")),
                 QStringLiteral("Schnappschuss 7 aufgenommen (x)."));
    }

    void testBackendStrings()
    {
        // The backend's tr() strings, extracted by Messages.sh into the same
        // catalog, through BackendTranslator; placeholders kept for arg().
        KLocalizedString::setLanguages({QStringLiteral("de")});
        BackendTranslator translator;
        QVERIFY(QCoreApplication::installTranslator(&translator));
        QCOMPARE(QCoreApplication::translate("TimelineModel", "Cannot open the snapshot store: %1").arg(QStringLiteral("x")),
                 QStringLiteral("Der Schnappschussspeicher kann nicht geöffnet werden: x"));
        QCOMPARE(QCoreApplication::translate("TimelineModel", "paused %1 ms, %2 s in all").arg(64).arg(QStringLiteral("1,2")),
                 QStringLiteral("64 ms angehalten, 1,2 s insgesamt"));
        QCOMPARE(QCoreApplication::translate("SnapshotDiffModel", "uid %1/%2/%3 · gid %4/%5/%6 · groups %7 · capabilities 0x%8")
                     .arg(1)
                     .arg(2)
                     .arg(3)
                     .arg(4)
                     .arg(5)
                     .arg(6)
                     .arg(QStringLiteral("7"))
                     .arg(8),
                 QStringLiteral("UID 1/2/3 · GID 4/5/6 · Gruppen 7 · Capabilities 0x8"));
        QCOMPARE(QCoreApplication::translate("TimelineAxis", "%n hour(s)", nullptr, 3), QStringLiteral("3 Stunde(n)"));
        // A cancelled snapshot of a frozen process, and of a running one.
        QCOMPARE(QCoreApplication::translate("SnapshotActions", "Snapshot cancelled: the process stays frozen, unchanged; nothing was stored."),
                 QStringLiteral("Schnappschuss abgebrochen: Der Prozess bleibt unverändert eingefroren, nichts wurde gespeichert."));
        QCOMPARE(QCoreApplication::translate("SnapshotActions", "Snapshot cancelled: the process runs on unchanged, nothing was stored."),
                 QStringLiteral("Schnappschuss abgebrochen: Der Prozess läuft unverändert weiter, nichts wurde gespeichert."));
        // Not one of the backend's classes: left to Qt.
        QCOMPARE(QCoreApplication::translate("QObject", "paused %1 ms, %2 s in all"), QStringLiteral("paused %1 ms, %2 s in all"));
        // A string the catalog lacks: the source text.
        QCOMPARE(QCoreApplication::translate("TimelineModel", "no such text %1"), QStringLiteral("no such text %1"));
        QVERIFY(QCoreApplication::removeTranslator(&translator));
    }

    void testEnglishFallback()
    {
        KLocalizedString::setLanguages({QStringLiteral("en_US")});
        QCOMPARE(i18nc("@title page", "Processes"), QStringLiteral("Processes"));
    }
};

int main(int argc, char **argv)
{
    // gettext ignores the language list in the C (and C.UTF-8) locale, and
    // the build root has no other locale (a desktop session has the
    // user's): a private copy of C.UTF-8 named de_DE.UTF-8 makes the
    // process's locale German in name, which is all gettext looks at.
    QTemporaryDir locales;
    std::error_code error;
    std::filesystem::copy("/usr/lib/locale/C.utf8", QString(locales.path() + QStringLiteral("/de_DE.UTF-8")).toStdString(),
                          std::filesystem::copy_options::recursive, error);
    if (error) {
        std::fprintf(stderr, "no C.utf8 locale to copy: %s\n", error.message().c_str());
        return 1;
    }
    qputenv("LOCPATH", QFile::encodeName(locales.path()));
    qputenv("LC_ALL", "de_DE.UTF-8");
    QCoreApplication app(argc, argv);
    TranslationTest test;
    return QTest::qExec(&test, argc, argv);
}

#include "translationtest.moc"
