'use strict';
// The command the extension builds, started for real: resolveServer finds the repository's .venv/bin/crmctl,
// spawned the way vscode-languageclient spawns a stdio Executable (args + `--stdio`), spoken to with the
// protocol library the client itself uses. Skipped while `crmctl lsp` does not exist in that crmctl.
const test = require('node:test');
const assert = require('node:assert/strict');
const cp = require('node:child_process');
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

test('crmctl lsp answers initialize as the extension starts it', { skip, timeout: 60000 }, async () => {
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
    await connection.sendRequest('shutdown');
    connection.sendNotification('exit');
    const code = await new Promise((resolve) => child.on('exit', resolve));
    assert.equal(code, 0, stderr);
  } finally {
    connection.dispose();
    child.kill();
  }
});
