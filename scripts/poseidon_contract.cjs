#!/usr/bin/env node
// Print circomlibjs' generated Poseidon contract for n inputs as JSON: {nInputs, abi, bytecode,
// circomlibjs}. The bytecode is circomlibjs' own (poseidonContract.createCode), so the on-chain
// hash equals the circuits' and zkrisk.prover.poseidon's by construction; tests check it anyway.
// Usage: node scripts/poseidon_contract.cjs <nInputs> [node_modules]
'use strict';
const path = require('path');

function main() {
  const n = Number(process.argv[2]);
  if (!Number.isInteger(n) || n < 1 || n > 8) {
    process.stderr.write('usage: poseidon_contract.cjs <nInputs 1..8> [node_modules]\n');
    process.exit(2);
  }
  const modules = process.argv[3] || path.join(__dirname, '..', 'node_modules');
  const circomlibjs = require(path.join(modules, 'circomlibjs'));
  const version = require(path.join(modules, 'circomlibjs', 'package.json')).version;
  const { createCode, generateABI } = circomlibjs.poseidonContract;
  process.stdout.write(JSON.stringify({
    nInputs: n, circomlibjs: version, abi: generateABI(n), bytecode: createCode(n),
  }) + '\n');
}

main();
