#!/usr/bin/env node
// A `solc` executable over the npm `solc` package (solc compiled to WASM), for machines where no
// native solc can be installed. It answers the two things py-solc-x and forge ask of a compiler:
// `--version` and `--standard-json` (JSON on stdin, JSON on stdout). Nothing else is printed on
// stdout, unlike `solcjs`, which prefixes its JSON with a warning line.
'use strict';
const fs = require('fs');
const path = require('path');

function loadSolc() {
  const searchFrom = [process.env.ZKRISK_NODE_MODULES, process.cwd(), __dirname].filter(Boolean);
  for (const start of searchFrom) {
    try {
      return require(require.resolve('solc', { paths: [start] }));
    } catch (_) { /* try the next place */ }
  }
  process.stderr.write('solc-shim: npm package "solc" not found; run `npm ci` in the zkrisk repository\n');
  process.exit(2);
}

function optionValues(args, name) {
  const values = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === name && i + 1 < args.length) values.push(...args[i + 1].split(','));
    else if (args[i].startsWith(name + '=')) values.push(...args[i].slice(name.length + 1).split(','));
  }
  return values;
}

function main() {
  const args = process.argv.slice(2);
  const solc = loadSolc();
  if (args.includes('--version') || args.includes('-v')) {
    process.stdout.write('solc, the solidity compiler commandline interface\nVersion: ' + solc.version() + '\n');
    return;
  }
  if (!args.includes('--standard-json')) {
    process.stderr.write('solc-shim: only --version and --standard-json are supported\n');
    process.exit(2);
  }
  const roots = [process.cwd(), ...optionValues(args, '--base-path'), ...optionValues(args, '--include-path'),
    ...optionValues(args, '--allow-paths')];
  // Import callback: resolve a source unit name against the base / include / allowed paths.
  const findImports = (unit) => {
    for (const root of roots) {
      const candidate = path.isAbsolute(unit) ? unit : path.join(root, unit);
      if (fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
        return { contents: fs.readFileSync(candidate, 'utf8') };
      }
    }
    return { error: 'File not found: ' + unit + ' (searched ' + roots.join(', ') + ')' };
  };
  const input = fs.readFileSync(0, 'utf8');
  process.stdout.write(solc.compile(input, { import: findImports }));
}

main();
