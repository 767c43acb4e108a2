'use strict';
// Copies crmctl's shipped JSON Schemas (src/crmctl/model/schemas) into the extension's schemas/ before packaging
// (npm's `vscode:prepublish`), so the .vsix carries the schemas of the crmctl it was built from.

const fs = require('node:fs');
const path = require('node:path');

const source = path.resolve(__dirname, '..', '..', '..', 'src', 'crmctl', 'model', 'schemas');
const target = path.resolve(__dirname, '..', 'schemas');

const names = fs.readdirSync(source).filter((name) => name.endsWith('.schema.json')).sort();
if (names.length === 0) throw new Error(`no *.schema.json in ${source}`);
fs.rmSync(target, { recursive: true, force: true });
fs.mkdirSync(target, { recursive: true });
for (const name of names) fs.copyFileSync(path.join(source, name), path.join(target, name));
console.log(`copied ${names.length} schemas from ${path.relative(process.cwd(), source)}`);
