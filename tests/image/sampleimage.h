// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Test helpers for the image library: a complete image with non-trivial
// values in every record, in-memory streams, and the wire framing (to cut,
// flip and re-checksum sections the way a hostile image would).
#pragma once

#include "imagereader.h"
#include "imagewriter.h"
#include "records.h"

#include <cstdint>
#include <string>
#include <vector>

namespace cryopod::image::test
{

struct SampleImage {
    Header header;
    ProcessTreeRecord tree;
    std::vector<TaskRecord> tasks;
    std::vector<CredsRecord> creds;
    std::vector<SignalsRecord> signals;
    std::vector<TimersRecord> timers;
    std::vector<FileObjectRecord> fileObjects; // by ownerPid
    std::vector<TerminalRecord> terminals; // before the root's Files record
    std::vector<FilesRecord> files;
    std::vector<FileDataRecord> fileData;
    std::vector<ThreadRecord> threads;
    std::vector<MmRecord> mms;
    std::vector<PagesRecord> pages;
    // Empty in make(): before every process's records, in this order.
    std::vector<SharedMemoryRecord> sharedMemory;
    std::vector<SysvIpcRecord> sysvIpc;

    // Two processes (the root with two threads, a child with one), every
    // record kind (the root's Timers and its pipe, eventfd and epoll set), pagesPerProcess pages of mixed random and text data in
    // several runs and sections per process.
    static SampleImage make(uint32_t pagesPerProcess = 24);
    // Writes every record in the documented natural order.
    Result<void> write(ImageWriter &writer) const;
    // All sections in that order (End not included).
    std::vector<Section> sections() const;
};

// Format 7's SysV objects: a segment of 2 pages + 100 bytes (id 32769) whose
// memory is SharedMemory record 4 (kind SysvShm, page 1 saved), a message
// queue with two messages and a set of three semaphores.
struct SysvSample {
    SharedMemoryRecord memory;
    SysvIpcRecord segment;
    SysvIpcRecord queue;
    SysvIpcRecord set;
};
SysvSample sysvSample();

// Fills `out` with n bytes: the first half random, the second text-like.
void fillMixed(uint8_t *out, size_t n, uint64_t seed);

// A memfd holding bytes, positioned at 0. Caller closes.
int memfdWith(const std::vector<uint8_t> &bytes);
// Writes the sample through an ImageWriter into memory.
std::vector<uint8_t> writeToBytes(const SampleImage &sample, const WriterOptions &options = {});
// Reads a whole image from bytes; returns the sections (End included) or the error.
Result<std::vector<Section>> readAll(const std::vector<uint8_t> &bytes, const ReaderLimits &limits = {});
// The message of a read that must fail ("" when it did not fail).
std::string readError(const std::vector<uint8_t> &bytes, const ReaderLimits &limits = {});

// The stream as the wire sees it.
struct WireSection {
    size_t offset = 0; // of the frame header
    size_t size = 0; // frame header + payload + checksum
    uint32_t type = 0;
    uint32_t flags = 0;
    uint64_t payloadLength = 0;
    uint64_t rawLength = 0;
};
struct Wire {
    size_t headerSize = 0;
    std::vector<WireSection> sections; // End included
};
Wire parseWire(const std::vector<uint8_t> &bytes);
// Recomputes the checksum of a section (after the test edited it).
void rechecksum(std::vector<uint8_t> &bytes, const WireSection &section);
void rechecksumHeader(std::vector<uint8_t> &bytes, size_t headerSize);
// A complete frame (header, payload, checksum).
std::vector<uint8_t> frame(uint32_t type, uint32_t flags, const std::vector<uint8_t> &payload, uint64_t rawLength);
// Field-encoded payload of a record, as the writer would produce it (no validation).
template<typename Record>
std::vector<uint8_t> fields(const Record &record);
std::vector<uint8_t> sectionBytes(const Section &section);
// Header bytes + the given sections' bytes + an End record with matching counts.
std::vector<uint8_t> assemble(const std::vector<uint8_t> &headerBytes, const std::vector<std::vector<uint8_t>> &sections, bool withEnd = true);

void storeU32(uint8_t *at, uint32_t v);
void storeU64(uint8_t *at, uint64_t v);

} // namespace cryopod::image::test
