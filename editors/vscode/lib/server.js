'use strict';
// How the extension starts `crmctl lsp` and which documents it hands to it. Pure functions over plain values
// (no `vscode` import), so node's test runner checks them without VS Code.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

// The settings extension.js reads; package.json's contributes.configuration declares each (a test checks both ways).
const SETTINGS = Object.freeze({
  path: 'crmctl.server.path',
  extraArgs: 'crmctl.server.extraArgs',
  debounceMs: 'crmctl.server.debounceMs',
  yamlSchemas: 'crmctl.yamlSchemas.enable',
  trace: 'crmctl.trace.server',
});

const DEFAULT_PATH = 'crmctl';

// A package is a directory holding its manifest. `package.json` is a valid crmctl manifest too, but every npm
// project has one, so only the YAML spellings mark a package for the editor.
const MANIFESTS = Object.freeze(['package.yaml', 'package.yml']);

function isExecutable(file) {
  try {
    fs.accessSync(file, process.platform === 'win32' ? fs.constants.F_OK : fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function venvCrmctl(folder, platform) {
  return platform === 'win32'
    ? path.join(folder, '.venv', 'Scripts', 'crmctl.exe')
    : path.join(folder, '.venv', 'bin', 'crmctl');
}

function findOnPath(name, envPath, platform, executable = isExecutable) {
  const sep = platform === 'win32' ? ';' : ':';
  const names = platform === 'win32' ? [`${name}.exe`, `${name}.cmd`, name] : [name];
  for (const dir of (envPath || '').split(sep)) {
    if (!dir) continue;
    for (const candidate of names) {
      const full = path.join(dir, candidate);
      if (executable(full)) return full;
    }
  }
  return undefined;
}

function expand(value, workspaceFolders, home) {
  let out = value;
  if (out === '~' || out.startsWith('~/')) out = path.join(home, out.slice(1));
  if (workspaceFolders.length > 0) out = out.split('${workspaceFolder}').join(workspaceFolders[0]);
  return out;
}

/**
 * The command that runs the server, and where it was found:
 * 1. `crmctl.server.path` when it is set to anything but the default `crmctl` (expanded, used as given);
 * 2. else the first workspace folder's `.venv/bin/crmctl` that exists and is executable;
 * 3. else `crmctl` on PATH (`found: false` when it is not there, so the extension can say so).
 * The arguments are `<extraArgs…> lsp`.
 */
function resolveServer({
  configuredPath = DEFAULT_PATH,
  extraArgs = [],
  workspaceFolders = [],
  envPath = process.env.PATH,
  platform = process.platform,
  home = os.homedir(),
  executable = isExecutable,
} = {}) {
  const args = [...extraArgs.map(String), 'lsp'];
  const configured = (configuredPath || '').trim();
  if (configured && configured !== DEFAULT_PATH) {
    const command = expand(configured, workspaceFolders, home);
    return { command, args, source: 'setting', found: true };
  }
  for (const folder of workspaceFolders) {
    const candidate = venvCrmctl(folder, platform);
    if (executable(candidate)) return { command: candidate, args, source: '.venv', found: true };
  }
  const onPath = findOnPath(DEFAULT_PATH, envPath, platform, executable);
  return { command: onPath || DEFAULT_PATH, args, source: 'PATH', found: onPath !== undefined };
}

/** `initializationOptions` for the server: `debounceMs` only when it is set to a non-negative integer. */
function initializationOptions(debounceMs) {
  if (Number.isInteger(debounceMs) && debounceMs >= 0) return { debounceMs };
  return {};
}

/** The package directories named by the manifests found in the workspace, deduplicated and sorted. */
function packageRoots(manifestPaths) {
  const roots = new Set();
  for (const file of manifestPaths) {
    if (MANIFESTS.includes(path.basename(file))) roots.add(path.dirname(file));
  }
  return [...roots].sort();
}

/**
 * Document filters, as plain objects, for the YAML and JSON files under each package directory;
 * extension.js turns `{root, glob}` into a vscode.RelativePattern.
 */
function documentFilters(roots) {
  const filters = [];
  for (const root of roots) {
    for (const language of ['yaml', 'json']) filters.push({ scheme: 'file', language, root, glob: '**/*' });
  }
  return filters;
}

module.exports = {
  DEFAULT_PATH,
  MANIFESTS,
  SETTINGS,
  documentFilters,
  findOnPath,
  initializationOptions,
  isExecutable,
  packageRoots,
  resolveServer,
};
