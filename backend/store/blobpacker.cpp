// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "blobpacker.h"

#include "packformat.h"
#include "storefault.h"

#include <algorithm>
#include <ctime>
#include <unistd.h>

namespace cryopod::store
{

namespace
{
uint64_t threadCpuNs()
{
    timespec ts {};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return uint64_t(ts.tv_sec) * 1000000000 + uint64_t(ts.tv_nsec);
}
} // namespace

BlobPacker::BlobPacker(std::string packsDirectory, int level, size_t maxQueued, unsigned workers)
    : m_dir(std::move(packsDirectory))
    , m_level(level)
    , m_maxQueued(std::max<size_t>(maxQueued, 1))
{
    if (workers == 0) {
        workers = std::clamp(std::thread::hardware_concurrency(), 1u, 4u);
    }
    for (unsigned i = 0; i < workers; ++i) {
        m_threads.emplace_back([this] {
            run();
        });
    }
}

BlobPacker::~BlobPacker()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
    }
    m_changed.notify_all();
    for (std::thread &t : m_threads) {
        t.join();
    }
    m_threads.clear();
}

Result<void> BlobPacker::submit(std::vector<uint8_t> raw, std::vector<size_t> members)
{
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] {
        return m_queue.size() < m_maxQueued || m_error || m_stop;
    });
    if (m_error) {
        return std::unexpected(*m_error);
    }
    if (m_stop) {
        return fail("store: the blob packer was stopped");
    }
    m_queue.push_back(Job {std::move(raw), std::move(members)});
    m_changed.notify_all();
    return {};
}

std::vector<PackedBlob> BlobPacker::collect()
{
    std::lock_guard lock(m_mutex);
    return std::exchange(m_done, {});
}

Result<void> BlobPacker::finish()
{
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] {
        return (m_queue.empty() && m_busy == 0) || m_error;
    });
    if (m_error) {
        return std::unexpected(*m_error);
    }
    // every worker is idle: the open pack is ours to close
    std::lock_guard writing(m_writeMutex);
    auto closed = closePack();
    if (!closed) {
        m_error = closed.error();
    }
    return closed;
}

void BlobPacker::discard()
{
    {
        std::lock_guard lock(m_mutex);
        m_stop = true;
        m_queue.clear();
    }
    m_changed.notify_all();
    for (std::thread &t : m_threads) {
        t.join();
    }
    m_threads.clear();
    if (m_pack) {
        m_pack->discard();
        m_pack.reset();
    }
    for (const DonePack &done : m_packs) {
        ::unlink(done.path.c_str());
    }
    m_packs.clear();
}

const std::vector<DonePack> &BlobPacker::packs() const
{
    return m_packs;
}

uint64_t BlobPacker::storedBytes() const
{
    std::lock_guard lock(m_mutex);
    return m_storedBytes;
}

uint64_t BlobPacker::cpuNs() const
{
    std::lock_guard lock(m_mutex);
    return m_cpuNs;
}

Result<void> BlobPacker::closePack()
{
    if (!m_pack) {
        return {};
    }
    CRYOPOD_PROPAGATE(m_pack->finish());
    m_packs.push_back(DonePack {m_pack->name(), m_pack->path(), m_pack->size(), m_pack->rawBytes()});
    m_pack.reset();
    return {};
}

// Called with m_writeMutex held.
Result<void> BlobPacker::write(std::span<const uint8_t> blob, std::vector<size_t> &members)
{
    if (!m_pack) {
        auto created = PackWriter::create(m_dir);
        if (!created) {
            return std::unexpected(created.error());
        }
        m_pack = std::move(*created);
    }
    auto place = m_pack->appendStored(blob);
    if (!place) {
        return std::unexpected(place.error());
    }
    {
        std::lock_guard lock(m_mutex);
        m_done.push_back(PackedBlob {std::move(members), m_packs.size(), *place});
        m_storedBytes += place->bytes;
    }
    if (!m_wroteBlob) {
        m_wroteBlob = true;
        StoreFault::point("pack-written");
    }
    if (m_pack->size() >= kPackTargetBytes) {
        CRYOPOD_PROPAGATE(closePack());
        StoreFault::point("pack-synced");
    }
    return {};
}

void BlobPacker::run()
{
    BlobEncoder encoder;
    for (;;) {
        Job job;
        {
            std::unique_lock lock(m_mutex);
            m_changed.wait(lock, [&] {
                return !m_queue.empty() || m_stop;
            });
            if (m_stop) {
                return;
            }
            job = std::move(m_queue.front());
            m_queue.pop_front();
            if (m_error) {
                m_changed.notify_all();
                continue; // after a failure nothing more is written
            }
            ++m_busy;
        }
        m_changed.notify_all(); // room in the queue
        const uint64_t start = threadCpuNs();
        Result<void> ok;
        auto blob = encoder.encode(job.raw, m_level);
        if (!blob) {
            ok = std::unexpected(blob.error().context("store a blob"));
        } else {
            std::lock_guard writing(m_writeMutex);
            bool failed = false;
            {
                std::lock_guard lock(m_mutex);
                failed = m_error.has_value();
            }
            if (!failed) {
                ok = write(*blob, job.members);
            }
        }
        const uint64_t spent = threadCpuNs() - start;
        {
            std::lock_guard lock(m_mutex);
            m_cpuNs += spent;
            --m_busy;
            if (!ok && !m_error) {
                m_error = ok.error();
            }
        }
        m_changed.notify_all();
    }
}

} // namespace cryopod::store
