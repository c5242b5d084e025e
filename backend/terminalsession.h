// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TerminalSession: the GUI's side of a pseudo-terminal whose master it holds
// (a program restored onto a new pty: the helper's pty-master). It reads the
// master when the event loop says there is something (QSocketNotifier, the
// fd non-blocking: nothing waits), keeps what the program printed as lines
// of text with a bounded scrollback, writes what the user types (keys as a
// terminal sends them), sets the window size, and says when the program has
// gone (EIO/HUP on the master: no slave left open).
//
// The text is a plain screen model, enough for a shell and a line-oriented
// program: printable characters overwrite at the cursor, CR, LF, BS and TAB
// move it, the common CSI sequences (cursor moves, erase in line/display,
// insert/delete characters) are interpreted, colours and modes (SGR, DEC
// private modes) and OSC strings (window titles) are dropped, other escapes
// are skipped. Full-screen programs (an editor, top) are not emulated.
#pragma once

#include <QObject>
#include <QSocketNotifier>
#include <QStringDecoder>
#include <QStringList>
#include <QtQmlIntegration>

#include "uniquefd.h"

#include <memory>

class TerminalSession : public QObject
{
    Q_OBJECT
    QML_ELEMENT
    QML_UNCREATABLE("made by SnapshotActions for a restore onto a new pty")

    // Everything kept (scrollback and screen), lines joined with '\n'.
    Q_PROPERTY(QString text READ text NOTIFY textChanged)
    // The cursor as an offset into text.
    Q_PROPERTY(int cursorPosition READ cursorPosition NOTIFY textChanged)
    // The program still holds the terminal.
    Q_PROPERTY(bool running READ isRunning NOTIFY runningChanged)
    // What the view is for ("process 123"), set by whoever made it.
    Q_PROPERTY(QString title READ title WRITE setTitle NOTIFY titleChanged)
    // The slave's path (/dev/pts/N), "" when unknown.
    Q_PROPERTY(QString ttyName READ ttyName CONSTANT)
    Q_PROPERTY(int columns READ columns NOTIFY windowSizeChanged)
    Q_PROPERTY(int rows READ rows NOTIFY windowSizeChanged)
    // How many lines are kept at most (the oldest go first).
    Q_PROPERTY(int maxLines READ maxLines WRITE setMaxLines NOTIFY maxLinesChanged)
    // Why the last write or read failed, "" when none did.
    Q_PROPERTY(QString errorString READ errorString NOTIFY errorStringChanged)

public:
    // Takes master (a pty master, any flags: it is made non-blocking and
    // close-on-exec). ttyName: the slave's path, for the title.
    explicit TerminalSession(cryopod::UniqueFd master, const QString &ttyName = QString(), QObject *parent = nullptr);
    ~TerminalSession() override;

    QString text() const;
    int cursorPosition() const;
    bool isRunning() const;
    QString title() const;
    void setTitle(const QString &title);
    QString ttyName() const;
    int columns() const;
    int rows() const;
    int maxLines() const;
    void setMaxLines(int lines);
    QString errorString() const;
    // The kept lines (the last one is where output goes on).
    QStringList lines() const;

    // Types text as it is (UTF-8), e.g. what a key press produced.
    Q_INVOKABLE void sendText(const QString &text);
    // Types a key as a terminal sends it: Return CR, Backspace DEL, Tab,
    // Escape, the arrows, Home/End, Insert/Delete, Page Up/Down (VT100/xterm
    // sequences), Ctrl+letter the control character (Ctrl+C 0x03, Ctrl+D
    // 0x04, ...); otherwise text as sendText(). Returns false when the key
    // means nothing to a terminal (a modifier alone).
    Q_INVOKABLE bool sendKey(int key, int modifiers, const QString &text = QString());
    // TIOCSWINSZ on the master: the program gets SIGWINCH. Ignored for
    // sizes below 1x1 or unchanged.
    Q_INVOKABLE void setWindowSize(int columns, int rows);
    // Forgets what was shown (the program is not told).
    Q_INVOKABLE void clear();
    // Closes the master: the program gets a hangup.
    Q_INVOKABLE void close();

Q_SIGNALS:
    void textChanged();
    void runningChanged();
    void titleChanged();
    void windowSizeChanged();
    void maxLinesChanged();
    void errorStringChanged();
    // The program let go of the terminal (its last slave fd closed), or
    // close() was called.
    void finished();

private:
    void onReadable();
    void onWritable();
    void flushPending();
    void writeBytes(const QByteArray &bytes);
    void ended();
    void setError(const QString &message);
    // The screen model.
    void feed(QStringView chars);
    void putChar(QChar c);
    void lineFeed();
    void csi(QChar final);
    void trimScrollback();
    int screenTop() const;
    QString &currentLine();

    enum class State { Text, Escape, EscapeIntermediate, Csi, Osc, OscEscape };

    cryopod::UniqueFd m_master;
    std::unique_ptr<QSocketNotifier> m_readNotifier;
    std::unique_ptr<QSocketNotifier> m_writeNotifier;
    QByteArray m_pending; // typed, not yet taken by the pty
    QStringDecoder m_decoder {QStringDecoder::Utf8};
    QString m_title;
    QString m_ttyName;
    QString m_error;
    QStringList m_lines {QString()};
    int m_row = 0; // cursor: line in m_lines
    int m_column = 0;
    int m_savedRow = 0;
    int m_savedColumn = 0;
    int m_columns = 80;
    int m_rows = 24;
    int m_maxLines = 5000;
    State m_state = State::Text;
    QString m_params; // of the CSI sequence being read
    bool m_running = true;
};
