// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The translation pipeline: translations/de/cryopod.po, compiled by the
// build (ki18n_install) into <build>/locale, is what KI18n finds for the
// cryopod domain when the language is German; untranslated languages get
// the English text.

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
        QCOMPARE(i18nc("@info", "Snapshot %1 taken.", QStringLiteral("7")), QStringLiteral("Schnappschuss 7 aufgenommen."));
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
