// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// BackendTranslator: the backend's user-visible strings are Qt's tr() (the
// backend is Qt Core, without KI18n); Messages.sh extracts them into the
// cryopod catalog beside the GUI's i18n() strings. Installed in the
// application, this translator looks them up in that catalog through
// KLocalizedString: the disambiguation is the message context, and the
// placeholders (%1..%9, %n) are left for tr()'s arg() and Qt.
#pragma once

#include <QTranslator>

class BackendTranslator : public QTranslator
{
public:
    explicit BackendTranslator(QObject *parent = nullptr);

    // The catalog's text for one of the backend's classes (context), or ""
    // when there is none (then Qt shows the source text).
    QString translate(const char *context, const char *sourceText, const char *disambiguation = nullptr, int n = -1) const override;
    bool isEmpty() const override;

    // The classes whose tr() strings are in the catalog.
    static bool isBackendContext(const char *context);
};
