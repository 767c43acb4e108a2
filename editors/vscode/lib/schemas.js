'use strict';
// Which crmctl JSON Schema describes a YAML file: decided by where the file sits in its package, the directory
// holding package.yaml. Handed to the YAML extension (redhat.vscode-yaml) through its schema contributor API,
// so `ui.yaml` in a crmctl package gets ui.schema.json while `ui.yaml` anywhere else is left alone.

const fs = require('node:fs');
const path = require('node:path');
const { MANIFESTS } = require('./server');

const SCHEME = 'crmctl';
// The artifacts a package holds at its top level (crmctl.model.package.ARTIFACT_KINDS).
const TOP_LEVEL = Object.freeze(['package', 'schema', 'ui', 'rules', 'validations', 'workflow', 'events']);
// Directories whose YAML files have one kind: locales, and the template's simulation scripts and scenarios.
const DIRECTORIES = Object.freeze({ localization: 'localization', scripts: 'script', scenarios: 'scenario' });
const YAML = ['.yaml', '.yml'];
const MAX_DEPTH = 64;

function hasManifest(dir) {
  return MANIFESTS.some((name) => {
    try {
      return fs.statSync(path.join(dir, name)).isFile();
    } catch {
      return false;
    }
  });
}

/** The package directory holding `file` (the nearest ancestor with a manifest), or undefined. */
function packageRootOf(file, isPackageDir = hasManifest) {
  let dir = path.dirname(path.resolve(file));
  for (let depth = 0; depth < MAX_DEPTH; depth += 1) {
    if (isPackageDir(dir)) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
  return undefined;
}

/** The artifact kind (`schema`, `localization`, `script`, ...) of a YAML file, or undefined when it has none. */
function schemaKindFor(file, isPackageDir = hasManifest) {
  const ext = path.extname(file).toLowerCase();
  if (!YAML.includes(ext)) return undefined;
  const root = packageRootOf(file, isPackageDir);
  if (root === undefined) return undefined;
  const parts = path.relative(root, path.resolve(file)).split(path.sep);
  if (parts.some((part) => part.startsWith('.'))) return undefined;
  if (parts.length === 1) {
    const stem = path.basename(parts[0], path.extname(parts[0]));
    return TOP_LEVEL.includes(stem) ? stem : undefined;
  }
  const kind = DIRECTORIES[parts[0]];
  if (kind === 'localization') return parts.length === 2 ? kind : undefined;
  return kind;
}

function schemaUri(kind) {
  return `${SCHEME}://schemas/${kind}.schema.json`;
}

/** The file, in the extension's `schemas/` directory, behind a `crmctl://schemas/<kind>.schema.json` uri. */
function schemaFileFor(uri, schemasDir) {
  const match = /^crmctl:\/\/schemas\/([a-z]+)\.schema\.json$/.exec(uri);
  return match ? path.join(schemasDir, `${match[1]}.schema.json`) : undefined;
}

function allKinds() {
  return [...TOP_LEVEL, ...new Set(Object.values(DIRECTORIES))];
}

module.exports = { SCHEME, allKinds, packageRootOf, schemaFileFor, schemaKindFor, schemaUri };
