// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The main pages (Processes, Timeline, Schedules, Settings, About) in the
// real window under a dark color scheme (Breeze Dark in kdeglobals, the KDE
// platform theme) or at 200 % (QT_SCALE_FACTOR=2 on a 2560x1600 screen),
// as CRYOPOD_THEME_TEST ("dark" or "scale2") says. From the grabbed image of
// each page: every text shown stands out from what is behind it (contrast
// of its drawn color against the pixels around it), the dark scheme is
// dark, and no text is cut off (elided outside lists, or past the window's
// edge). Screenshots of each page go to <build>/screenshots/.

#include <QFile>
#include <QImage>
#include <QPalette>
#include <QQmlApplicationEngine>

#include "guitestsupport.h" // after Qt's headers (xvfbserver.h)

#include <cmath>

using namespace GuiTest;

namespace
{
QString mode()
{
    return qEnvironmentVariable("CRYOPOD_THEME_TEST", QStringLiteral("dark"));
}

double channel(double c)
{
    return c <= 0.03928 ? c / 12.92 : std::pow((c + 0.055) / 1.055, 2.4);
}

// WCAG relative luminance and contrast ratio.
double luminance(const QColor &color)
{
    return 0.2126 * channel(color.redF()) + 0.7152 * channel(color.greenF()) + 0.0722 * channel(color.blueF());
}

double contrast(const QColor &a, const QColor &b)
{
    const double la = luminance(a);
    const double lb = luminance(b);
    return (std::max(la, lb) + 0.05) / (std::min(la, lb) + 0.05);
}

QColor blend(const QColor &top, const QColor &bottom, double alpha)
{
    return QColor::fromRgbF(float(top.redF() * alpha + bottom.redF() * (1 - alpha)), float(top.greenF() * alpha + bottom.greenF() * (1 - alpha)),
                            float(top.blueF() * alpha + bottom.blueF() * (1 - alpha)));
}

// Inside something that scrolls or elides by design (a list's rows).
bool inScrollingView(const QQuickItem *item)
{
    for (const QQuickItem *p = item->parentItem(); p; p = p->parentItem()) {
        if (p->inherits("QQuickFlickable")) {
            return true;
        }
    }
    return false;
}

void collectTexts(QQuickItem *item, QList<QQuickItem *> &texts)
{
    if (!item->isVisible() || effectiveOpacity(item) < 0.05) {
        return;
    }
    if (item->inherits("QQuickText") && !item->property("text").toString().trimmed().isEmpty()) {
        texts.append(item);
    }
    for (QQuickItem *child : item->childItems()) {
        collectTexts(child, texts);
    }
}
} // namespace

class ThemeScaleTest : public WindowTest
{
    Q_OBJECT

    void showPage(const char *action, const QString &objectName)
    {
        if (action) {
            QObject *trigger = m_window->findChild<QObject *>(QString::fromLatin1(action));
            QVERIFY(trigger);
            QMetaObject::invokeMethod(trigger, "trigger");
        }
        QTRY_VERIFY_WITH_TIMEOUT(layersIdle(m_window), kTimeout);
        QTRY_VERIFY_WITH_TIMEOUT(findItem(m_window->contentItem(), objectName) && findItem(m_window->contentItem(), objectName)->isVisible(), kTimeout);
        movePointerAway(m_window);
        QVERIFY(waitForFrame(m_window));
        QVERIFY(waitForFrame(m_window));
    }

    // The checks on what the window shows now; name for the screenshot.
    void checkPage(const QString &name)
    {
        const QImage image = m_window->grabWindow().convertToFormat(QImage::Format_RGB32);
        QVERIFY(!image.isNull());
        QVERIFY(image.save(QStringLiteral(CRYOPOD_SCREENSHOT_DIR "/") + mode() + QLatin1Char('-') + name + QStringLiteral(".png")));
        const qreal dpr = m_window->effectiveDevicePixelRatio();
        if (mode() == QLatin1String("scale2")) {
            QCOMPARE(dpr, 2.0);
            QCOMPARE(image.width(), int(m_window->width() * 2));
        }
        if (mode() == QLatin1String("dark")) {
            // Mostly dark: the mean luminance of the page.
            double sum = 0;
            int n = 0;
            for (int y = 0; y < image.height(); y += 8) {
                for (int x = 0; x < image.width(); x += 8) {
                    sum += luminance(QColor(image.pixel(x, y)));
                    ++n;
                }
            }
            QVERIFY2(sum / n < 0.1, qPrintable(QStringLiteral("mean luminance %1").arg(sum / n)));
        }

        QList<QQuickItem *> texts;
        collectTexts(m_window->contentItem(), texts);
        QVERIFY(texts.size() > 3);
        const QRectF window(0, 0, m_window->width(), m_window->height());
        QStringList problems;
        int checked = 0;
        for (QQuickItem *text : std::as_const(texts)) {
            const QRectF rect = text->mapRectToScene(QRectF(0, 0, text->width(), text->height()));
            if (!rect.intersects(window) || rect.width() < 2 || rect.height() < 2) {
                continue;
            }
            const QString what =
                QStringLiteral("\"%1\" (%2)").arg(text->property("text").toString().left(40), QString::fromLatin1(text->metaObject()->className()));
            const bool scrolling = inScrollingView(text);
            // Cut off: elided where nothing scrolls, or past the window.
            if (!scrolling && text->property("truncated").toBool()) {
                problems.append(QStringLiteral("elided: ") + what);
            }
            if (!scrolling && (rect.right() > window.right() + 1 || rect.bottom() > window.bottom() + 1 || rect.left() < -1)) {
                problems.append(QStringLiteral("past the window's edge: ") + what);
            }
            if (!text->isEnabled()) {
                continue; // disabled text is faint by design
            }
            // The background: the pixels at the corners of the text's box
            // (just outside it), the most common one.
            QHash<QRgb, int> corners;
            const QRectF px(rect.x() * dpr, rect.y() * dpr, rect.width() * dpr, rect.height() * dpr);
            for (const QPointF &p :
                 {px.topLeft() + QPointF(-1, -1), px.topRight() + QPointF(1, -1), px.bottomLeft() + QPointF(-1, 1), px.bottomRight() + QPointF(1, 1)}) {
                const QPoint at = p.toPoint();
                if (image.rect().contains(at)) {
                    ++corners[image.pixel(at)];
                }
            }
            if (corners.isEmpty()) {
                continue;
            }
            QRgb background = corners.constBegin().key();
            for (auto it = corners.constBegin(); it != corners.constEnd(); ++it) {
                if (it.value() > corners.value(background)) {
                    background = it.key();
                }
            }
            const QColor color = text->property("color").value<QColor>();
            const QColor drawn = blend(color, QColor(background), color.alphaF() * effectiveOpacity(text));
            const double ratio = contrast(drawn, QColor(background));
            ++checked;
            // 3:1, WCAG's minimum for large text; secondary text (opacity
            // 0.7) on Breeze reaches about 4.
            if (ratio < 3.0) {
                problems.append(QStringLiteral("contrast %1:1 of %2 on %3: %4").arg(ratio, 0, 'f', 2).arg(drawn.name(), QColor(background).name(), what));
            }
        }
        QVERIFY(checked > 3);
        QVERIFY2(problems.isEmpty(), qPrintable(problems.join(QLatin1Char('\n'))));
    }

private Q_SLOTS:
    void initTestCase()
    {
        QVERIFY(startFixture(false));
        QVERIFY(openWindow());
        if (mode() == QLatin1String("dark")) {
            // The scheme reached the app: a dark window color.
            QVERIFY2(QGuiApplication::palette().color(QPalette::Window).lightness() < 100,
                     qPrintable(QGuiApplication::palette().color(QPalette::Window).name()));
        }
    }

    void cleanupTestCase()
    {
        endFixture();
    }

    void processesPage()
    {
        QObject *model = m_window->findChild<QObject *>(QStringLiteral("processModel"));
        QVERIFY(model);
        QTRY_VERIFY_WITH_TIMEOUT(!model->property("loading").toBool(), kTimeout);
        model->setProperty("refreshInterval", 0); // the same rows in the image and the checks
        showPage(nullptr, QStringLiteral("processTree"));
        checkPage(QStringLiteral("processes"));
    }

    void timelinePage()
    {
        showPage("timelineDrawerAction", QStringLiteral("timelinePage"));
        checkPage(QStringLiteral("timeline"));
    }

    void schedulesPage()
    {
        showPage("schedulesDrawerAction", QStringLiteral("schedulesPage"));
        checkPage(QStringLiteral("schedules"));
    }

    void settingsPage()
    {
        showPage("settingsAction", QStringLiteral("settingsPage"));
        checkPage(QStringLiteral("settings"));
    }

    void aboutPage()
    {
        showPage("aboutAction", QStringLiteral("aboutPage"));
        checkPage(QStringLiteral("about"));
    }

    void noQmlWarnings()
    {
        QVERIFY2(qmlWarnings().isEmpty(), qPrintable(qmlWarnings().join(QLatin1Char('\n'))));
    }
};

int main(int argc, char **argv)
{
    if (mode() == QLatin1String("scale2")) {
        qputenv("QT_SCALE_FACTOR", "2");
        return runGuiTest<ThemeScaleTest>(argc, argv, {}, 2560, 1600);
    }
    return runGuiTest<ThemeScaleTest>(argc, argv, [](const QString &config) {
        // Breeze Dark as the user's scheme, through KDE's platform theme.
        QFile::remove(config + QStringLiteral("/kdeglobals"));
        if (!QFile::copy(QStringLiteral("/usr/share/color-schemes/BreezeDark.colors"), config + QStringLiteral("/kdeglobals"))) {
            qWarning("no /usr/share/color-schemes/BreezeDark.colors");
            return false;
        }
        qputenv("QT_QPA_PLATFORMTHEME", "kde");
        return true;
    });
}

#include "themescaletest.moc"
