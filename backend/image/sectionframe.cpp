// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers

#include "sectionframe.h"

#include "decoder.h"
#include "encoder.h"

#include <cstdio>

namespace cryopod::image
{

void SectionFrame::store(uint8_t *at) const
{
    Encoder::putU32(at, type);
    Encoder::putU32(at + 4, flags);
    Encoder::putU64(at + 8, payloadLength);
    Encoder::putU64(at + 16, rawLength);
}

SectionFrame SectionFrame::load(const uint8_t *at)
{
    return SectionFrame {loadU32(at), loadU32(at + 4), loadU64(at + 8), loadU64(at + 16)};
}

const char *sectionTypeName(uint32_t type)
{
    switch (SectionType(type)) {
    case SectionType::ProcessTree:
        return "ProcessTree";
    case SectionType::Task:
        return "Task";
    case SectionType::Thread:
        return "Thread";
    case SectionType::Creds:
        return "Creds";
    case SectionType::Signals:
        return "Signals";
    case SectionType::Mm:
        return "Mm";
    case SectionType::Files:
        return "Files";
    case SectionType::FileData:
        return "FileData";
    case SectionType::FileObject:
        return "FileObject";
    case SectionType::Timers:
        return "Timers";
    case SectionType::Terminal:
        return "Terminal";
    case SectionType::SharedMemory:
        return "SharedMemory";
    case SectionType::SysvIpc:
        return "SysvIpc";
    case SectionType::Pages:
        return "Pages";
    case SectionType::End:
        return "End";
    }
    return nullptr;
}

std::string describeSectionType(uint32_t type)
{
    if (const char *name = sectionTypeName(type)) {
        return name;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, "type 0x%x", type);
    return buf;
}

} // namespace cryopod::image
