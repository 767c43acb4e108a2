'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const {
  documentFilters,
  findOnPath,
  initializationOptions,
  isExecutable,
  packageRoots,
  resolveServer,
} = require('../lib/server');

function tmpdir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'crmctl-vscode-'));
}

function executableFile(file) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '#!/bin/sh\n');
  fs.chmodSync(file, 0o755);
  return file;
}

test('a configured path wins over the workspace .venv and PATH', () => {
  const ws = tmpdir();
  executableFile(path.join(ws, '.venv', 'bin', 'crmctl'));
  const got = resolveServer({ configuredPath: '/opt/crmctl/bin/crmctl', workspaceFolders: [ws], envPath: '' });
  assert.deepEqual(got, { command: '/opt/crmctl/bin/crmctl', args: ['lsp'], source: 'setting', found: true });
});

test('a configured path expands ~ and ${workspaceFolder}', () => {
  const home = resolveServer({ configuredPath: '~/bin/crmctl', home: '/home/ann', platform: 'linux' });
  assert.equal(home.command, path.join('/home/ann', 'bin/crmctl'));
  const ws = resolveServer({ configuredPath: '${workspaceFolder}/tools/crmctl', workspaceFolders: ['/w'] });
  assert.equal(ws.command, '/w/tools/crmctl');
});

test('the default setting takes the workspace .venv before PATH', () => {
  const ws = tmpdir();
  const venv = executableFile(path.join(ws, '.venv', 'bin', 'crmctl'));
  const bin = path.dirname(executableFile(path.join(tmpdir(), 'crmctl')));
  const got = resolveServer({ workspaceFolders: [tmpdir(), ws], envPath: bin, platform: 'linux' });
  assert.deepEqual(got, { command: venv, args: ['lsp'], source: '.venv', found: true });
});

test('a .venv/bin/crmctl that is not executable is passed over', () => {
  const ws = tmpdir();
  const file = path.join(ws, '.venv', 'bin', 'crmctl');
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, '');
  fs.chmodSync(file, 0o644);
  const bin = path.dirname(executableFile(path.join(tmpdir(), 'crmctl')));
  const got = resolveServer({ workspaceFolders: [ws], envPath: bin, platform: 'linux' });
  assert.equal(got.source, 'PATH');
  assert.equal(got.command, path.join(bin, 'crmctl'));
});

test('without a .venv, crmctl comes from PATH; missing everywhere it says so', () => {
  const bin = path.dirname(executableFile(path.join(tmpdir(), 'crmctl')));
  const empty = tmpdir();
  const found = resolveServer({ workspaceFolders: [tmpdir()], envPath: `${empty}:${bin}`, platform: 'linux' });
  assert.deepEqual(found, { command: path.join(bin, 'crmctl'), args: ['lsp'], source: 'PATH', found: true });
  const missing = resolveServer({ workspaceFolders: [], envPath: empty, platform: 'linux' });
  assert.deepEqual(missing, { command: 'crmctl', args: ['lsp'], source: 'PATH', found: false });
});

test('extra arguments go between the executable and lsp', () => {
  const got = resolveServer({ configuredPath: 'uv', extraArgs: ['run', 'crmctl'] });
  assert.deepEqual(got.args, ['run', 'crmctl', 'lsp']);
});

test('Windows looks for .venv\\Scripts\\crmctl.exe and crmctl.exe on PATH', () => {
  const seen = [];
  const executable = (file) => {
    seen.push(file);
    return false;
  };
  resolveServer({ workspaceFolders: ['W'], envPath: 'A;B', platform: 'win32', executable });
  assert.deepEqual(seen, [
    path.join('W', '.venv', 'Scripts', 'crmctl.exe'),
    path.join('A', 'crmctl.exe'),
    path.join('A', 'crmctl.cmd'),
    path.join('A', 'crmctl'),
    path.join('B', 'crmctl.exe'),
    path.join('B', 'crmctl.cmd'),
    path.join('B', 'crmctl'),
  ]);
});

test('findOnPath skips empty entries and directories named crmctl', () => {
  const dir = tmpdir();
  fs.mkdirSync(path.join(dir, 'crmctl'));
  assert.equal(findOnPath('crmctl', `::${dir}`, 'linux'), undefined);
  assert.equal(isExecutable(path.join(dir, 'crmctl')), false);
});

test('debounceMs is sent only as a non-negative integer', () => {
  assert.deepEqual(initializationOptions(250), { debounceMs: 250 });
  assert.deepEqual(initializationOptions(0), { debounceMs: 0 });
  for (const bad of [null, undefined, -1, 2.5, '300']) assert.deepEqual(initializationOptions(bad), {});
});

test('package roots are the manifest directories, deduplicated and sorted', () => {
  const roots = packageRoots([
    '/r/packages/Lead/v2/package.yaml',
    '/r/packages/Lead/v1/package.yml',
    '/r/packages/Lead/v1/package.yaml',
    '/r/node/package.json',
  ]);
  assert.deepEqual(roots, ['/r/packages/Lead/v1', '/r/packages/Lead/v2']);
});

test('each package gets a YAML and a JSON file filter', () => {
  assert.deepEqual(documentFilters(['/p']), [
    { scheme: 'file', language: 'yaml', root: '/p', glob: '**/*' },
    { scheme: 'file', language: 'json', root: '/p', glob: '**/*' },
  ]);
});
