// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// FPU/SSE/AVX/AVX-512 state held in registers: an inline asm loop keeps
// values in every vector register (ymm0-15, and zmm16-31 plus the opmask
// registers k1-k7 when the CPU has AVX-512F), seven values on the x87 stack,
// a non-default x87 control word and a non-default MXCSR (round toward zero,
// flush to zero, denormals are zero) for blocks of 2 million iterations.
// After each block every register is compared with the closed form of its
// seed and the iteration count. WL_FPU_MAX=sse|avx|avx512 caps the level.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#define ITERATIONS 2000000ull
#define MXCSR_VALUE 0xff80u // all exceptions masked, FTZ, DAZ, round toward zero
#define FCW_VALUE 0x0c7fu // all exceptions masked, single precision, truncate

enum Level { Sse, Avx, Avx512 };

struct State {
    uint64_t v[16][4]; // xmm/ymm 0-15 (xmm uses lanes 0-1)
    uint64_t z[16][8]; // zmm 16-31
    uint16_t k[8]; // k0 unused
    double st[8];
    uint32_t mxcsr;
    uint16_t fcw;
};

static enum Level s_level;
static uint64_t s_block;
static uint64_t s_skew;
static struct State s_in, s_out;
static const uint32_t s_defaultMxcsr = 0x1f80;

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static enum Level detectLevel(void)
{
    unsigned a, b, c, d;
    enum Level level = Sse;
    if (__get_cpuid(1, &a, &b, &c, &d) && (c & bit_OSXSAVE) && (c & bit_AVX) && (xgetbv0() & 0x6) == 0x6) {
        level = Avx;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F) && (xgetbv0() & 0xe6) == 0xe6) {
            level = Avx512;
        }
    }
    const char *cap = getenv("WL_FPU_MAX");
    if (cap && strcmp(cap, "sse") == 0) {
        level = Sse;
    } else if (cap && strcmp(cap, "avx") == 0 && level > Avx) {
        level = Avx;
    }
    return level;
}

#define X87_LOAD                                                                                                                                               \
    "fninit\n\t"                                                                                                                                               \
    "fldcw %[fcw]\n\t"                                                                                                                                         \
    "fldl 6*8(%[st])\n\t"                                                                                                                                      \
    "fldl 5*8(%[st])\n\t"                                                                                                                                      \
    "fldl 4*8(%[st])\n\t"                                                                                                                                      \
    "fldl 3*8(%[st])\n\t"                                                                                                                                      \
    "fldl 2*8(%[st])\n\t"                                                                                                                                      \
    "fldl 1*8(%[st])\n\t"                                                                                                                                      \
    "fldl 0*8(%[st])\n\t"
#define X87_STORE                                                                                                                                              \
    "fnstcw %[ofcw]\n\t"                                                                                                                                       \
    "fstpl 0*8(%[ost])\n\t"                                                                                                                                    \
    "fstpl 1*8(%[ost])\n\t"                                                                                                                                    \
    "fstpl 2*8(%[ost])\n\t"                                                                                                                                    \
    "fstpl 3*8(%[ost])\n\t"                                                                                                                                    \
    "fstpl 4*8(%[ost])\n\t"                                                                                                                                    \
    "fstpl 5*8(%[ost])\n\t"                                                                                                                                    \
    "fstpl 6*8(%[ost])\n\t"                                                                                                                                    \
    "fninit\n\t"

#define X87_CLOBBERS "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"
#define XMM_CLOBBERS                                                                                                                                           \
    "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15"
#define ZMM_CLOBBERS                                                                                                                                           \
    "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"

#define SSE_LD(n) "movdqu " #n "*32(%[v]), %%xmm" #n "\n\t"
#define SSE_ST(n) "movdqu %%xmm" #n ", " #n "*32(%[ov])\n\t"
#define SSE_ADD(n) "paddq %%xmm15, %%xmm" #n "\n\t"
#define SSE_SUB(n) "psubq %%xmm15, %%xmm" #n "\n\t"

static void blockSse(void)
{
    uint64_t n = ITERATIONS;
    __asm__ volatile(SSE_LD(0) SSE_LD(1) SSE_LD(2) SSE_LD(3) SSE_LD(4) SSE_LD(5) SSE_LD(6) SSE_LD(7) SSE_LD(8) SSE_LD(9) SSE_LD(10) SSE_LD(11) SSE_LD(12)
                         SSE_LD(13) SSE_LD(14) SSE_LD(15) "ldmxcsr %[mxcsr]\n\t" X87_LOAD "1:\n\t" SSE_ADD(0) SSE_ADD(1) SSE_ADD(2) SSE_ADD(3) SSE_ADD(4)
                             SSE_ADD(5) SSE_ADD(6) SSE_ADD(7) SSE_SUB(8) SSE_SUB(9) SSE_SUB(10) SSE_SUB(11) SSE_SUB(12) SSE_SUB(13) SSE_SUB(14)
                                 "fadd %%st(1), %%st\n\t"
                                 "dec %[n]\n\t"
                                 "jnz 1b\n\t"
                                 "stmxcsr %[omxcsr]\n\t"
                                 "ldmxcsr %[defmxcsr]\n\t" SSE_ST(0) SSE_ST(1) SSE_ST(2) SSE_ST(3) SSE_ST(4) SSE_ST(5) SSE_ST(6) SSE_ST(7) SSE_ST(8) SSE_ST(9)
                                     SSE_ST(10) SSE_ST(11) SSE_ST(12) SSE_ST(13) SSE_ST(14) SSE_ST(15) X87_STORE
                     : [n] "+r"(n), [omxcsr] "=m"(s_out.mxcsr), [ofcw] "=m"(s_out.fcw)
                     : [v] "r"(s_in.v), [ov] "r"(s_out.v), [st] "r"(s_in.st), [ost] "r"(s_out.st), [mxcsr] "m"(s_in.mxcsr), [fcw] "m"(s_in.fcw),
                       [defmxcsr] "m"(s_defaultMxcsr)
                     : XMM_CLOBBERS, X87_CLOBBERS, "cc", "memory");
}

#define AVX_LD(n) "vmovdqu " #n "*32(%[v]), %%ymm" #n "\n\t"
#define AVX_ST(n) "vmovdqu %%ymm" #n ", " #n "*32(%[ov])\n\t"
#define AVX_ADD(n) "vpaddq %%ymm15, %%ymm" #n ", %%ymm" #n "\n\t"
#define AVX_SUB(n) "vpsubq %%ymm15, %%ymm" #n ", %%ymm" #n "\n\t"
#define AVX_LOAD_ALL                                                                                                                                           \
    AVX_LD(0) AVX_LD(1) AVX_LD(2) AVX_LD(3) AVX_LD(4) AVX_LD(5) AVX_LD(6) AVX_LD(7) AVX_LD(8) AVX_LD(9) AVX_LD(10) AVX_LD(11) AVX_LD(12) AVX_LD(13) AVX_LD(14)  \
        AVX_LD(15)
#define AVX_STORE_ALL                                                                                                                                          \
    AVX_ST(0) AVX_ST(1) AVX_ST(2) AVX_ST(3) AVX_ST(4) AVX_ST(5) AVX_ST(6) AVX_ST(7) AVX_ST(8) AVX_ST(9) AVX_ST(10) AVX_ST(11) AVX_ST(12) AVX_ST(13) AVX_ST(14)  \
        AVX_ST(15)
#define AVX_STEP                                                                                                                                               \
    AVX_ADD(0) AVX_ADD(1) AVX_ADD(2) AVX_ADD(3) AVX_ADD(4) AVX_ADD(5) AVX_ADD(6) AVX_ADD(7) AVX_SUB(8) AVX_SUB(9) AVX_SUB(10) AVX_SUB(11) AVX_SUB(12)          \
        AVX_SUB(13) AVX_SUB(14)

__attribute__((target("avx2"))) static void blockAvx(void)
{
    uint64_t n = ITERATIONS;
    __asm__ volatile(AVX_LOAD_ALL "ldmxcsr %[mxcsr]\n\t" X87_LOAD "1:\n\t" AVX_STEP "fadd %%st(1), %%st\n\t"
                                  "dec %[n]\n\t"
                                  "jnz 1b\n\t"
                                  "stmxcsr %[omxcsr]\n\t"
                                  "ldmxcsr %[defmxcsr]\n\t" AVX_STORE_ALL X87_STORE "vzeroupper\n\t"
                     : [n] "+r"(n), [omxcsr] "=m"(s_out.mxcsr), [ofcw] "=m"(s_out.fcw)
                     : [v] "r"(s_in.v), [ov] "r"(s_out.v), [st] "r"(s_in.st), [ost] "r"(s_out.st), [mxcsr] "m"(s_in.mxcsr), [fcw] "m"(s_in.fcw),
                       [defmxcsr] "m"(s_defaultMxcsr)
                     : XMM_CLOBBERS, X87_CLOBBERS, "cc", "memory");
}

#define Z_LD(n, r) "vmovdqu64 " #n "*64(%[z]), %%zmm" #r "\n\t"
#define Z_ST(n, r) "vmovdqu64 %%zmm" #r ", " #n "*64(%[oz])\n\t"
#define Z_ADD(r) "vpaddq %%zmm31, %%zmm" #r ", %%zmm" #r "\n\t"
#define Z_SUB(r) "vpsubq %%zmm31, %%zmm" #r ", %%zmm" #r "\n\t"
#define K_LD(n) "kmovw " #n "*2(%[k]), %%k" #n "\n\t"
#define K_ST(n) "kmovw %%k" #n ", " #n "*2(%[ok])\n\t"

__attribute__((target("avx512f"))) static void blockAvx512(void)
{
    uint64_t n = ITERATIONS;
    __asm__ volatile(AVX_LOAD_ALL Z_LD(0, 16) Z_LD(1, 17) Z_LD(2, 18) Z_LD(3, 19) Z_LD(4, 20) Z_LD(5, 21) Z_LD(6, 22) Z_LD(7, 23) Z_LD(8, 24) Z_LD(9, 25)
                         Z_LD(10, 26) Z_LD(11, 27) Z_LD(12, 28) Z_LD(13, 29) Z_LD(14, 30) Z_LD(15, 31) K_LD(1) K_LD(2) K_LD(3) K_LD(4) K_LD(5) K_LD(6)
                             K_LD(7) "ldmxcsr %[mxcsr]\n\t" X87_LOAD "1:\n\t" AVX_STEP Z_ADD(16) Z_ADD(17) Z_ADD(18) Z_ADD(19) Z_ADD(20) Z_ADD(21)
                                 Z_ADD(22) Z_ADD(23) Z_SUB(24) Z_SUB(25) Z_SUB(26) Z_SUB(27) Z_SUB(28) Z_SUB(29) Z_SUB(30) "kxorw %%k2, %%k3, %%k4\n\t"
                                 "fadd %%st(1), %%st\n\t"
                                 "dec %[n]\n\t"
                                 "jnz 1b\n\t"
                                 "stmxcsr %[omxcsr]\n\t"
                                 "ldmxcsr %[defmxcsr]\n\t" AVX_STORE_ALL Z_ST(0, 16) Z_ST(1, 17) Z_ST(2, 18) Z_ST(3, 19) Z_ST(4, 20) Z_ST(5, 21)
                                     Z_ST(6, 22) Z_ST(7, 23) Z_ST(8, 24) Z_ST(9, 25) Z_ST(10, 26) Z_ST(11, 27) Z_ST(12, 28) Z_ST(13, 29) Z_ST(14, 30)
                                         Z_ST(15, 31) K_ST(1) K_ST(2) K_ST(3) K_ST(4) K_ST(5) K_ST(6) K_ST(7) X87_STORE "vzeroupper\n\t"
                     : [n] "+r"(n), [omxcsr] "=m"(s_out.mxcsr), [ofcw] "=m"(s_out.fcw)
                     : [v] "r"(s_in.v), [ov] "r"(s_out.v), [z] "r"(s_in.z), [oz] "r"(s_out.z), [k] "r"(s_in.k), [ok] "r"(s_out.k), [st] "r"(s_in.st),
                       [ost] "r"(s_out.st), [mxcsr] "m"(s_in.mxcsr), [fcw] "m"(s_in.fcw), [defmxcsr] "m"(s_defaultMxcsr)
                     : XMM_CLOBBERS, ZMM_CLOBBERS, "k1", "k2", "k3", "k4", "k5", "k6", "k7", X87_CLOBBERS, "cc", "memory");
}

static void prepare(struct State *s, uint64_t block)
{
    memset(s, 0, sizeof *s);
    uint64_t r = wl_derive(wl_seed(), block);
    for (int i = 0; i < 16; ++i) {
        for (int l = 0; l < 4; ++l) {
            s->v[i][l] = wl_next(&r);
        }
        for (int l = 0; l < 8; ++l) {
            s->z[i][l] = wl_next(&r);
        }
    }
    for (int i = 1; i < 8; ++i) {
        s->k[i] = (uint16_t)wl_next(&r);
    }
    s->k[4] = s->k[2] ^ s->k[3];
    s->st[0] = 0.5 + (double)(block % 1000); // the accumulator
    s->st[1] = 1.0; // the increment
    for (int i = 2; i < 7; ++i) {
        s->st[i] = (double)(wl_next(&r) % 100000) + 0.25;
    }
    s->mxcsr = MXCSR_VALUE;
    s->fcw = FCW_VALUE;
}

static void checkBlock(const struct State *in)
{
    const unsigned long long b = (unsigned long long)s_block;
    const uint64_t n = ITERATIONS;
    const int width = s_level == Sse ? 2 : 4;
    unsigned bad = 0;
    for (int i = 0; i < 16; ++i) {
        for (int l = 0; l < width; ++l) {
            uint64_t inc = in->v[15][l];
            uint64_t want = i < 8 ? in->v[i][l] + n * inc : i < 15 ? in->v[i][l] - n * inc : inc;
            if (s_out.v[i][l] != want && bad++ < 3) {
                wl_fail("block %llu: %s%d lane %d is %#llx, expected %#llx", b, s_level == Sse ? "xmm" : "ymm", i, l, (unsigned long long)s_out.v[i][l],
                        (unsigned long long)want);
            }
        }
    }
    if (s_level == Avx512) {
        for (int i = 0; i < 16; ++i) {
            for (int l = 0; l < 8; ++l) {
                uint64_t inc = in->z[15][l];
                uint64_t want = i < 8 ? in->z[i][l] + n * inc : i < 15 ? in->z[i][l] - n * inc : inc;
                if (s_out.z[i][l] != want && bad++ < 3) {
                    wl_fail("block %llu: zmm%d lane %d is %#llx, expected %#llx", b, 16 + i, l, (unsigned long long)s_out.z[i][l],
                            (unsigned long long)want);
                }
            }
        }
        for (int i = 1; i < 8; ++i) {
            if (s_out.k[i] != in->k[i] && bad++ < 3) {
                wl_fail("block %llu: k%d is %#x, expected %#x", b, i, s_out.k[i], in->k[i]);
            }
        }
    }
    double st0 = in->st[0] + (double)n;
    wl_check(s_out.st[0] == st0, "block %llu: x87 st0 is %.3f, expected %.3f", b, s_out.st[0], st0);
    for (int i = 1; i < 7; ++i) {
        wl_check(s_out.st[i] == in->st[i], "block %llu: x87 st%d is %.3f, expected %.3f", b, i, s_out.st[i], in->st[i]);
    }
    wl_check(s_out.mxcsr == MXCSR_VALUE, "block %llu: MXCSR is %#x, expected %#x", b, s_out.mxcsr, MXCSR_VALUE);
    wl_check(s_out.fcw == FCW_VALUE, "block %llu: x87 control word is %#x, expected %#x", b, s_out.fcw, FCW_VALUE);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "fpu");
    s_level = detectLevel();
    wl_ready();
    if (wl_sabotage_requested()) {
        s_skew = 1;
    }
    // At least one block runs after go: the registers must work after a
    // restore, not only have held the values.
    bool go = false;
    while (!go && wl_failures() == 0) {
        if (wl_expired()) {
            wl_fail("no go within the workload's lifetime");
            break;
        }
        go = wl_go();
        ++s_block;
        prepare(&s_in, s_block);
        struct State expected = s_in;
        s_in.v[3][0] += s_skew;
        memset(&s_out, 0, sizeof s_out);
        switch (s_level) {
        case Sse:
            blockSse();
            break;
        case Avx:
            blockAvx();
            break;
        case Avx512:
            blockAvx512();
            break;
        }
        checkBlock(&expected);
        wl_sleep_ms(1);
    }
    wl_check(s_block > 0, "no block ran");
    return wl_finish();
}
