// SPDX-License-Identifier: GPL-2.0-or-later
// SPDX-FileCopyrightText: 2026 Cryopod developers
//
// Node.js mid-work, with the workload contract of README.md:
// node wl_node.js STATEDIR (started with wl_nouring.so preloaded: libuv's
// io_uring is refused by the engine, see wl_nouring.c).
//
// The main thread extends a SHA-256 chain on a 10 ms timer and counts the
// ticks of a 20 ms interval; a worker_thread extends its own chain on its
// own timers and answers "state?" messages; a child process (this script
// with --child, spawned with stdio pipes: unix socket pairs under libuv)
// answers every request line "N" with "N HEX", HEX the SHA-256 of the seed
// and N, and keeps a running digest of what it answered. Requests go out
// every 15 ms, so the checkpoint lands with work in flight on the pipe.
// After go: the main chain, the worker's chain and the child's digest are
// recomputed from the seed, every answer must have been right and in order,
// and the interval must still tick. WL_SABOTAGE=1 flips a byte of the main
// chain after ready.
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { Worker, isMainThread, parentPort, workerData } = require('worker_threads');
const { spawn } = require('child_process');

const LIFETIME_MS = (Number(process.env.WL_LIFETIME) || 90) * 1000; // the stress tests run longer

function sha(...parts)
{
    const h = crypto.createHash('sha256');
    for (const p of parts) {
        h.update(p);
    }
    return h.digest();
}

function u64(n)
{
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
}

// One step of a chain: h' = sha256(h || i).
function chain(start, steps)
{
    let h = start;
    for (let i = 0; i < steps; ++i) {
        h = sha(h, u64(i));
    }
    return h;
}

// A chain that grows by 100 steps every periodMs on a timer; chain(start,
// c.steps) must give c.h. stop() ends the growth.
function growingChain(start, periodMs)
{
    const c = { h: start, steps: 0 };
    const timer = setInterval(() => {
        for (let k = 0; k < 100; ++k) {
            c.h = sha(c.h, u64(c.steps));
            ++c.steps;
        }
    }, periodMs);
    c.stop = () => clearInterval(timer);
    return c;
}

function answer(seed, n)
{
    return sha(u64(seed), Buffer.from('answer'), u64(n)).toString('hex');
}

// Calls handler(line) for every complete line arriving on a readable stream;
// handler returns false to stop reading.
function onLines(stream, handler)
{
    let pending = '';
    stream.setEncoding('latin1');
    stream.on('data', (text) => {
        pending += text;
        let nl;
        while ((nl = pending.indexOf('\n')) >= 0) {
            const line = pending.slice(0, nl);
            pending = pending.slice(nl + 1);
            if (handler(line) === false) {
                return;
            }
        }
    });
}

// ---- the child process: answers requests on stdin, ends on "end" ------------------------

function childMain(seed)
{
    let digest = sha(u64(seed), Buffer.from('child'));
    let count = 0;
    onLines(process.stdin, (line) => {
        if (line === 'end') {
            process.stdout.write(`total ${count} ${digest.toString('hex')}\n`, () => process.exit(0));
            return false;
        }
        const hex = answer(seed, Number(line));
        digest = sha(digest, Buffer.from(hex));
        ++count;
        process.stdout.write(`${line} ${hex}\n`);
        return true;
    });
    process.stdin.on('end', () => process.exit(3));
}

// ---- the worker thread ------------------------------------------------------------------

function workerMain(seed)
{
    const c = growingChain(sha(u64(seed), Buffer.from('worker')), 7);
    parentPort.on('message', (msg) => {
        if (msg === 'state?') {
            c.stop();
            parentPort.postMessage({ steps: c.steps, hex: c.h.toString('hex') });
        }
    });
    parentPort.postMessage('started');
}

// ---- the main thread --------------------------------------------------------------------

function writeState(statedir, name, text)
{
    const tmp = path.join(statedir, name + '.tmp');
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, path.join(statedir, name));
}

function main()
{
    const statedir = fs.realpathSync(process.argv[2]);
    const go = path.join(statedir, 'go');
    const seed = Number(process.env.WL_SEED || 0) || 0x5eed0de;
    const start = Date.now();
    const failures = [];

    const mainChain = growingChain(sha(u64(seed), Buffer.from('main')), 10);
    let ticks = 0;
    setInterval(() => ++ticks, 20);

    const worker = new Worker(__filename, { workerData: { seed } });
    let workerStarted = false;
    let workerState = null;
    worker.on('message', (msg) => {
        if (msg === 'started') {
            workerStarted = true;
            startChild();
        } else {
            workerState = msg;
        }
    });
    worker.on('error', (e) => failures.push(`worker: ${e}`));

    // The child is spawned once the worker has started: while a worker
    // thread starts, V8 reads /proc/self/maps through an fd without
    // O_CLOEXEC, and a child forked at that moment keeps it for life (seen
    // in 10 of 40 starts with the spawn right after new Worker). The engine
    // refuses fds on procfs, so cr_node would fail one run in four.
    let child = null;
    let sent = 0;
    let answered = 0;
    let total = null;
    let childExit = null;
    let requests = null;
    const startChild = () => {
        child = spawn(process.execPath, [__filename, '--child', String(seed)], { stdio: ['pipe', 'pipe', 'ignore'] });
        onLines(child.stdout, (line) => {
            const [a, b, c] = line.split(' ');
            if (a === 'total') {
                total = { count: Number(b), hex: c };
                return true;
            }
            if (Number(a) !== answered || b !== answer(seed, answered)) {
                failures.push(`child answer ${answered} wrong: "${line.slice(0, 40)}"`);
            }
            ++answered;
            return true;
        });
        child.on('exit', (code, signal) => {
            childExit = { code, signal };
        });
        requests = setInterval(() => {
            if (sent - answered < 64) {
                child.stdin.write(`${sent++}\n`);
            }
        }, 15);
    };

    let ready = false;
    let goTicks = -1;
    const finish = () => {
        mainChain.stop();
        clearInterval(requests);
        // The main chain, recomputed from the seed.
        if (!chain(sha(u64(seed), Buffer.from('main')), mainChain.steps).equals(mainChain.h)) {
            failures.push(`main chain of ${mainChain.steps} steps differs`);
        }
        worker.postMessage('state?');
        const waitWorker = setInterval(() => {
            if (!workerState) {
                return;
            }
            clearInterval(waitWorker);
            if (chain(sha(u64(seed), Buffer.from('worker')), workerState.steps).toString('hex') !== workerState.hex) {
                failures.push(`worker chain of ${workerState.steps} steps differs`);
            }
            if (workerState.steps === 0) {
                failures.push('the worker never computed');
            }
            worker.terminate();
            child.stdin.write('end\n');
            const waitChild = setInterval(() => {
                if (total === null || childExit === null) {
                    return;
                }
                clearInterval(waitChild);
                let digest = sha(u64(seed), Buffer.from('child'));
                for (let n = 0; n < total.count; ++n) {
                    digest = sha(digest, Buffer.from(answer(seed, n)));
                }
                if (total.count !== sent || total.count !== answered) {
                    failures.push(`child handled ${total.count} requests, ${sent} sent, ${answered} answered`);
                }
                if (digest.toString('hex') !== total.hex) {
                    failures.push("child's digest differs");
                }
                if (childExit.code !== 0) {
                    failures.push(`child exited with ${childExit.code} ${childExit.signal}`);
                }
                if (ticks - goTicks < 5) {
                    failures.push(`the 20 ms interval ticked ${ticks - goTicks} times in 300 ms after go`);
                }
                writeState(statedir, 'result', failures.length ? `FAIL: ${failures.join('; ')}\n` : 'ok\n');
                process.exit(failures.length ? 1 : 0);
            }, 10);
        }, 10);
    };
    const poll = setInterval(() => {
        if (!ready) {
            if (workerStarted && answered > 0) {
                ready = true;
                writeState(statedir, 'ready', `${process.pid}\n`);
                if (!['', '0'].includes(process.env.WL_SABOTAGE || '')) {
                    mainChain.h[0] ^= 1;
                }
            }
            return;
        }
        if (Date.now() - start > LIFETIME_MS) {
            failures.push("no go within the workload's lifetime");
        } else if (!fs.existsSync(go)) {
            return;
        }
        clearInterval(poll);
        goTicks = ticks;
        setTimeout(finish, 300);
    }, 50);
}

if (!isMainThread) {
    workerMain(workerData.seed);
} else if (process.argv[2] === '--child') {
    childMain(Number(process.argv[3]));
} else if (process.argv.length < 3) {
    process.stderr.write('usage: wl_node.js STATEDIR\n');
    process.exit(2);
} else {
    main();
}
