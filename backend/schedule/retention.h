// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Which snapshots of a schedule a retention policy keeps. A pure function:
// no store, no clock, no time zone of its own (the caller says how an
// instant falls into hours, days, weeks and months), so that it is tested
// exhaustively on synthetic timelines and the GUI previews exactly what the
// runner will do.
//
// The rules, each choosing on its own (a snapshot is kept when any rule
// chooses it):
//   last N     the N newest snapshots
//   hourly H   the newest snapshot of each of the H newest hours that have a
//              snapshot (likewise daily D, weekly W (ISO weeks, Monday to
//              Sunday), monthly M)
//   pinned     always kept
// A policy without any count (all of N, H, D, W, M zero) keeps everything:
// retention is off, only the size cap applies.
// Size cap: while the kept snapshots plus the bytes the caller counts
// besides them (fixedBytes: the target's snapshots that are not this
// schedule's) exceed the cap, the oldest kept snapshot that is neither
// pinned nor the newest is dropped. The newest snapshot is never dropped for
// the cap: a cap smaller than one snapshot leaves it and says overCap.
// Ties (the same creation time) are broken by id: the higher id is newer.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

namespace cryopod::schedule
{

struct RetentionPolicy {
    int keepLast = 0;
    int hourly = 0;
    int daily = 0;
    int weekly = 0;
    int monthly = 0;
    uint64_t maxBytes = 0; // 0: no cap

    bool keepsAll() const
    {
        return keepLast <= 0 && hourly <= 0 && daily <= 0 && weekly <= 0 && monthly <= 0;
    }
    bool operator==(const RetentionPolicy &) const = default;
};

struct RetentionItem {
    int64_t id = 0;
    int64_t createdAtNs = 0;
    uint64_t bytes = 0; // what the snapshot costs the store
    bool pinned = false;
};

// Why a snapshot is kept (or, for SizeCap, why it is not).
enum RetentionReason : unsigned {
    KeptAll = 1u << 0, // the policy keeps everything
    KeptLast = 1u << 1,
    KeptHourly = 1u << 2,
    KeptDaily = 1u << 3,
    KeptWeekly = 1u << 4,
    KeptMonthly = 1u << 5,
    KeptPinned = 1u << 6,
    DroppedForSize = 1u << 7, // a rule chose it, the size cap removed it
};

struct RetentionVerdict {
    int64_t id = 0;
    bool keep = false;
    unsigned reasons = 0; // RetentionReason bits
};

struct RetentionResult {
    // One verdict per item, in the order of the items given.
    std::vector<RetentionVerdict> verdicts;
    uint64_t keptBytes = 0; // of the kept items (without fixedBytes)
    bool overCap = false; // still above the cap with everything droppable dropped
    std::vector<int64_t> removed() const;
    std::vector<int64_t> kept() const;
};

// The calendar periods an instant falls into, as numbers that are equal for
// two instants exactly when they share the period.
struct Periods {
    int64_t hour = 0;
    int64_t day = 0;
    int64_t week = 0; // ISO week: days from the epoch of its Monday
    int64_t month = 0; // year * 12 + month - 1
};
using PeriodsOf = std::function<Periods(int64_t unixNs)>;

// Periods at a fixed offset from UTC (seconds east): for tests and UTC.
PeriodsOf fixedOffsetPeriods(int64_t utcOffsetSeconds = 0);
// Periods in the local time zone (localtime_r, daylight saving included).
PeriodsOf localPeriods();

RetentionResult applyRetention(std::span<const RetentionItem> items, const RetentionPolicy &policy, const PeriodsOf &periodsOf, uint64_t fixedBytes = 0);

// "last 5, 24 hourly, 7 daily, cap 2.0 GiB" / "keep all"
std::string describe(const RetentionPolicy &policy);
// "last, hourly, pinned"
std::string describeReasons(unsigned reasons);

} // namespace cryopod::schedule
