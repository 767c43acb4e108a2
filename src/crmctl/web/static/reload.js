// Live reload: listens to the sandbox's change stream (/_sandbox/changes, server-sent events). When a served
// package changes it dispatches `crmctl:reload` on window ({detail: {package, generation, errors}}); views re-mount
// on it (app.js re-shows the views that do not listen themselves). While the package on screen has lint errors, an
// overlay (an alert dialog) lists them, located, instead of a broken view; it goes when the files are fixed.
import { announce, element, request } from "./api.js";

const known = new Map(); // package -> {generation, errors} as last heard
let overlay = null;
let returnFocus = null;

function shownPackage() {
  const first = location.hash.replace(/^#\/?/, "").split("/")[0];
  return first ? decodeURIComponent(first) : null;
}

async function showOverlay(name) {
  let found;
  try {
    found = await request(`/_sandbox/packages/${encodeURIComponent(name)}/diagnostics`);
  } catch {
    return; // the next change event tries again
  }
  const errors = found.diagnostics.filter((d) => d.severity === "error");
  if (!errors.length || shownPackage() !== name) return;
  const title = `${name} has ${errors.length} lint error${errors.length === 1 ? "" : "s"}`;
  const dialog = element(
    "div",
    {
      className: "reload-overlay",
      role: "alertdialog",
      "aria-modal": "true",
      "aria-labelledby": "reload-title",
      "aria-describedby": "reload-hint",
      tabindex: "-1",
      "data-package": name,
      "data-generation": String(found.generation),
    },
    element("h2", { id: "reload-title" }, title),
    element("p", { id: "reload-hint" }, "Fix the package's files: the view comes back by itself when they lint."),
    element(
      "ul",
      { className: "reload-errors" },
      ...errors.map((d) =>
        element("li", {}, element("code", {}, d.location), " ", element("strong", {}, d.code), " ", d.message),
      ),
    ),
  );
  const main = document.getElementById("main");
  if (!overlay) returnFocus = document.activeElement;
  hideOverlay({ quiet: true });
  overlay = dialog;
  main.hidden = true; // the overlay instead of a broken view
  document.body.append(dialog);
  dialog.focus();
  announce(`${title}. ${errors[0].location}: ${errors[0].message}`);
}

function hideOverlay({ quiet = false } = {}) {
  if (!overlay) return;
  const name = overlay.dataset.package;
  overlay.remove();
  overlay = null;
  const main = document.getElementById("main");
  main.hidden = false;
  if (quiet) return;
  (returnFocus && document.contains(returnFocus) ? returnFocus : main).focus();
  returnFocus = null;
  announce(`${name} lints again: the view was reloaded`);
}

function heard(change) {
  const before = known.get(change.name);
  known.set(change.name, change);
  if (change.name === shownPackage()) {
    if (change.errors > 0) showOverlay(change.name);
    else hideOverlay();
  }
  if (before && before.generation !== change.generation) {
    window.dispatchEvent(new CustomEvent("crmctl:reload", { detail: { package: change.name, ...change } }));
  }
}

window.addEventListener("hashchange", () => {
  const change = known.get(shownPackage());
  if (change && change.errors > 0) showOverlay(change.name);
  else hideOverlay({ quiet: true });
});

const changes = new EventSource("/_sandbox/changes");
changes.addEventListener("package", (event) => heard(JSON.parse(event.data)));
window.addEventListener("pagehide", () => changes.close());
