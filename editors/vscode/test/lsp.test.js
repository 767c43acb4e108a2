'use strict';
// The command the extension builds, started for real: resolveServer finds the repository's .venv/bin/crmctl,
// spawned the way vscode-languageclient spawns a stdio Executable (args + `--stdio`), spoken to with the
// protocol library the client itself uses. Skipped while `crmctl lsp` does not exist in that crmctl.
const test = require('node:test');
const assert = require('node:assert/strict');
const cp = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { StreamMessageReader, StreamMessageWriter, createProtocolConnection } = require('vscode-languageserver-protocol/node');
const { initializationOptions, resolveServer } = require('../lib/server');

const REPO = path.resolve(__dirname, '..', '..', '..');

function serverCommand() {
  const server = resolveServer({ configuredPath: process.env.CRMCTL || 'crmctl', workspaceFolders: [REPO] });
  if (!server.found) return { skip: 'crmctl is neither in the repository .venv nor on PATH' };
  const help = cp.spawnSync(server.command, ['lsp', '--help'], { encoding: 'utf8', timeout: 30000 });
  if (help.status !== 0) return { skip: `${server.command} has no \`lsp\` command yet` };
  return { server };
}

const { server, skip } = serverCommand();

test('crmctl lsp, started as the extension starts it, checks an unsaved package file', { skip, timeout: 60000 }, async () => {
  const child = cp.spawn(server.command, [...server.args, '--stdio'], { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (data) => {
    stderr += data;
  });
  const connection = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  connection.listen();
  try {
    const result = await connection.sendRequest('initialize', {
      processId: process.pid,
      rootUri: `file://${REPO}`,
      workspaceFolders: [{ uri: `file://${REPO}`, name: 'crmctl' }],
      capabilities: {},
      initializationOptions: initializationOptions(50),
    });
    assert.ok(result && result.capabilities, `no capabilities; stderr: ${stderr}`);
    assert.ok(result.capabilities.textDocumentSync !== undefined, 'the server does not sync documents');
    connection.sendNotification('initialized', {});
    // A file the extension's selector hands over (YAML inside a package), unsaved and broken: the server checks it.
    const manifest = path.join(REPO, 'packages', 'LeadLifecycle', 'v1', 'package.yaml');
    const uri = `file://${manifest}`;
    const published = new Promise((resolve) => {
      connection.onNotification('textDocument/publishDiagnostics', (params) => {
        if (params.uri === uri && params.diagnostics.length > 0) resolve(params.diagnostics);
      });
    });
    const text = `${fs.readFileSync(manifest, 'utf8')}bogusKey: 1\n`;
    connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'yaml', version: 1, text } });
    const diagnostics = await published;
    const last = text.split('\n').length - 2; // 0-based line of bogusKey
    assert.ok(
      diagnostics.some((d) => d.range.start.line === last && /bogusKey/.test(d.message)),
      JSON.stringify(diagnostics),
    );
    await connection.sendRequest('shutdown');
    connection.sendNotification('exit');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
  } finally {
    connection.dispose();
    child.kill();
  }
});
