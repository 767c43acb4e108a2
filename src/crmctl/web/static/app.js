// The sandbox's renderer: the index of served packages and a hash router over the views. Each view is an ES module
// exporting `mount(root, context)` and returning an `unmount()` (or nothing):
//   #/PACKAGE            -> form.js      (the package's form, driven by the form-session engine)
//   #/PACKAGE/workflow   -> workflow.js  (instances, timeline, tasks, approvals, the virtual clock)
import { element, request } from "./api.js";
import "./reload.js";

// Views that re-mount themselves on `crmctl:reload` (reload.js); app.js re-shows the others.
const RELOADING_THEMSELVES = new Set(["form", "workflow"]);

const nav = document.getElementById("packages");
const main = document.getElementById("main");
let unmount = null;
let packages = [];

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  return { package: parts[0] || null, view: parts[1] || "form", rest: parts.slice(2) };
}

async function show() {
  if (typeof unmount === "function") unmount();
  unmount = null;
  const where = route();
  main.replaceChildren();
  if (!where.package) {
    main.append(element("p", {}, packages.length ? "Choose a package above." : "No package is served."));
    return;
  }
  const known = packages.find((p) => p.name === where.package);
  if (!known) {
    main.append(element("p", { role: "alert" }, `No package ${where.package} is served here.`));
    return;
  }
  const views = { form: "./form.js", workflow: "./workflow.js" };
  const module = await import(views[where.view] || views.form);
  unmount = await module.mount(main, { package: known, route: where, refreshPackages: loadPackages });
  main.focus();
}

async function loadPackages() {
  ({ packages } = await request("/_sandbox/packages"));
  // One group per package; each "workflow" link says whose (a screen reader's list of links shows them apart).
  nav.replaceChildren(...packages.map((p) => element(
    "span",
    { className: "pkg" },
    element("a", { href: `#/${encodeURIComponent(p.name)}` }, p.version ? `${p.name} ${p.version}` : p.name),
    element("a", { href: `#/${encodeURIComponent(p.name)}/workflow`, "aria-label": `${p.name} workflow` }, "workflow"),
  )));
  return packages;
}

window.addEventListener("hashchange", show);
window.addEventListener("crmctl:reload", async (event) => {
  await loadPackages();
  const where = route();
  const lints = !event.detail.errors; // while it does not, the overlay stands in for the view
  if (where.package === event.detail.package && lints && !RELOADING_THEMSELVES.has(where.view)) await show();
});
await loadPackages();
if (!location.hash && packages.length === 1) location.hash = `#/${encodeURIComponent(packages[0].name)}`;
else await show();
