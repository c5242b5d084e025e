// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The field layout of every record (docs/image-format.md, "Records"), in one
// place: encode() and decode() of a record list the same fields in the same
// order. decode() only checks what the encoding itself implies (lengths,
// counts, booleans, NUL-free strings); ImageValidator checks the meaning.
// Pages and FileData sections carry bulk bytes after their field block; the
// field block ends with the bulk length and the caller handles the bulk.
#pragma once

#include "decoder.h"
#include "encoder.h"
#include "records.h"

#include <span>

namespace cryopod::image
{

// Largest fpregs / xstate blobs the format accepts.
inline constexpr uint32_t kFpregsBytes = 512;
inline constexpr uint32_t kMaxXstateBytes = 64 * 1024;

class RecordCodec
{
public:
    static void encode(Encoder &e, const Header &header); // the header's field block
    static void encode(Encoder &e, const ProcessTreeRecord &record);
    static void encode(Encoder &e, const TaskRecord &record);
    static void encode(Encoder &e, const ThreadRecord &record);
    static void encode(Encoder &e, const CredsRecord &record);
    static void encode(Encoder &e, const SignalsRecord &record);
    static void encode(Encoder &e, const MmRecord &record);
    static void encode(Encoder &e, const FilesRecord &record);
    static void encode(Encoder &e, const FileObjectRecord &record);
    static void encode(Encoder &e, const TimersRecord &record);
    static void encode(Encoder &e, const TerminalRecord &record);
    static void encode(Encoder &e, const SharedMemoryRecord &record);
    static void encode(Encoder &e, const SysvIpcRecord &record);
    static void encode(Encoder &e, const EndRecord &record);
    // Field blocks of the bulk records; the bulk data follows on the wire.
    static void encodePagesFields(Encoder &e, int32_t pid, std::span<const PageRun> runs, uint64_t dataLength);
    static void encodeFileDataFields(Encoder &e, int32_t pid, int32_t fd, uint64_t dataLength);

    static void decode(Decoder &d, Header &header);
    static void decode(Decoder &d, ProcessTreeRecord &record);
    static void decode(Decoder &d, TaskRecord &record);
    static void decode(Decoder &d, ThreadRecord &record);
    static void decode(Decoder &d, CredsRecord &record);
    static void decode(Decoder &d, SignalsRecord &record);
    static void decode(Decoder &d, MmRecord &record);
    static void decode(Decoder &d, FilesRecord &record);
    static void decode(Decoder &d, FileObjectRecord &record);
    static void decode(Decoder &d, TimersRecord &record);
    static void decode(Decoder &d, TerminalRecord &record);
    static void decode(Decoder &d, SharedMemoryRecord &record);
    static void decode(Decoder &d, SysvIpcRecord &record);
    static void decode(Decoder &d, EndRecord &record);
    // Leaves record.data empty and returns the bulk length.
    static uint64_t decodePagesFields(Decoder &d, PagesRecord &record);
    static uint64_t decodeFileDataFields(Decoder &d, FileDataRecord &record);
};

} // namespace cryopod::image
