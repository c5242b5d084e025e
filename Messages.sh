#!/bin/sh
# SPDX-License-Identifier: CC0-1.0
# SPDX-FileCopyrightText: 2026 Cryopod developers
#
# String extraction for KDE's translation tooling (scripty), which sets
# $XGETTEXT and $podir. The GUI's strings are KI18n's: i18n*() in app/ and
# qml/. The backend's (Qt Core, no KI18n) are Qt's tr(), with the
# disambiguation as the context; app/cryopod/backendtranslator.cpp looks
# them up in the same catalog. Locally:
#   XGETTEXT="xgettext --from-code=UTF-8 -C -ci18n -ki18n:1 -ki18nc:1c,2 -ki18np:1,2 -ki18ncp:1c,2,3" \
#     podir=/tmp sh Messages.sh
# then msgmerge -U translations/de/cryopod.po /tmp/cryopod.pot.
$XGETTEXT $(find app qml -name '*.cpp' -o -name '*.h' -o -name '*.qml' | sort) -o "$podir/cryopod.pot"
$XGETTEXT --add-comments=: -ktr:1 -ktr:1,2c -j $(find backend -maxdepth 1 -name '*.cpp' | sort) -o "$podir/cryopod.pot"
