'use strict';
// package.json against the code: the settings, commands and activation events the extension relies on.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { DEFAULT_PATH, MANIFESTS, SETTINGS } = require('../lib/server');

const ROOT = path.resolve(__dirname, '..');
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const extensionSource = fs.readFileSync(path.join(ROOT, manifest.main), 'utf8');
const properties = manifest.contributes.configuration.properties;

test('every setting the code reads is contributed, and every contributed one is read', () => {
  assert.deepEqual(Object.values(SETTINGS).sort(), Object.keys(properties).sort());
});

test('extension.js reads settings only through SETTINGS names that exist', () => {
  const used = [...extensionSource.matchAll(/SETTINGS\.(\w+)/g)].map((m) => m[1]);
  assert.ok(used.length > 0);
  for (const name of used) assert.ok(name in SETTINGS, name);
  assert.doesNotMatch(extensionSource, /getConfiguration\(\s*['"]/);
});

test('the server path defaults to crmctl and the trace setting matches the client id', () => {
  assert.equal(properties[SETTINGS.path].default, DEFAULT_PATH);
  assert.match(extensionSource, /new LanguageClient\('crmctl'/);
  assert.equal(SETTINGS.trace, 'crmctl.trace.server'); // vscode-languageclient reads `<client id>.trace.server`
});

test('the extension activates in a workspace holding a package manifest', () => {
  assert.deepEqual(
    manifest.activationEvents.sort(),
    MANIFESTS.map((name) => `workspaceContains:**/${name}`).sort(),
  );
});

test('the contributed commands are the registered ones', () => {
  const registered = [...extensionSource.matchAll(/registerCommand\('([^']+)'/g)].map((m) => m[1]).sort();
  assert.deepEqual(manifest.contributes.commands.map((c) => c.command).sort(), registered);
});

test('main, the pinned client and the VS Code engine agree', () => {
  assert.ok(fs.existsSync(path.join(ROOT, manifest.main)));
  const client = require('vscode-languageclient/package.json');
  assert.equal(client.version, manifest.dependencies['vscode-languageclient']);
  // The client refuses to run in a VS Code older than its own engine: ours must not promise less.
  assert.equal(manifest.engines.vscode, client.engines.vscode);
});

test('extension.js compiles (it needs VS Code to run, so it is only compiled here)', () => {
  const vm = require('node:vm');
  assert.doesNotThrow(() => new vm.Script(`(function (require, module, exports) {${extensionSource}\n})`));
  assert.throws(() => new vm.Script(`(function () {${extensionSource.replace('async function activate', 'async function (')}\n})`));
});
