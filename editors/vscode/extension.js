'use strict';
// The VS Code client of `crmctl lsp`: starts the server over stdio for the packages in the workspace and gives
// the YAML extension the JSON Schema of each artifact. The decisions live in lib/ (tested without VS Code).

const fs = require('node:fs');
const path = require('node:path');
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');
const { SETTINGS, documentFilters, initializationOptions, packageRoots, resolveServer } = require('./lib/server');
const { SCHEME, schemaFileFor, schemaKindFor, schemaUri } = require('./lib/schemas');

const MANIFEST_GLOB = '**/package.{yaml,yml}';
const EXCLUDE_GLOB = '**/{node_modules,.git,.venv}/**';

let client;
let output;

function setting(key) {
  const dot = key.indexOf('.');
  return vscode.workspace.getConfiguration(key.slice(0, dot)).get(key.slice(dot + 1));
}

function folders() {
  return (vscode.workspace.workspaceFolders || []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
}

async function startClient() {
  const manifests = await vscode.workspace.findFiles(MANIFEST_GLOB, EXCLUDE_GLOB);
  const roots = packageRoots(manifests.map((uri) => uri.fsPath));
  if (roots.length === 0) return;
  const workspaceFolders = folders();
  const server = resolveServer({
    configuredPath: setting(SETTINGS.path),
    extraArgs: setting(SETTINGS.extraArgs) || [],
    workspaceFolders,
  });
  output.appendLine(`crmctl: starting ${server.command} ${server.args.join(' ')} (found via ${server.source})`);
  if (!server.found) {
    const message =
      'crmctl was not found on PATH nor in the workspace .venv. Install it (pip install crmctl) or set "crmctl.server.path".';
    vscode.window.showErrorMessage(message, 'Open settings').then((choice) => {
      if (choice) vscode.commands.executeCommand('workbench.action.openSettings', SETTINGS.path);
    });
    return;
  }
  const executable = {
    command: server.command,
    args: server.args,
    transport: TransportKind.stdio,
    options: { cwd: workspaceFolders[0] },
  };
  const documentSelector = documentFilters(roots).map((f) => ({
    scheme: f.scheme,
    language: f.language,
    pattern: new vscode.RelativePattern(vscode.Uri.file(f.root), f.glob),
  }));
  const clientOptions = {
    documentSelector,
    initializationOptions: initializationOptions(setting(SETTINGS.debounceMs)),
    outputChannel: output,
    synchronize: { fileEvents: vscode.workspace.createFileSystemWatcher('**/*.{yaml,yml,json,toml}') },
  };
  client = new LanguageClient('crmctl', 'crmctl', { run: executable, debug: executable }, clientOptions);
  await client.start();
}

async function stopClient() {
  if (client) {
    const running = client;
    client = undefined;
    await running.stop();
  }
}

async function restartClient() {
  await stopClient();
  await startClient();
}

async function registerYamlSchemas(context) {
  if (!setting(SETTINGS.yamlSchemas)) return;
  const yaml = vscode.extensions.getExtension('redhat.vscode-yaml');
  if (!yaml) return;
  let api;
  try {
    api = await yaml.activate();
  } catch (error) {
    output.appendLine(`crmctl: the YAML extension failed to activate, no schemas given to it: ${error}`);
    return;
  }
  if (!api || typeof api.registerContributor !== 'function') return;
  const schemasDir = path.join(context.extensionPath, 'schemas');
  api.registerContributor(
    SCHEME,
    (resource) => {
      const uri = vscode.Uri.parse(resource);
      if (uri.scheme !== 'file') return undefined;
      const kind = schemaKindFor(uri.fsPath);
      return kind ? schemaUri(kind) : undefined;
    },
    (uri) => {
      const file = schemaFileFor(uri, schemasDir);
      return file ? fs.readFileSync(file, 'utf8') : undefined;
    },
    'crmctl package artifact',
  );
}

async function activate(context) {
  output = vscode.window.createOutputChannel('crmctl');
  context.subscriptions.push(output);
  context.subscriptions.push(
    vscode.commands.registerCommand('crmctl.restartServer', restartClient),
    vscode.commands.registerCommand('crmctl.showOutput', () => output.show()),
    vscode.workspace.onDidChangeConfiguration((event) => {
      if (event.affectsConfiguration('crmctl.server')) restartClient();
    }),
  );
  // A package appearing or disappearing changes the document selector: restart with the new set of packages.
  const manifests = vscode.workspace.createFileSystemWatcher(MANIFEST_GLOB, false, true, false);
  manifests.onDidCreate(restartClient);
  manifests.onDidDelete(restartClient);
  context.subscriptions.push(manifests);
  await registerYamlSchemas(context);
  await startClient();
}

function deactivate() {
  return stopClient();
}

module.exports = { activate, deactivate };
