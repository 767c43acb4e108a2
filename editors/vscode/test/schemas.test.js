'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { allKinds, packageRootOf, schemaFileFor, schemaKindFor, schemaUri } = require('../lib/schemas');

const REPO = path.resolve(__dirname, '..', '..', '..');
const SHIPPED = path.join(REPO, 'src', 'crmctl', 'model', 'schemas');

function tmpPackage() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'crmctl-pkg-'));
  const pkg = path.join(root, 'packages', 'Lead', 'v1');
  fs.mkdirSync(path.join(pkg, 'localization'), { recursive: true });
  fs.writeFileSync(path.join(pkg, 'package.yaml'), 'name: Lead\n');
  return { root, pkg };
}

test('artifacts inside a package get their kind, by place and name', () => {
  const { pkg } = tmpPackage();
  const cases = {
    'package.yaml': 'package',
    'schema.yaml': 'schema',
    'ui.yml': 'ui',
    'rules.yaml': 'rules',
    'validations.yaml': 'validations',
    'workflow.yaml': 'workflow',
    'events.yaml': 'events',
    'localization/de.yaml': 'localization',
    'scripts/capture-lead.yaml': 'script',
    'scenarios/deep/first-contact.yaml': 'scenario',
  };
  for (const [relative, kind] of Object.entries(cases)) {
    assert.equal(schemaKindFor(path.join(pkg, relative)), kind, relative);
  }
});

test('files that are not artifacts, or outside any package, get no schema', () => {
  const { root, pkg } = tmpPackage();
  for (const file of [
    path.join(root, 'ui.yaml'), // no package.yaml above it
    path.join(pkg, 'notes.yaml'),
    path.join(pkg, 'schema.json'), // JSON: not the YAML extension's business
    path.join(pkg, 'localization', 'nested', 'de.yaml'),
    path.join(pkg, '.crmctl', 'schemas', 'ui.yaml'),
    path.join(pkg, 'other', 'rules.yaml'),
  ]) {
    assert.equal(schemaKindFor(file), undefined, file);
  }
});

test('the nearest manifest decides the package', () => {
  const { root, pkg } = tmpPackage();
  fs.writeFileSync(path.join(root, 'package.yaml'), 'name: Outer\n');
  assert.equal(packageRootOf(path.join(pkg, 'localization', 'en.yaml')), pkg);
  assert.equal(schemaKindFor(path.join(pkg, 'localization', 'en.yaml')), 'localization');
  // Seen from the outer package, packages/Lead/v1/schema.yaml is not a top-level artifact.
  assert.equal(schemaKindFor(path.join(root, 'packages', 'schema.yaml')), undefined);
});

test('every kind has a schema shipped by crmctl', () => {
  for (const kind of allKinds()) {
    assert.ok(fs.existsSync(path.join(SHIPPED, `${kind}.schema.json`)), kind);
  }
});

test('the top-level kinds are crmctl.model.package.ARTIFACT_KINDS', () => {
  const source = fs.readFileSync(path.join(REPO, 'src', 'crmctl', 'model', 'package.py'), 'utf8');
  const match = /^ARTIFACT_KINDS = \(([^)]*)\)/m.exec(source);
  assert.ok(match, 'ARTIFACT_KINDS not found in package.py');
  const kinds = [...match[1].matchAll(/"([a-z]+)"/g)].map((m) => m[1]);
  const { pkg } = tmpPackage();
  for (const kind of kinds) assert.equal(schemaKindFor(path.join(pkg, `${kind}.yaml`)), kind);
});

test('schema uris round-trip to files, and nothing else maps', () => {
  assert.equal(schemaUri('ui'), 'crmctl://schemas/ui.schema.json');
  assert.equal(schemaFileFor(schemaUri('ui'), '/ext/schemas'), path.join('/ext/schemas', 'ui.schema.json'));
  for (const bad of ['crmctl://schemas/../../etc/passwd', 'https://crmctl.dev/schemas/v1/ui.schema.json', '']) {
    assert.equal(schemaFileFor(bad, '/ext/schemas'), undefined, bad);
  }
});
