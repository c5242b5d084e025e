// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "terminalsession.h"

#include "backendlogging.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

namespace
{
constexpr QChar kEscape(0x1b);
// Bytes read per readiness before the event loop gets its turn again.
constexpr int kReadBudget = 256 * 1024;

QString errnoText(int error)
{
    return QString::fromLocal8Bit(std::strerror(error));
}

// The byte sequence of a key that is not plain text (xterm's normal mode).
QByteArray sequenceOf(int key)
{
    switch (key) {
    case Qt::Key_Return:
    case Qt::Key_Enter:
        return QByteArrayLiteral("\r");
    case Qt::Key_Backspace:
        return QByteArrayLiteral("\x7f");
    case Qt::Key_Tab:
        return QByteArrayLiteral("\t");
    case Qt::Key_Backtab:
        return QByteArrayLiteral("\x1b[Z");
    case Qt::Key_Escape:
        return QByteArrayLiteral("\x1b");
    case Qt::Key_Up:
        return QByteArrayLiteral("\x1b[A");
    case Qt::Key_Down:
        return QByteArrayLiteral("\x1b[B");
    case Qt::Key_Right:
        return QByteArrayLiteral("\x1b[C");
    case Qt::Key_Left:
        return QByteArrayLiteral("\x1b[D");
    case Qt::Key_Home:
        return QByteArrayLiteral("\x1b[H");
    case Qt::Key_End:
        return QByteArrayLiteral("\x1b[F");
    case Qt::Key_Insert:
        return QByteArrayLiteral("\x1b[2~");
    case Qt::Key_Delete:
        return QByteArrayLiteral("\x1b[3~");
    case Qt::Key_PageUp:
        return QByteArrayLiteral("\x1b[5~");
    case Qt::Key_PageDown:
        return QByteArrayLiteral("\x1b[6~");
    default:
        return {};
    }
}

// Ctrl+key as a control character, -1 when the key has none.
int controlCharacterOf(int key)
{
    if (key >= Qt::Key_A && key <= Qt::Key_Z) {
        return key - Qt::Key_A + 1;
    }
    switch (key) {
    case Qt::Key_At:
    case Qt::Key_Space:
        return 0;
    case Qt::Key_BracketLeft:
        return 0x1b;
    case Qt::Key_Backslash:
        return 0x1c;
    case Qt::Key_BracketRight:
        return 0x1d;
    case Qt::Key_AsciiCircum:
        return 0x1e;
    case Qt::Key_Underscore:
    case Qt::Key_Minus:
        return 0x1f;
    default:
        return -1;
    }
}
} // namespace

TerminalSession::TerminalSession(cryopod::UniqueFd master, const QString &ttyName, QObject *parent)
    : QObject(parent)
    , m_master(std::move(master))
    , m_ttyName(ttyName)
{
    if (!m_master) {
        m_running = false;
        m_error = tr("No terminal to show.");
        return;
    }
    const int flags = ::fcntl(m_master.get(), F_GETFL);
    if (flags < 0 || ::fcntl(m_master.get(), F_SETFL, flags | O_NONBLOCK) != 0 || ::fcntl(m_master.get(), F_SETFD, FD_CLOEXEC) != 0) {
        qCWarning(lcTerminal) << "terminal: cannot make the pty master non-blocking:" << errnoText(errno);
    }
    winsize size {};
    if (::ioctl(m_master.get(), TIOCGWINSZ, &size) == 0 && size.ws_col > 0 && size.ws_row > 0) {
        m_columns = size.ws_col;
        m_rows = size.ws_row;
    }
    m_readNotifier = std::make_unique<QSocketNotifier>(m_master.get(), QSocketNotifier::Read);
    connect(m_readNotifier.get(), &QSocketNotifier::activated, this, &TerminalSession::onReadable);
    m_writeNotifier = std::make_unique<QSocketNotifier>(m_master.get(), QSocketNotifier::Write);
    m_writeNotifier->setEnabled(false);
    connect(m_writeNotifier.get(), &QSocketNotifier::activated, this, &TerminalSession::onWritable);
}

TerminalSession::~TerminalSession() = default;

QString TerminalSession::text() const
{
    return m_lines.join(QLatin1Char('\n'));
}

int TerminalSession::cursorPosition() const
{
    int offset = 0;
    for (int i = 0; i < m_row && i < m_lines.size(); ++i) {
        offset += int(m_lines.at(i).size()) + 1;
    }
    return offset + std::min(m_column, int(m_lines.value(m_row).size()));
}

bool TerminalSession::isRunning() const
{
    return m_running;
}

QString TerminalSession::title() const
{
    return m_title;
}

void TerminalSession::setTitle(const QString &title)
{
    if (title != m_title) {
        m_title = title;
        Q_EMIT titleChanged();
    }
}

QString TerminalSession::ttyName() const
{
    return m_ttyName;
}

int TerminalSession::columns() const
{
    return m_columns;
}

int TerminalSession::rows() const
{
    return m_rows;
}

int TerminalSession::maxLines() const
{
    return m_maxLines;
}

void TerminalSession::setMaxLines(int lines)
{
    lines = std::max(lines, 1);
    if (lines != m_maxLines) {
        m_maxLines = lines;
        trimScrollback();
        Q_EMIT maxLinesChanged();
        Q_EMIT textChanged();
    }
}

QString TerminalSession::errorString() const
{
    return m_error;
}

QStringList TerminalSession::lines() const
{
    return m_lines;
}

void TerminalSession::sendText(const QString &text)
{
    if (!text.isEmpty()) {
        writeBytes(text.toUtf8());
    }
}

bool TerminalSession::sendKey(int key, int modifiers, const QString &text)
{
    const auto mods = Qt::KeyboardModifiers::fromInt(modifiers);
    if (mods.testFlag(Qt::ControlModifier)) {
        if (const int c = controlCharacterOf(key); c >= 0) {
            writeBytes(QByteArray(1, char(c)));
            return true;
        }
    }
    if (QByteArray sequence = sequenceOf(key); !sequence.isEmpty()) {
        if (mods.testFlag(Qt::AltModifier)) {
            sequence.prepend('\x1b');
        }
        writeBytes(sequence);
        return true;
    }
    // Text a key produced; control characters come from the cases above.
    if (text.isEmpty() || text.at(0).unicode() < 0x20 || text.at(0).unicode() == 0x7f) {
        return false;
    }
    QByteArray bytes = text.toUtf8();
    if (mods.testFlag(Qt::AltModifier)) {
        bytes.prepend('\x1b');
    }
    writeBytes(bytes);
    return true;
}

void TerminalSession::setWindowSize(int columns, int rows)
{
    if (columns < 1 || rows < 1 || columns > 0xffff || rows > 0xffff || (columns == m_columns && rows == m_rows)) {
        return;
    }
    m_columns = columns;
    m_rows = rows;
    if (m_master) {
        winsize size {};
        size.ws_col = static_cast<unsigned short>(columns);
        size.ws_row = static_cast<unsigned short>(rows);
        if (::ioctl(m_master.get(), TIOCSWINSZ, &size) != 0) {
            setError(tr("Cannot set the terminal's size: %1").arg(errnoText(errno)));
        }
    }
    Q_EMIT windowSizeChanged();
}

void TerminalSession::clear()
{
    m_lines = QStringList {QString()};
    m_row = m_column = m_savedRow = m_savedColumn = 0;
    Q_EMIT textChanged();
}

void TerminalSession::close()
{
    if (m_master) {
        ended();
    }
}

void TerminalSession::onReadable()
{
    char buffer[16384];
    int budget = kReadBudget;
    bool changed = false;
    while (m_master && budget > 0) {
        const ssize_t n = ::read(m_master.get(), buffer, sizeof buffer);
        if (n > 0) {
            const QString chunk = m_decoder.decode(QByteArrayView(buffer, n));
            feed(chunk);
            budget -= int(n);
            changed = true;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            break;
        }
        // 0 or EIO: no slave is open any more (the program has gone).
        if (n < 0 && errno != EIO) {
            setError(tr("Cannot read the terminal: %1").arg(errnoText(errno)));
        }
        if (changed) {
            Q_EMIT textChanged();
            changed = false;
        }
        ended();
    }
    if (changed) {
        Q_EMIT textChanged();
    }
}

void TerminalSession::onWritable()
{
    flushPending();
}

void TerminalSession::writeBytes(const QByteArray &bytes)
{
    if (!m_master) {
        setError(tr("The program no longer runs on this terminal: nothing was sent."));
        return;
    }
    m_pending += bytes;
    flushPending();
}

void TerminalSession::flushPending()
{
    while (m_master && !m_pending.isEmpty()) {
        const ssize_t n = ::write(m_master.get(), m_pending.constData(), size_t(m_pending.size()));
        if (n > 0) {
            m_pending.remove(0, n);
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno == EAGAIN) {
            m_writeNotifier->setEnabled(true); // the pty's input queue is full: when it has room
            return;
        }
        setError(tr("Cannot write to the terminal: %1").arg(errnoText(errno)));
        m_pending.clear();
        break;
    }
    if (m_writeNotifier) {
        m_writeNotifier->setEnabled(false);
    }
}

void TerminalSession::ended()
{
    // Called from the notifiers' own signals: they go later, the fd now.
    for (auto *notifier : {&m_readNotifier, &m_writeNotifier}) {
        if (*notifier) {
            (*notifier)->setEnabled(false);
            notifier->release()->deleteLater();
        }
    }
    m_master.reset();
    m_pending.clear();
    if (m_running) {
        m_running = false;
        Q_EMIT runningChanged();
        Q_EMIT finished();
    }
}

void TerminalSession::setError(const QString &message)
{
    if (message != m_error) {
        m_error = message;
        qCWarning(lcTerminal) << "terminal:" << message;
        Q_EMIT errorStringChanged();
    }
}

QString &TerminalSession::currentLine()
{
    return m_lines[m_row];
}

int TerminalSession::screenTop() const
{
    return std::max(0, int(m_lines.size()) - m_rows);
}

void TerminalSession::trimScrollback()
{
    const int excess = int(m_lines.size()) - m_maxLines;
    if (excess > 0) {
        m_lines.remove(0, excess);
        m_row = std::max(0, m_row - excess);
        m_savedRow = std::max(0, m_savedRow - excess);
    }
}

void TerminalSession::lineFeed()
{
    ++m_row;
    if (m_row >= m_lines.size()) {
        m_lines.append(QString());
        m_row = int(m_lines.size()) - 1;
        trimScrollback();
    }
}

void TerminalSession::putChar(QChar c)
{
    if (m_column >= m_columns) { // auto-wrap at the right margin
        lineFeed();
        m_column = 0;
    }
    QString &line = currentLine();
    if (line.size() < m_column) {
        line.append(QString(m_column - line.size(), QLatin1Char(' ')));
    }
    if (m_column < line.size()) {
        line[m_column] = c;
    } else {
        line.append(c);
    }
    ++m_column;
}

void TerminalSession::feed(QStringView chars)
{
    for (const QChar c : chars) {
        const char16_t u = c.unicode();
        switch (m_state) {
        case State::Text:
            if (u == 0x1b) {
                m_state = State::Escape;
            } else if (u == '\r') {
                m_column = 0;
            } else if (u == '\n' || u == 0x0b || u == 0x0c) {
                lineFeed();
            } else if (u == '\b') {
                m_column = std::max(0, std::min(m_column, m_columns) - 1);
            } else if (u == '\t') {
                m_column = std::min(m_columns - 1, (m_column / 8 + 1) * 8);
            } else if (u >= 0x20 && u != 0x7f && !(u >= 0x80 && u < 0xa0)) {
                putChar(c);
            } // other control characters (BEL, SO/SI, C1) show nothing
            break;
        case State::Escape:
            m_state = State::Text;
            if (u == '[') {
                m_params.clear();
                m_state = State::Csi;
            } else if (u == ']') {
                m_state = State::Osc;
            } else if (u == '(' || u == ')' || u == '*' || u == '+' || u == '#' || u == '%') {
                m_state = State::EscapeIntermediate; // a character set: one more character
            } else if (u == '7') {
                m_savedRow = m_row;
                m_savedColumn = m_column;
            } else if (u == '8') {
                m_row = std::min(m_savedRow, int(m_lines.size()) - 1);
                m_column = m_savedColumn;
            } else if (u == 'D') {
                lineFeed();
            } else if (u == 'E') {
                lineFeed();
                m_column = 0;
            } else if (u == 'M') {
                m_row = std::max(screenTop(), m_row - 1);
            } else if (u == 'c') {
                clear();
            } // '=', '>' (keypad modes) and the rest: nothing to show
            break;
        case State::EscapeIntermediate:
            m_state = State::Text;
            break;
        case State::Csi:
            if (u >= 0x40 && u <= 0x7e) {
                m_state = State::Text;
                csi(c);
            } else if (u == 0x1b) {
                m_state = State::Escape;
            } else if (u >= 0x20 && u < 0x40 && m_params.size() < 64) {
                m_params.append(c);
            } else if (u == 0x18 || u == 0x1a) {
                m_state = State::Text; // CAN/SUB abort it
            }
            break;
        case State::Osc: // a title or other string: dropped
            if (u == 0x07) {
                m_state = State::Text;
            } else if (u == 0x1b) {
                m_state = State::OscEscape;
            }
            break;
        case State::OscEscape:
            m_state = u == '\\' ? State::Text : State::Osc;
            break;
        }
    }
}

void TerminalSession::csi(QChar final)
{
    if (!m_params.isEmpty() && !m_params.at(0).isDigit() && m_params.at(0) != QLatin1Char(';')) {
        return; // private (DEC modes, xterm queries): nothing to show
    }
    QList<int> p;
    for (const QStringView part : QStringView(m_params).split(QLatin1Char(';'))) {
        p.append(part.toInt());
    }
    const int p0 = p.value(0);
    const int n = std::max(1, p0);
    QString &line = currentLine();
    switch (final.unicode()) {
    case 'A':
        m_row = std::max(screenTop(), m_row - n);
        break;
    case 'B':
        m_row = std::min(int(m_lines.size()) - 1, m_row + n);
        break;
    case 'C':
        m_column = std::min(m_columns - 1, m_column + n);
        break;
    case 'D':
        m_column = std::max(0, std::min(m_column, m_columns) - n);
        break;
    case 'G':
    case '`':
        m_column = std::clamp(n - 1, 0, m_columns - 1);
        break;
    case 'H':
    case 'f':
    case 'd': {
        const int target = screenTop() + std::clamp(n, 1, m_rows) - 1;
        while (m_lines.size() <= target) {
            m_lines.append(QString());
        }
        m_row = target;
        if (final != QLatin1Char('d')) {
            m_column = std::clamp(std::max(1, p.value(1)), 1, m_columns) - 1;
        }
        break;
    }
    case 'K':
        if (p0 == 0) {
            line.truncate(m_column);
        } else if (p0 == 1) {
            line.replace(0, std::min(int(line.size()), m_column + 1), QString(std::min(int(line.size()), m_column + 1), QLatin1Char(' ')));
        } else {
            line.clear();
        }
        break;
    case 'J':
        if (p0 == 0) {
            line.truncate(m_column);
            m_lines.resize(m_row + 1);
        } else if (p0 == 1 || p0 == 2) {
            const int last = p0 == 1 ? m_row - 1 : int(m_lines.size()) - 1;
            for (int row = screenTop(); row <= last; ++row) {
                m_lines[row].clear();
            }
            if (p0 == 1) {
                currentLine().replace(0, std::min(int(currentLine().size()), m_column + 1),
                                      QString(std::min(int(currentLine().size()), m_column + 1), QLatin1Char(' ')));
            }
        } else if (p0 == 3) { // the scrollback
            const int top = screenTop();
            m_lines.remove(0, top);
            m_row = std::max(0, m_row - top);
            m_savedRow = std::max(0, m_savedRow - top);
        }
        break;
    case 'P':
        if (m_column < line.size()) {
            line.remove(m_column, n);
        }
        break;
    case '@':
        if (m_column < line.size()) {
            line.insert(m_column, QString(n, QLatin1Char(' ')));
            line.truncate(m_columns);
        }
        break;
    case 'X':
        if (m_column < line.size()) {
            const int count = std::min(n, int(line.size()) - m_column);
            line.replace(m_column, count, QString(count, QLatin1Char(' ')));
        }
        break;
    case 's':
        m_savedRow = m_row;
        m_savedColumn = m_column;
        break;
    case 'u':
        m_row = std::min(m_savedRow, int(m_lines.size()) - 1);
        m_column = m_savedColumn;
        break;
    case 'n':
        if (p0 == 6) { // where is the cursor: the program waits for the answer
            writeBytes(QStringLiteral("\x1b[%1;%2R").arg(m_row - screenTop() + 1).arg(m_column + 1).toLatin1());
        } else if (p0 == 5) {
            writeBytes(QByteArrayLiteral("\x1b[0n"));
        }
        break;
    default: // SGR (colours), modes, scrolling regions: nothing to show
        break;
    }
}
