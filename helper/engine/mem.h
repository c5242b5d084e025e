// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// The address space of a process: its VMAs and mm fields (MmRecord) and the
// contents of the pages that need saving (PagesRecord).
//
// VmaKind::FileShared VMAs (MAP_SHARED of a file) have no pages in the image:
// the contents are the file's. Restore opens vma.path (O_RDWR when the
// original could write, kVmaMayWrite; else O_RDONLY, as glibc's
// gconv-modules.cache) and mmaps it MAP_SHARED|MAP_FIXED with vma.prot at
// vma.pgoff. Shared anonymous memory (VmaKind::SharedAnonymous) is one
// SharedMemoryRecord per object (shmem.h); mappings of deleted files stay
// refused at dump.
#pragma once

#include "engine.h"
#include "imagewriter.h"
#include "procfs.h"
#include "ptrace_inject.h"
#include "uniquefd.h"
#include "records.h"
#include "result.h"
#include "shmem.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <sys/stat.h>
#include <sys/types.h>
#include <tuple>
#include <vector>

namespace cryopod::engine
{

// ---- dump

// "7f12a000-7f12c000", as /proc/PID/maps shows a range.
std::string hexRange(uint64_t start, uint64_t end);

// What engine v1 thinks of one mapping (for the report): Ok, or Refused with
// the reason in plain words. Reads nothing but `mapping` and, for file
// mappings, /proc/PID/map_files to see whether the file is still the same.
struct MappingCheck {
    Verdict verdict = Verdict::Ok;
    std::string reason;
};
// The files the processes of a tree map, looked at once for all of them
// (processes of one program map the same libraries): for each file mapping
// (the process's root, its path, the device and inode maps shows), the stat
// of that path through the root and of the mapped file (map_files).
struct MappedFiles {
    struct Facts {
        int pathErrno = 0; // stat by path failed with it
        struct stat byPath {};
        bool mappedKnown = false; // map_files could be read (failures are not kept: they name the process)
        struct stat mapped {};
    };
    // (root dev, root inode, path, maps device, maps inode) -> facts
    std::map<std::tuple<uint64_t, uint64_t, std::string, uint64_t, uint64_t>, Facts> facts;
    std::map<pid_t, std::optional<std::pair<uint64_t, uint64_t>>> roots; // pid -> its root directory (dev, inode)
    // The stat of the file behind pid's file `mapping` (map_files) as a
    // checkMapping() with this MappedFiles saw it, or null when none did.
    const struct stat *mappedOf(pid_t pid, const procfs::Mapping &mapping) const;
};
// With `files`, what it knows of a file mapping is not looked up again
// (and what is looked up is kept there).
MappingCheck checkMapping(pid_t pid, const procfs::Mapping &mapping, MappedFiles *files = nullptr);

// The VMA kind of a mapping (FileShared/SharedAnonymous for what v1 refuses).
image::VmaKind vmaKindOf(const procfs::Mapping &mapping);

// MmRecord from the mappings (read from /proc/PID/smaps while the process was
// frozen), the mm fields of /proc/PID/stat, /proc/PID/auxv, the exe link, the
// vDSO hash, and brk (the current program break, read by an injected brk(0)).
// The device, inode and size of a mapped file come from `files` (filled by
// the analysis of the frozen process); one it did not look at is looked up
// through map_files.
Result<image::MmRecord> dumpMm(pid_t pid, const std::vector<procfs::Mapping> &mappings, const procfs::Stat &stat, uint64_t brk, const MappedFiles &files);

struct PagesOptions {
    // Size of each read buffer, and at most of a Pages section. 0: by the
    // writer: 8 MiB when it compresses (zstd's workers share a frame out in
    // jobs of MiBs), 1 MiB when it does not, where smaller batches keep the
    // hand-over from reader to writer in the caches (docs/performance.md,
    // "Batch size of an uncompressed dump").
    size_t batchBytes = 0;
    // Read buffers: one is read into while the others wait for the writer or
    // are written. The memory of the page dump is buffers x batchBytes.
    size_t buffers = 2;
    bool overlap = true; // compress and write one batch while reading the next
    // With overlap: the processes of a tree go through one pipeline, so the
    // next process is read while the previous one is written. false: each
    // process waits until its pages are written before the next one is read
    // (as before PageDump; $CRYOPOD_DUMP_NO_PIPELINE=1, for A/B runs).
    bool acrossProcesses = true;
    // A batch is read in pieces of this many bytes, each scanned for zero
    // pages right after its process_vm_readv, while it is in the cache; 0:
    // the whole batch is read, then scanned.
    size_t pieceBytes = 256u << 10;
    bool cpuTimes = false; // fill the *CpuNs figures (costs a system call per piece)
    // Pages that pagemap shows mapped to the kernel's shared zero page (a
    // read of never-written anonymous memory) are holes without being read.
    // Needs the frame numbers in pagemap (root); without them every present
    // page is read and the zero ones are found by their contents.
    bool zeroPfnHoles = true;
    // Which pages are there is asked with PAGEMAP_SCAN (regions of equal
    // kind, Linux 6.15: with guard regions) where the kernel can; false, or
    // an older kernel: a pagemap entry per page is read
    // ($CRYOPOD_DUMP_PAGEMAP_READ=1, for A/B runs).
    bool pagemapScan = true;
    // Who checksums a batch for an image that is not compressed: the writer
    // as it writes it, or the reader right after reading it when the writer
    // is still busy with the one before (WhenWriterBusy: the reader would
    // otherwise wait for a free buffer, idle). Always and Never for tests and
    // A/B runs ($CRYOPOD_DUMP_READER_CHECKSUMS=1 or 0).
    enum class ReaderChecksums { WhenWriterBusy, Always, Never };
    ReaderChecksums readerChecksums = ReaderChecksums::WhenWriterBusy;
};

// The frame number of the kernel's shared zero page, or 0 where pagemap
// hides frame numbers (not root) or where a read fault of anonymous memory
// does not map the zero page (some kernels give every such fault a page of
// its own): then zero pages are found by their contents only.
uint64_t sharedZeroPfn();

struct PagesStats {
    uint64_t pagesSaved = 0; // non-zero pages written
    uint64_t zeroPages = 0; // present pages found all-zero: holes, not written
    uint64_t zeroMappedPages = 0; // pages mapped to the shared zero page: holes, not even read
    uint64_t guardPages = 0; // MADV_GUARD_INSTALL pages: skipped, not recreated by v1
    uint64_t pagemapScans = 0; // PAGEMAP_SCAN calls (0: pagemap read entry by entry)
    uint64_t batches = 0;
    uint64_t batchBytes = 0; // the size of each batch (PagesOptions::batchBytes resolved)
    uint64_t pagemapNs = 0; // reading /proc/PID/pagemap
    uint64_t readNs = 0; // process_vm_readv (and /proc/PID/mem)
    uint64_t scanNs = 0; // finding zero pages and closing the gaps they leave
    uint64_t writeWaitNs = 0; // time the reader waited for the writer
    uint64_t wallNs = 0; // from the first process's pages to the last written
    // CPU time (with PagesOptions::cpuTimes): the reading thread in each of
    // its parts, the writing thread in ImageWriter::writePages (checksum,
    // compression and the write itself from the ImageWriter's times()).
    uint64_t pagemapCpuNs = 0;
    uint64_t readCpuNs = 0;
    uint64_t scanCpuNs = 0;
    uint64_t writerCpuNs = 0;
    // Batches the reader checksummed (PagesOptions::readerChecksums), and
    // the CPU time that took it (with cpuTimes).
    uint64_t readerChecksums = 0;
    uint64_t readerChecksumCpuNs = 0;

    PagesStats &operator+=(const PagesStats &other);
};

// The pages of the processes of a tree, one process after the other, as
// PagesRecords: for private anonymous VMAs every present or swapped page,
// for private file mappings only the anonymous (copy-on-write) pages;
// all-zero pages are left out (holes). Found with /proc/PID/pagemap, read
// with process_vm_readv in large batches (/proc/PID/mem where that is
// refused, e.g. PROT_NONE) on the caller's thread, written with
// ImageWriter::writePages on a thread of its own, in the order they were
// read. One pipeline for the whole tree: while the writer writes process
// k's last batch, the caller already reads process k+1 into the next
// buffer. The buffers (PagesOptions::buffers x batchBytes, mapped once)
// are reused from batch to batch and process to process; a batch holds the
// pages of one process only, so the records are those that one process at
// a time would give.
//
// Nothing but the writer thread may use the ImageWriter from the first
// add() until finish() returned (or the PageDump is gone). On an error the
// PageDump stops where it is: the destructor drops what is queued and joins
// the writer thread (the image is then incomplete).
class PageDump
{
public:
    PageDump(image::ImageWriter &writer, const PagesOptions &options = {});
    ~PageDump();
    PageDump(const PageDump &) = delete;
    PageDump &operator=(const PageDump &) = delete;

    // Reads the pages of `pid` (frozen) and queues them for the writer; when
    // it returns they are all read (with `source`: that process is no longer
    // needed) but may not be written yet. `mappings` are the smaps entries mm
    // was built from (same order); their Rss/Anonymous/Swap counters let
    // VMAs without such pages be skipped. With `source`, the pages are read
    // from that process instead (a MemoryCopy of pid's address space) and
    // recorded as pid's. An error names the process; one of the writer (a
    // previous process's pages) may come back here too.
    Result<void> add(pid_t pid, const image::MmRecord &mm, const std::vector<procfs::Mapping> &mappings, pid_t source = 0);
    // Waits until every queued batch is written and stops the writer thread.
    Result<void> finish();
    // The figures so far (the writer's CPU time after finish()).
    const PagesStats &stats() const;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

// ---- restore

// (restore engineer's part) The restorer's steps for one address space, in
// this order. Every VMA is mapped directly with its final protection rather
// than writable first: mapping a large PROT_NONE or read-only reservation
// (JVM, Go, V8 reserve GiBs) writable would be charged to the commit limit and
// can fail with ENOMEM under the default overcommit heuristic, and it saves a
// pass of mprotect calls. Page contents go in with process_vm_writev where the
// VMA is writable and through /proc/PID/mem (FOLL_FORCE) where it is not
// (RELRO segments, PROT_NONE guard regions with data).

// What restore relies on, checked before anything is created: page-aligned,
// sorted, non-overlapping VMAs below the top of user space, only kinds v1
// restores, mm fields PR_SET_MM_MAP accepts.
Result<void> validateMmForRestore(const image::MmRecord &mm, uint32_t pageSize);

// `size` bytes, page aligned, free both in the image's VMAs and in `current`
// (the stub's mappings) and outside every range in `avoid`.
Result<uint64_t> findFreeRange(const image::MmRecord &mm,
                               const std::vector<procfs::Mapping> &current,
                               const std::vector<std::pair<uint64_t, uint64_t>> &avoid,
                               uint64_t size);

// Unmaps every mapping of `current` except the kernel's special mappings
// ([vdso], [vvar], [vvar_vclock], [vsyscall]) and [keepStart, keepEnd), in
// one batch of injected calls (its table in `scratch`).
Result<void> unmapStubMappings(Injector &injector, RemoteScratch &scratch, const std::vector<procfs::Mapping> &current, uint64_t keepStart, uint64_t keepEnd);

// The protection restoreVmas mapped each VMA with (parallel to mm.vmas). A
// VMA the kernel would merge with its predecessor (same file and contiguous
// offsets, or both anonymous; same protection and flags) was kept apart in
// the original for a reason the maps do not show (VM_ACCOUNT from having been
// writable, as ld.so's RELRO segments; a different anon_vma). Such a VMA is
// mapped with PROT_WRITE added (PROT_EXEC when it is writable already), which
// keeps it apart, and finishVmas gives it its real protection after its pages
// are in: a RELRO segment then keeps VM_ACCOUNT exactly like the original.
struct MappedVmas {
    std::vector<uint32_t> prot; // image::kVma* bits
};

// Maps every non-special VMA of mm at its address with its protection:
// anonymous (MAP_GROWSDOWN for grows-down VMAs, [anon:name] names again), or
// private (and read-only shared) file mappings opened in the target by path
// (O_RDONLY) and checked against the
// image's device, inode and size (a changed file is refused). Uses
// MAP_FIXED_NOREPLACE: nothing is silently replaced.
// Shared anonymous VMAs map their object from `shared` (shmem.h).
// The calls go in batches (Injector::run): the files' checks come after
// their mmaps, before any page is written.
Result<MappedVmas> restoreVmas(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm, const SharedMemoryObjects &shared);

// How page contents get in. The restored process opens a userfaultfd
// (injected) and registers its writable anonymous VMAs; the restorer takes
// the fd (pidfd_getfd) and fills them with UFFDIO_COPY, which allocates each
// page and copies into it without zeroing it first: about 1.7x less CPU than
// process_vm_writev into fresh memory on the project's machines. Other VMAs
// (file mappings, read-only ones) take process_vm_writev or /proc/PID/mem.
// Without userfaultfd in the kernel everything goes the second way.
struct PageFill {
    UniqueFd uffd; // ours (pidfd_getfd); invalid: no userfaultfd
    int remoteFd = -1; // the same file in the restored process
    std::vector<uint8_t> registered; // parallel to mm.vmas: filled by UFFDIO_COPY
};
Result<PageFill> preparePageFill(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm, const MappedVmas &mapped);
// Closes the userfaultfd in the process (which unregisters every VMA) and ours.
Result<void> finishPageFill(Injector &injector, PageFill &fill);

// Writes the pages of one Pages record (its runs, and `data`: the runs'
// pages back to back) into the process; every run must lie inside the
// image's VMAs. Returns the number of pages written. Safe to call from
// several threads at once for disjoint runs (the image's runs ascend across
// records): it uses no ptrace, only process_vm_writev, pwrite on
// /proc/PID/mem and UFFDIO_COPY.
Result<uint64_t> restorePages(pid_t pid,
                              const RemoteMemory &memory,
                              const image::MmRecord &mm,
                              const MappedVmas &mapped,
                              const PageFill &fill,
                              std::span<const image::PageRun> runs,
                              std::span<const uint8_t> data,
                              uint32_t pageSize);

// After the pages: the real protection where restoreVmas mapped differently,
// then madvise(MADV_DONTFORK / MADV_WIPEONFORK) and mlock as recorded, in
// one batch of injected calls.
Result<void> finishVmas(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm, const MappedVmas &mapped);

// prctl(PR_SET_MM, PR_SET_MM_MAP): code/data/brk/stack/arg/env bounds, auxv,
// and the exe file (opened in the target by path, closed again).
Result<void> restoreMmFields(Injector &injector, RemoteScratch &scratch, const image::MmRecord &mm);

} // namespace cryopod::engine
