#!/usr/bin/env node
// zkrisk warm prover: one long-lived Node process that keeps the BN254 curve, the circuits'
// witness calculators and the zkeys in memory, and serves JSON-lines requests on stdin/stdout.
//
//   node worker.js <node_modules> [--threads=single|multi]
//
// Requests (one JSON object per line; answered in order, one line each):
//   {"id": 1, "op": "prove",   "wasm": path, "zkey": path, "input": {signal: value | [values]}}
//     -> {"id": 1, "ok": true, "proof": {...snarkjs...}, "publicSignals": [...], "ms": {...}}
//   {"id": 2, "op": "witness", "wasm": path, "input": {...}, "out": path}   writes a .wtns file
//   {"id": 3, "op": "ping"}  -> {"id": 3, "ok": true, "pid": ..., "threads": ..., "rss": ...}
// Errors: {"id": n, "ok": false, "kind": "input" | "witness" | "internal", "message": "..."}.
//
// stdout carries the protocol only: console.log (a circuit's log() calls, snarkjs' messages)
// is sent to stderr. The process exits when stdin closes, i.e. when its parent goes away.
"use strict";

const fs = require("fs");
const path = require("path");
const readline = require("readline");
const { createRequire } = require("module");

const protocolOut = process.stdout;
for (const name of ["log", "info", "debug", "warn"]) {
    console[name] = (...args) => console.error(...args);
}

const nodeModules = process.argv[2];
if (!nodeModules) {
    console.error("usage: worker.js <node_modules> [--threads=single|multi]");
    process.exit(2);
}
const threads = (process.argv.find((a) => a.startsWith("--threads=")) || "--threads=multi").slice(10);
const requireFromModules = createRequire(path.join(path.resolve(nodeModules), "_zkrisk_worker.js"));
const snarkjs = requireFromModules("snarkjs");
const requireFromSnarkjs = createRequire(requireFromModules.resolve("snarkjs"));
const { WitnessCalculatorBuilder } = requireFromSnarkjs("circom_runtime");

const MAX_CACHED = 8; // circuits kept warm; the least recently used is dropped beyond this

class LruFileCache {
    // path -> {mtimeMs, size, value}; a changed file (same path, new mtime or size) is reloaded.
    constructor(load) {
        this.load = load;
        this.entries = new Map();
    }

    async get(file) {
        const stat = fs.statSync(file);
        const hit = this.entries.get(file);
        if (hit && hit.mtimeMs === stat.mtimeMs && hit.size === stat.size) {
            this.entries.delete(file);
            this.entries.set(file, hit);
            return hit.value;
        }
        const value = await this.load(file);
        this.entries.set(file, { mtimeMs: stat.mtimeMs, size: stat.size, value });
        while (this.entries.size > MAX_CACHED) {
            this.entries.delete(this.entries.keys().next().value);
        }
        return value;
    }

    forget(file) {
        this.entries.delete(file);
    }
}

const zkeys = new LruFileCache(async (file) => new Uint8Array(fs.readFileSync(file)));
const calculators = new LruFileCache(async (file) => WitnessCalculatorBuilder(fs.readFileSync(file)));

let curveReady = null;

function warmCurve() {
    // snarkjs asks ffjavascript for the curve on every proof. With threads it is cached
    // globally; a single-thread curve never is, so build it once and install it as the cached
    // one (snarkjs then gets it back from buildBn128 without rebuilding the WASM engine).
    if (!curveReady) {
        curveReady = snarkjs.curves.getCurveFromName("bn128", { singleThread: threads === "single" })
            .then((curve) => {
                globalThis.curve_bn128 = curve;
                return curve;
            });
    }
    return curveReady;
}

function toBigInts(value) {
    if (Array.isArray(value)) return value.map(toBigInts);
    if (typeof value === "string" || typeof value === "number") return BigInt(value);
    throw new TypeError(`signal values must be decimal strings or arrays of them, got ${typeof value}`);
}

class RequestError extends Error {
    constructor(kind, message) {
        super(message);
        this.kind = kind;
    }
}

const INPUT_ERRORS = /(Signal .* not found|Not enough values|Too many values|Not all inputs have been set|Cannot convert|signal values must be)/;

async function witness(wasm, input) {
    let signals;
    try {
        signals = Object.fromEntries(Object.entries(input).map(([k, v]) => [k, toBigInts(v)]));
    } catch (err) {
        throw new RequestError("input", String(err.message || err));
    }
    const wc = await calculators.get(wasm);
    try {
        return await wc.calculateWTNSBin(signals);
    } catch (err) {
        // A trap can leave the instance's memory half-written: rebuild it next time.
        calculators.forget(wasm);
        const message = String(err.message || err);
        throw new RequestError(INPUT_ERRORS.test(message) ? "input" : "witness", message);
    }
}

async function prove(request) {
    await warmCurve();
    const t0 = performance.now();
    const wtns = await witness(request.wasm, request.input);
    const t1 = performance.now();
    const zkey = await zkeys.get(request.zkey);
    const { proof, publicSignals } = await snarkjs.groth16.prove(
        { type: "mem", data: zkey },
        { type: "mem", data: wtns },
    );
    const t2 = performance.now();
    return { proof, publicSignals, ms: { witness: t1 - t0, prove: t2 - t1 } };
}

async function writeWitness(request) {
    const t0 = performance.now();
    const wtns = await witness(request.wasm, request.input);
    fs.writeFileSync(request.out, wtns);
    return { out: request.out, ms: { witness: performance.now() - t0 } };
}

async function handle(request) {
    switch (request.op) {
        case "prove":
            return prove(request);
        case "witness":
            return writeWitness(request);
        case "ping":
            await warmCurve();
            return { pid: process.pid, threads, rss: process.memoryUsage().rss };
        default:
            throw new RequestError("internal", `unknown op ${JSON.stringify(request.op)}`);
    }
}

function reply(message) {
    protocolOut.write(JSON.stringify(message) + "\n");
}

// Requests are served one at a time, in arrival order.
let queue = Promise.resolve();

readline.createInterface({ input: process.stdin, terminal: false })
    .on("line", (line) => {
        if (!line.trim()) return;
        queue = queue.then(async () => {
            let request;
            try {
                request = JSON.parse(line);
            } catch (err) {
                reply({ id: null, ok: false, kind: "internal", message: `bad request line: ${err.message}` });
                return;
            }
            try {
                reply({ id: request.id, ok: true, ...(await handle(request)) });
            } catch (err) {
                const kind = err instanceof RequestError ? err.kind : "internal";
                reply({ id: request.id, ok: false, kind, message: String((err && err.message) || err) });
            }
        });
    })
    // stdin closed: the parent is gone or done. Answer what was asked, then exit even though
    // the curve's threads would keep the event loop alive.
    .on("close", () => queue.then(() => process.exit(0)));
protocolOut.on("error", () => process.exit(0)); // EPIPE: nobody is reading the answers
