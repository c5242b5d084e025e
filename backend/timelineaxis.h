// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// TimelineAxis: the timeline's time axis. It is a proxy of a TimelineModel
// (same rows, same roles) that adds where each snapshot sits on the axis
// (axisX, pixels from the left edge, and onAxis), and it owns the view: the
// visible range [viewStart, viewStart + viewSpan), zoomable from one hour
// to a year, and the ticks to draw for it (aligned to minutes, hours, days
// or calendar months, labelled for the scale). The QML only draws what it
// gets here.
#pragma once

#include <QDateTime>
#include <QIdentityProxyModel>
#include <QVariantList>
#include <QtQmlIntegration>

class TimelineAxis : public QIdentityProxyModel
{
    Q_OBJECT
    QML_ELEMENT

    // A TimelineModel (or any model with its createdAt role).
    Q_PROPERTY(QAbstractItemModel *timeline READ timeline WRITE setTimeline NOTIFY timelineChanged)
    // The axis's length in pixels.
    Q_PROPERTY(qreal width READ width WRITE setWidth NOTIFY viewChanged)
    // The visible range, in ms since the epoch.
    Q_PROPERTY(qint64 viewStart READ viewStart NOTIFY viewChanged)
    Q_PROPERTY(qint64 viewSpan READ viewSpan NOTIFY viewChanged)
    // The ticks of the visible range: a list of {x, label, major}.
    Q_PROPERTY(QVariantList ticks READ ticks NOTIFY viewChanged)
    // "3 hours", "2 weeks": how much time the axis shows.
    Q_PROPERTY(QString spanText READ spanText NOTIFY viewChanged)
    Q_PROPERTY(bool canZoomIn READ canZoomIn NOTIFY viewChanged)
    Q_PROPERTY(bool canZoomOut READ canZoomOut NOTIFY viewChanged)

public:
    enum Role {
        AxisXRole = Qt::UserRole + 1000, // the snapshot's x on the axis (may be outside [0, width))
        OnAxisRole, // whether it is within the visible range
    };
    Q_ENUM(Role)

    static constexpr qint64 kMinute = 60 * 1000;
    static constexpr qint64 kHour = 60 * kMinute;
    static constexpr qint64 kDay = 24 * kHour;
    static constexpr qint64 kMinSpan = kHour;
    static constexpr qint64 kMaxSpan = 366 * kDay;
    // Ticks are at least this far apart.
    static constexpr qreal kMinTickSpacing = 70;

    struct Tick {
        qint64 timeMs = 0;
        qreal x = 0;
        QString label;
        bool major = false; // the first of a day (or of a year on a month scale)
    };

    explicit TimelineAxis(QObject *parent = nullptr);

    QAbstractItemModel *timeline() const;
    void setTimeline(QAbstractItemModel *model);
    qreal width() const;
    void setWidth(qreal width);
    qint64 viewStart() const;
    qint64 viewSpan() const;
    QVariantList ticks() const;
    QString spanText() const;
    bool canZoomIn() const;
    bool canZoomOut() const;

    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QHash<int, QByteArray> roleNames() const override;

    // Shows [startMs, startMs + spanMs), the span clamped to one hour..a year.
    Q_INVOKABLE void setView(qint64 startMs, qint64 spanMs);
    // Zooms by factor (> 1: in) keeping the time under x where it is.
    Q_INVOKABLE void zoomAt(qreal factor, qreal x);
    // Zooms by factor about the middle (keyboard).
    Q_INVOKABLE void zoom(qreal factor);
    // Moves the view by dx pixels (> 0: later).
    Q_INVOKABLE void pan(qreal dx);
    // Shows every snapshot (or the last hour when there is none).
    Q_INVOKABLE void fit();
    // Moves the view (without zooming) so that row is within it.
    Q_INVOKABLE void ensureVisible(int row);
    // The row of the snapshot nearest to x within maxDistance pixels, -1 if none.
    Q_INVOKABLE int rowAt(qreal x, qreal maxDistance) const;

    qreal xOf(qint64 timeMs) const;
    qint64 timeAt(qreal x) const;
    qint64 timeOfRow(int row) const;
    // The ticks of the view, computed (ticks() is this as QVariants).
    QList<Tick> tickList() const;
    // The step between ticks: the smallest of 1, 5, 15, 30 min, 1, 3, 6, 12 h,
    // 1, 2, 7 days, 1, 3 months (in ms, a month as 30 days) at least
    // kMinTickSpacing apart.
    qint64 tickStep() const;

Q_SIGNALS:
    void timelineChanged();
    void viewChanged();

private:
    void onViewChanged();
    int createdAtRole() const;

    qreal m_width = 600;
    qint64 m_start = 0;
    qint64 m_span = 7 * kDay;
    bool m_fitted = false;
};
