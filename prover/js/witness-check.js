// Check many inputs against one circuit in a single Node process (no proof, no files).
// usage: node witness-check.js <main_js dir> <number of public signals>
// stdin: one JSON object of input signals per line; stdout: one JSON line per input,
//   {"ok": true, "public": ["<decimal>", ...]}  or  {"ok": false, "error": "<message>"}.
// Loading the wasm once makes a check cost milliseconds instead of a CLI start per input,
// which is what lets the equivalence tests run thousands of cases.
"use strict";
const fs = require("fs");
const path = require("path");
const readline = require("readline");

async function main() {
    const [dir, nPublicArg] = process.argv.slice(2);
    const nPublic = Number.parseInt(nPublicArg, 10);
    const builder = require(path.resolve(dir, "witness_calculator.js"));
    const calculator = await builder(fs.readFileSync(path.resolve(dir, "main.wasm")));
    // The generated calculator appends every failure's template trace to one string that it
    // never resets; report only the part a failure added.
    let reported = 0;
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
        if (!line.trim()) continue;
        let reply;
        try {
            const witness = await calculator.calculateWitness(JSON.parse(line), true);
            reply = { ok: true, public: witness.slice(1, 1 + nPublic).map(String) };
        } catch (err) {
            const message = String((err && err.message) || err);
            const cut = message.indexOf("\n");
            const head = cut < 0 ? message : message.slice(0, cut);
            const trace = cut < 0 ? "" : message.slice(cut + 1);
            const fresh = trace.length >= reported ? trace.slice(reported) : trace;
            reported = trace.length;
            reply = { ok: false, error: `${head}\n${fresh}`.trim() };
        }
        process.stdout.write(JSON.stringify(reply) + "\n");
    }
}

main().catch((err) => {
    process.stderr.write(`witness-check: ${err && err.stack ? err.stack : err}\n`);
    process.exit(1);
});
