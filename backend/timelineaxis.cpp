// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "timelineaxis.h"

#include <QLocale>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace
{
constexpr qint64 kMonth = 30 * TimelineAxis::kDay; // a tick step's nominal length
constexpr std::array<qint64, 14> kSteps = {
    TimelineAxis::kMinute,
    5 * TimelineAxis::kMinute,
    15 * TimelineAxis::kMinute,
    30 * TimelineAxis::kMinute,
    TimelineAxis::kHour,
    3 * TimelineAxis::kHour,
    6 * TimelineAxis::kHour,
    12 * TimelineAxis::kHour,
    TimelineAxis::kDay,
    2 * TimelineAxis::kDay,
    7 * TimelineAxis::kDay,
    kMonth,
    3 * kMonth,
    12 * kMonth,
};
} // namespace

TimelineAxis::TimelineAxis(QObject *parent)
    : QIdentityProxyModel(parent)
{
    m_start = QDateTime::currentMSecsSinceEpoch() - m_span;
    // Rows that arrive move no view, but their x is computed from it; a
    // first load shows them all.
    connect(this, &QAbstractItemModel::modelReset, this, [this] {
        m_fitted = false;
        fit();
    });
    connect(this, &QAbstractItemModel::rowsInserted, this, [this] {
        if (!m_fitted) {
            fit();
        }
    });
}

QAbstractItemModel *TimelineAxis::timeline() const
{
    return sourceModel();
}

void TimelineAxis::setTimeline(QAbstractItemModel *model)
{
    if (model == sourceModel()) {
        return;
    }
    setSourceModel(model);
    Q_EMIT timelineChanged();
}

qreal TimelineAxis::width() const
{
    return m_width;
}

void TimelineAxis::setWidth(qreal width)
{
    if (width > 0 && !qFuzzyCompare(width, m_width)) {
        m_width = width;
        onViewChanged();
    }
}

qint64 TimelineAxis::viewStart() const
{
    return m_start;
}

qint64 TimelineAxis::viewSpan() const
{
    return m_span;
}

bool TimelineAxis::canZoomIn() const
{
    return m_span > kMinSpan;
}

bool TimelineAxis::canZoomOut() const
{
    return m_span < kMaxSpan;
}

int TimelineAxis::createdAtRole() const
{
    if (!sourceModel()) {
        return -1;
    }
    return sourceModel()->roleNames().key(QByteArrayLiteral("createdAt"), -1);
}

qint64 TimelineAxis::timeOfRow(int row) const
{
    const int role = createdAtRole();
    if (role < 0 || row < 0 || row >= rowCount()) {
        return 0;
    }
    return sourceModel()->index(row, 0).data(role).toDateTime().toMSecsSinceEpoch();
}

qreal TimelineAxis::xOf(qint64 timeMs) const
{
    return qreal(timeMs - m_start) * m_width / qreal(m_span);
}

qint64 TimelineAxis::timeAt(qreal x) const
{
    return m_start + qint64(std::llround(x * qreal(m_span) / m_width));
}

QVariant TimelineAxis::data(const QModelIndex &index, int role) const
{
    if (role == AxisXRole || role == OnAxisRole) {
        if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid)) {
            return {};
        }
        const qint64 t = timeOfRow(index.row());
        if (role == AxisXRole) {
            return xOf(t);
        }
        return t >= m_start && t < m_start + m_span;
    }
    return QIdentityProxyModel::data(index, role);
}

QHash<int, QByteArray> TimelineAxis::roleNames() const
{
    QHash<int, QByteArray> names = QIdentityProxyModel::roleNames();
    names.insert(AxisXRole, "axisX");
    names.insert(OnAxisRole, "onAxis");
    return names;
}

void TimelineAxis::setView(qint64 startMs, qint64 spanMs)
{
    spanMs = std::clamp(spanMs, kMinSpan, kMaxSpan);
    if (startMs == m_start && spanMs == m_span) {
        return;
    }
    m_start = startMs;
    m_span = spanMs;
    onViewChanged();
}

void TimelineAxis::zoomAt(qreal factor, qreal x)
{
    if (!(factor > 0) || !std::isfinite(factor)) {
        return;
    }
    const qint64 anchor = timeAt(x);
    const qint64 span = std::clamp(qint64(std::llround(qreal(m_span) / factor)), kMinSpan, kMaxSpan);
    // The anchor's time stays under x.
    setView(anchor - qint64(std::llround(x * qreal(span) / m_width)), span);
}

void TimelineAxis::zoom(qreal factor)
{
    zoomAt(factor, m_width / 2);
}

void TimelineAxis::pan(qreal dx)
{
    setView(m_start + qint64(std::llround(dx * qreal(m_span) / m_width)), m_span);
}

void TimelineAxis::fit()
{
    const int rows = rowCount();
    if (rows == 0) {
        const qint64 now = QDateTime::currentMSecsSinceEpoch();
        setView(now - kHour, kHour);
        return;
    }
    qint64 first = std::numeric_limits<qint64>::max();
    qint64 last = std::numeric_limits<qint64>::min();
    for (int row = 0; row < rows; ++row) {
        const qint64 t = timeOfRow(row);
        first = std::min(first, t);
        last = std::max(last, t);
    }
    m_fitted = true;
    // A margin of a tenth of the span on each side, so that no snapshot
    // sits on the edge.
    const qint64 span = std::clamp((last - first) * 12 / 10, kMinSpan, kMaxSpan);
    setView((first + last) / 2 - span / 2, span);
}

void TimelineAxis::ensureVisible(int row)
{
    if (row < 0 || row >= rowCount()) {
        return;
    }
    const qint64 t = timeOfRow(row);
    const qint64 margin = m_span / 20;
    if (t < m_start + margin) {
        setView(t - margin, m_span);
    } else if (t >= m_start + m_span - margin) {
        setView(t + margin - m_span, m_span);
    }
}

int TimelineAxis::rowAt(qreal x, qreal maxDistance) const
{
    int best = -1;
    qreal bestDistance = maxDistance;
    for (int row = 0; row < rowCount(); ++row) {
        const qreal d = std::abs(xOf(timeOfRow(row)) - x);
        if (d <= bestDistance) {
            best = row;
            bestDistance = d;
        }
    }
    return best;
}

qint64 TimelineAxis::tickStep() const
{
    for (qint64 step : kSteps) {
        if (qreal(step) * m_width / qreal(m_span) >= kMinTickSpacing) {
            return step;
        }
    }
    return kSteps.back();
}

QList<TimelineAxis::Tick> TimelineAxis::tickList() const
{
    const qint64 step = tickStep();
    const QLocale locale;
    const qint64 end = m_start + m_span;
    QList<Tick> ticks;
    const QDateTime startTime = QDateTime::fromMSecsSinceEpoch(m_start);
    auto add = [&](const QDateTime &t, const QString &label, bool major) {
        const qint64 ms = t.toMSecsSinceEpoch();
        if (ms >= m_start && ms < end) {
            ticks.append(Tick {ms, xOf(ms), label, major});
        }
    };
    if (step < kDay) {
        // Within each day from its local midnight, so that "06:00" is 06:00
        // on a day the clocks change too.
        for (QDate day = startTime.date(); day.startOfDay().toMSecsSinceEpoch() < end; day = day.addDays(1)) {
            const QDateTime midnight = day.startOfDay();
            for (qint64 offset = 0; offset < kDay; offset += step) {
                const QDateTime t = midnight.addMSecs(offset);
                if (t.date() != day) {
                    break;
                }
                const bool major = offset == 0;
                add(t, major ? locale.toString(day, QStringLiteral("d MMM")) : locale.toString(t.time(), QStringLiteral("HH:mm")), major);
            }
        }
    } else if (step < kMonth) {
        const int days = int(step / kDay);
        QDate day = startTime.date();
        if (days == 7) {
            day = day.addDays(1 - day.dayOfWeek()); // Mondays
        }
        for (; day.startOfDay().toMSecsSinceEpoch() < end; day = day.addDays(days)) {
            const bool major = day.day() <= days; // the first of a month's ticks
            add(day.startOfDay(), major ? locale.toString(day, QStringLiteral("d MMM")) : locale.toString(day, QStringLiteral("d")), major);
        }
    } else {
        const int months = int(step / kMonth);
        QDate day(startTime.date().year(), 1, 1);
        while (day.addMonths(months).startOfDay().toMSecsSinceEpoch() <= m_start) {
            day = day.addMonths(months);
        }
        for (; day.startOfDay().toMSecsSinceEpoch() < end; day = day.addMonths(months)) {
            const bool major = day.month() == 1;
            add(day.startOfDay(), major ? locale.toString(day, QStringLiteral("yyyy")) : locale.toString(day, QStringLiteral("MMM")), major);
        }
    }
    return ticks;
}

QVariantList TimelineAxis::ticks() const
{
    QVariantList list;
    for (const Tick &tick : tickList()) {
        list.append(QVariantMap {{QStringLiteral("x"), tick.x}, {QStringLiteral("label"), tick.label}, {QStringLiteral("major"), tick.major}});
    }
    return list;
}

QString TimelineAxis::spanText() const
{
    if (m_span < 2 * kDay) {
        return tr("%n hour(s)", nullptr, int(std::lround(qreal(m_span) / kHour)));
    }
    if (m_span < 8 * 7 * kDay) {
        return tr("%n day(s)", nullptr, int(std::lround(qreal(m_span) / kDay)));
    }
    return tr("%n month(s)", nullptr, int(std::lround(qreal(m_span) / kMonth)));
}

void TimelineAxis::onViewChanged()
{
    Q_EMIT viewChanged();
    if (rowCount() > 0) {
        Q_EMIT dataChanged(index(0, 0), index(rowCount() - 1, 0), {AxisXRole, OnAxisRole});
    }
}
