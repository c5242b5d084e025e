// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// How images travel between the caller's fd and the engine. The engine never
// gets the caller's fd itself: it writes into (checkpoint) or reads from
// (restore) a pipe of the helper, and a relay thread moves the bytes. That
// gives the job its progress (bytes moved) and its cancel: closing the
// helper's end of the pipe makes the engine's next write fail (EPIPE: the
// checkpoint ends, the target runs on) or its reader see a truncated image
// (the half-built process is killed), whatever the caller's fd does.
#pragma once

#include "canceltoken.h"
#include "uniquefd.h"
#include "result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

namespace ImageStream
{

// Called with the bytes moved so far, at most every 100 ms and once at the end.
using Progress = std::function<void(uint64_t bytes)>;

struct Outcome {
    uint64_t bytes = 0;
    bool cancelled = false;
    std::optional<cryopod::Error> error; // reading or writing failed
};

// Engine -> pipe -> relay thread -> the caller's fd.
class OutputRelay
{
public:
    // destination is the caller's fd (borrowed; it must outlive the relay).
    static cryopod::Result<std::unique_ptr<OutputRelay>> start(int destination, CancelToken &token, Progress progress);
    ~OutputRelay();

    int engineFd() const
    {
        return m_writeEnd.get();
    }
    // After the engine returned: closes the engine's end and waits until
    // everything written has reached the destination (or failed, or the
    // job was cancelled).
    Outcome finish();

private:
    OutputRelay(CancelToken &token, Progress progress);
    void run(int destination);

    CancelToken &m_token;
    Progress m_progress;
    cryopod::UniqueFd m_readEnd;
    cryopod::UniqueFd m_writeEnd;
    Outcome m_outcome;
    std::thread m_thread;
};

// An image held by the helper (a memfd), fed to the engine through a pipe.
class InputFeeder
{
public:
    // source: fd readable with pread (borrowed); size: bytes to feed.
    static cryopod::Result<std::unique_ptr<InputFeeder>> start(int source, uint64_t size, CancelToken &token, Progress progress);
    ~InputFeeder();

    int engineFd() const
    {
        return m_readEnd.get();
    }
    // After the engine returned: closes the engine's end (a feeder still
    // writing gets EPIPE) and waits for the feeder.
    Outcome finish();

private:
    InputFeeder(CancelToken &token, Progress progress);
    void run(int source, uint64_t size);

    CancelToken &m_token;
    Progress m_progress;
    cryopod::UniqueFd m_readEnd;
    cryopod::UniqueFd m_writeEnd;
    Outcome m_outcome;
    std::thread m_thread;
};

struct Received {
    cryopod::UniqueFd memfd; // the image, at offset 0 .. size
    uint64_t size = 0;
};

// Reads the caller's fd to its end into a new memfd (close-on-exec), in the
// calling thread; interruptible by the token. Refuses images larger than
// maxBytes (E2BIG). The copy is the helper's own: the caller cannot change
// it between the checks and the restore.
cryopod::Result<Received> receive(int source, uint64_t maxBytes, CancelToken &token, const Progress &progress);

// The largest image receive() should take: half of what memory and swap have
// available now, at least 1 GiB.
uint64_t defaultMaxImageBytes();

} // namespace ImageStream
