// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// A tight register-only loop: inline asm that keeps all its state in general
// registers (callee-saved rbx, r12-r15 and the scratch ones) for blocks of
// 20 million iterations, checking invariants between registers on every
// iteration. A checkpoint almost always lands inside a block, so every
// general register and the flags must survive. After each block the values
// are compared with the closed forms of the seed and the iteration count.

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "wl.h"

#define ITERATIONS 20000000ull

struct Block {
    uint64_t seed, limit, k1, k2, s0, skew;
};

struct Out {
    uint64_t err, i, a, b, sum, seed, x, y, limit;
};

static uint64_t s_block;
static uint64_t s_skew; // sabotage: breaks an invariant inside the loop
static struct Block s_in;
static struct Out s_out;

static void runBlock(void)
{
    __asm__ volatile(
        "mov %[seed], %%rbx\n\t" // rbx = seed (constant)
        "mov %[limit], %%rdx\n\t" // rdx = limit (constant)
        "mov %[k1], %%r8\n\t" // r8 = k1
        "mov %[k2], %%r9\n\t" // r9 = k2
        "mov %%r8, %%r10\n\t"
        "xor %%r9, %%r10\n\t" // r10 = k1 ^ k2
        "lea (%%r8,%%r9), %%r11\n\t" // r11 = k1 + k2
        "xor %%r12d, %%r12d\n\t" // r12 = i
        "mov %%rbx, %%r13\n\t" // r13 = seed + 3i
        "mov %%r13, %%r14\n\t"
        "not %%r14\n\t" // r14 = ~r13, evolved on its own
        "add %[skew], %%r14\n\t"
        "mov %[s0], %%r15\n\t" // r15 = s0 + i(i+1)/2
        "1:\n\t"
        "inc %%r12\n\t"
        "add $3, %%r13\n\t"
        "sub $3, %%r14\n\t"
        "add %%r12, %%r15\n\t"
        "lea (%%r12,%%r12,2), %%rax\n\t"
        "add %%rbx, %%rax\n\t"
        "cmp %%rax, %%r13\n\t"
        "jne 8f\n\t"
        "mov %%r13, %%rcx\n\t"
        "xor %%r14, %%rcx\n\t"
        "inc %%rcx\n\t"
        "jnz 8f\n\t"
        "mov %%r8, %%rsi\n\t"
        "xor %%r9, %%rsi\n\t"
        "cmp %%rsi, %%r10\n\t"
        "jne 8f\n\t"
        "lea (%%r8,%%r9), %%rdi\n\t"
        "cmp %%rdi, %%r11\n\t"
        "jne 8f\n\t"
        "cmp %%rdx, %%r12\n\t"
        "jb 1b\n\t"
        "xor %%eax, %%eax\n\t"
        "jmp 9f\n\t"
        "8:\n\t"
        "mov $1, %%eax\n\t"
        "9:\n\t"
        "mov %%rax, %[err]\n\t"
        "mov %%r12, %[oi]\n\t"
        "mov %%r13, %[oa]\n\t"
        "mov %%r14, %[ob]\n\t"
        "mov %%r15, %[osum]\n\t"
        "mov %%rbx, %[oseed]\n\t"
        "mov %%r10, %[ox]\n\t"
        "mov %%r11, %[oy]\n\t"
        "mov %%rdx, %[olimit]\n\t"
        : [err] "=m"(s_out.err), [oi] "=m"(s_out.i), [oa] "=m"(s_out.a), [ob] "=m"(s_out.b), [osum] "=m"(s_out.sum), [oseed] "=m"(s_out.seed),
          [ox] "=m"(s_out.x), [oy] "=m"(s_out.y), [olimit] "=m"(s_out.limit)
        : [seed] "m"(s_in.seed), [limit] "m"(s_in.limit), [k1] "m"(s_in.k1), [k2] "m"(s_in.k2), [s0] "m"(s_in.s0), [skew] "m"(s_in.skew)
        : "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "cc", "memory");
}

static void checkBlock(void)
{
    const uint64_t seed = wl_derive(wl_seed(), 3 * s_block);
    const uint64_t k1 = wl_derive(wl_seed(), 3 * s_block + 1), k2 = wl_derive(wl_seed(), 3 * s_block + 2);
    const uint64_t s0 = seed ^ k1;
    const uint64_t n = ITERATIONS;
    if (s_out.err) {
        wl_fail("block %llu: a register invariant broke inside the loop at iteration %llu (rbx %#llx r13 %#llx r14 %#llx)", (unsigned long long)s_block,
                (unsigned long long)s_out.i, (unsigned long long)s_out.seed, (unsigned long long)s_out.a, (unsigned long long)s_out.b);
        return;
    }
    wl_check(s_out.i == n, "block %llu: r12 %llu, expected %llu", (unsigned long long)s_block, (unsigned long long)s_out.i, (unsigned long long)n);
    wl_check(s_out.a == seed + 3 * n, "block %llu: r13 wrong", (unsigned long long)s_block);
    wl_check(s_out.b == ~seed - 3 * n, "block %llu: r14 wrong", (unsigned long long)s_block);
    wl_check(s_out.sum == s0 + n * (n + 1) / 2, "block %llu: r15 %#llx, expected %#llx", (unsigned long long)s_block, (unsigned long long)s_out.sum,
             (unsigned long long)(s0 + n * (n + 1) / 2));
    wl_check(s_out.seed == seed, "block %llu: rbx wrong", (unsigned long long)s_block);
    wl_check(s_out.x == (k1 ^ k2) && s_out.y == k1 + k2, "block %llu: r10/r11 wrong", (unsigned long long)s_block);
    wl_check(s_out.limit == n, "block %llu: rdx wrong", (unsigned long long)s_block);
}

int main(int argc, char **argv)
{
    wl_init(argc, argv, "regloop");
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
        s_in.seed = wl_derive(wl_seed(), 3 * s_block);
        s_in.k1 = wl_derive(wl_seed(), 3 * s_block + 1);
        s_in.k2 = wl_derive(wl_seed(), 3 * s_block + 2);
        s_in.s0 = s_in.seed ^ s_in.k1;
        s_in.limit = ITERATIONS;
        s_in.skew = s_skew;
        runBlock();
        checkBlock();
        wl_sleep_ms(1);
    }
    wl_check(s_block > 0, "no block ran");
    return wl_finish();
}
