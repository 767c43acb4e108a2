// The workflow view (#/PACKAGE/workflow): the package's workflow instances in the sandbox's tenant, the timeline of
// one of them, the work waiting for people, and the virtual clock. It only renders what the server answers (the
// engine's instances and effects, with their words) and sends inputs; the engine decides (docs/serve.md).
import { announce, element, request } from "./api.js";

const ATTENTION = new Set(["sla-warning", "sla-breach", "escalation", "refused", "approval-rejected", "reassigned"]);
const QUIET = new Set(["guard", "timer-cleared"]); // shown by the terminal's JSON only, as in `workflow simulate`

export async function mount(root, ctx) {
  const name = ctx.package.name;
  const base = `/_sandbox/packages/${encodeURIComponent(name)}/workflow`;
  const flowParam = () => (state.workflow ? `?workflow=${encodeURIComponent(state.workflow)}` : "");
  const state = { workflow: null, overview: null, selected: null, detail: null, busy: false };

  const actor = element("input", { id: "wf-actor", value: "alice/salesRep", autocomplete: "off", size: 22 });
  const status = element("p", { className: "wf-status", role: "alert" });
  const clockView = element("section", { className: "wf-clock", "aria-labelledby": "wf-clock-title" });
  const startView = element("section", { className: "wf-start", "aria-labelledby": "wf-start-title" });
  const listView = element("section", { className: "wf-instances", "aria-labelledby": "wf-instances-title" });
  const detailView = element("section", { className: "wf-detail", "aria-live": "off" });

  root.append(
    element("h1", { id: "wf-title" }, `${name} — workflow`),
    element(
      "p",
      { className: "wf-actor" },
      element("label", { htmlFor: "wf-actor" }, "Acting as (user/role) "),
      actor,
    ),
    status,
    clockView,
    startView,
    listView,
    detailView,
  );

  // Every input goes through here: one at a time, the problem's detail shown and announced, then a fresh look.
  async function act(what, url, body) {
    if (state.busy) return;
    state.busy = true;
    status.textContent = "";
    try {
      const answer = await request(url, { method: "POST", body });
      const shown = answer.effects.filter((e) => !QUIET.has(e.effect));
      const said = shown.map((e) => e.text).join("; ") || "nothing happened";
      announce(`${what}: ${said}`);
      if (answer.instance) state.selected = answer.instance.id;
      await refresh();
    } catch (problem) {
      status.textContent = problem.message; // a role="alert": announced as it appears
    } finally {
      state.busy = false;
    }
  }

  async function refresh() {
    state.overview = await request(base + flowParam());
    state.workflow = state.overview.workflow;
    const ids = state.overview.instances.map((i) => i.id);
    if (!ids.includes(state.selected)) state.selected = ids[0] || null;
    state.detail = state.selected
      ? await request(`${base}/instances/${encodeURIComponent(state.selected)}`)
      : null;
    render();
  }

  // Every render replaces the sections: the focused control (by its id or data-key) gets the focus back, or, when
  // it went (a transition no longer possible), the instance's heading: keyboard users are never left on <body>.
  function render() {
    const view = state.overview;
    const active = document.activeElement;
    const had = active && active !== root && root.contains(active) && !active.closest(".wf-actor");
    const key = had ? active.id || active.dataset.key : null;
    renderClock(view);
    renderStart(view);
    renderList(view);
    renderDetail(view);
    if (!had) return;
    const again = key && (document.getElementById(key) || root.querySelector(`[data-key="${CSS.escape(key)}"]`));
    (again || document.getElementById("wf-detail-title") || document.getElementById("wf-clock-title")).focus();
  }

  function renderClock(view) {
    // Two ways to move it: by a duration, or to a moment; each a small form (Enter submits).
    const advance = (key, label, value, size, button) => {
      const input = element("input", { id: `wf-${key}`, value, size, autocomplete: "off" });
      const submit = (e) => {
        e.preventDefault();
        act("Advanced", `${base}/clock`, { [key]: input.value });
      };
      return element(
        "form",
        { className: "wf-row", onsubmit: submit },
        element("label", { htmlFor: `wf-${key}` }, label),
        input,
        element("button", { type: "submit", "data-key": `clock-${key}` }, button),
      );
    };
    clockView.replaceChildren(
      element("h2", { id: "wf-clock-title", tabIndex: -1 }, "Virtual clock"),
      element("p", {}, "Now: ", element("time", { id: "wf-now", dateTime: view.clock }, view.clock)),
      advance("by", "Advance by", "1d", 6, "Advance"),
      advance("to", "Advance to", view.clock, 22, "Go"),
    );
  }

  function renderStart(view) {
    // What was typed survives the re-render (a click on an instance, a reload of the package); an instance id that
    // now exists was just started, and goes.
    const before = (key) => startView.querySelector(`#${key}`)?.value;
    const typedId = before("wf-instance") || "";
    const id = element("input", { id: "wf-instance", placeholder: "generated", autocomplete: "off", size: 14 });
    id.value = view.instances.some((i) => i.id === typedId.trim()) ? "" : typedId;
    const record = element(
      "select",
      { id: "wf-record" },
      element("option", { value: "" }, "— the data below —"),
      ...view.records.map((r) => element("option", { value: r.id }, `${view.entity} ${r.id} (${r.version})`)),
    );
    const data = element("textarea", { id: "wf-data", rows: 4, cols: 60, spellcheck: false }, "{}");
    if (before("wf-data") !== undefined) data.value = before("wf-data");
    if (view.records.some((r) => r.id === before("wf-record"))) record.value = before("wf-record");
    const submit = (e) => {
      e.preventDefault();
      const body = {};
      if (id.value.trim()) body.instance = id.value.trim();
      if (record.value) body.record = record.value;
      else {
        try {
          body.data = JSON.parse(data.value || "{}");
        } catch (error) {
          status.textContent = `Record data: ${error.message}`;
          data.focus();
          return;
        }
      }
      act("Started", `${base}/instances${flowParam()}`, body);
    };
    const flows = view.workflows.length > 1
      ? element(
          "label",
          {},
          "Workflow ",
          element(
            "select",
            { id: "wf-workflow", onchange: (e) => { state.workflow = e.target.value; state.selected = null; refresh(); } },
            ...view.workflows.map((w) => element("option", { value: w, selected: w === view.workflow }, w)),
          ),
        )
      : null;
    startView.replaceChildren(
      ...[element("h2", { id: "wf-start-title" }, `Start ${view.workflow}`), flows].filter(Boolean),
      element(
        "form",
        { className: "wf-grid", onsubmit: submit },
        element("label", { htmlFor: "wf-instance" }, "Instance id"),
        id,
        element("label", { htmlFor: "wf-record" }, `Stored ${view.entity} record`),
        record,
        element("label", { htmlFor: "wf-data" }, `${view.entity} data (JSON)`),
        data,
        element("span"),
        element("button", { type: "submit", "data-key": "start" }, "Start instance"),
      ),
    );
  }

  function renderList(view) {
    const rows = view.instances.map((i) =>
      element(
        "tr",
        { className: i.id === state.selected ? "selected" : null },
        element(
          "td",
          {},
          element(
            "button",
            {
              type: "button",
              className: "link",
              "data-key": `instance-${i.id}`,
              "aria-pressed": String(i.id === state.selected),
              onclick: () => { state.selected = i.id; refresh(); },
            },
            i.id,
          ),
        ),
        element("td", {}, i.version),
        element("td", {}, i.state),
        element("td", {}, i.status),
        element("td", {}, i.waiting.map(describeWork).join("; ") || "—"),
      ),
    );
    listView.replaceChildren(
      element("h2", { id: "wf-instances-title" }, `Instances (${view.instances.length})`),
      rows.length
        ? element(
            "table",
            {},
            element(
              "thead",
              {},
              element("tr", {}, ...["instance", "version", "state", "status", "waiting for"].map((h) => element("th", { scope: "col" }, h))),
            ),
            element("tbody", {}, ...rows),
          )
        : element("p", {}, "No instance yet: start one above."),
    );
  }

  function renderDetail(view) {
    const detail = state.detail;
    if (!detail) {
      detailView.replaceChildren();
      return;
    }
    const inst = detail.instance;
    const path = `${base}/instances/${encodeURIComponent(inst.id)}`;
    const running = inst.status === "running";
    const transitions = view.transitions.filter((t) => running && t.from.includes(inst.state));
    const comment = element("input", { id: "wf-comment", autocomplete: "off", size: 30 });
    const work = inst.waiting.map((w) =>
      element(
        "li",
        { className: "wf-work" },
        element("span", {}, describeWork(w)),
        "assignee" in w && "role" in w.assignee
          ? element(
              "button",
              { type: "button", "data-key": `claim-${w.id}`, onclick: () => act("Claimed", `${path}/claim`, { as: actor.value }) },
              `Claim ${w.id}`,
            )
          : null,
        ...w.decisions.map((d) =>
          element(
            "button",
            {
              type: "button",
              "data-key": `decide-${w.id}-${d}`,
              onclick: () => act(`Decided ${d}`, `${path}/decide`, { decision: d, as: actor.value, comment: comment.value || null }),
            },
            `${capital(d)} ${w.kind === "approval" ? w.transition : w.id}`,
          ),
        ),
      ),
    );
    detailView.replaceChildren(
      ...[
      element("h2", { id: "wf-detail-title", tabIndex: -1 }, `Instance ${inst.id}`),
      element("p", {}, `${inst.state} (${inst.status}) on version ${inst.version}; its clock ${inst.clock}`),
      transitions.length
        ? element(
            "div",
            { className: "wf-row", role: "group", "aria-label": "Transitions" },
            ...transitions.map((t) =>
              element(
                "button",
                { type: "button", "data-key": `fire-${t.id}`, onclick: () => act(`Fired ${t.id}`, `${path}/fire`, { transition: t.id, as: actor.value }) },
                `Fire ${t.id}${t.approval ? " (needs approval)" : ""}`,
              ),
            ),
          )
        : null,
      work.length
        ? element(
            "div",
            { className: "wf-waiting" },
            element("h3", {}, "Waiting for people"),
            element("p", {}, element("label", { htmlFor: "wf-comment" }, "Comment "), comment),
            element("ul", {}, ...work),
          )
        : null,
      element("h3", {}, "Timeline"),
      element(
        "ol",
        { className: "wf-timeline", "aria-label": `Timeline of ${inst.id}` },
        ...detail.timeline
          .filter((e) => !QUIET.has(e.effect))
          .map((e) =>
            element(
              "li",
              { className: ATTENTION.has(e.effect) ? `attention ${e.effect}` : e.effect, "data-effect": e.effect },
              element("time", { dateTime: e.at }, e.at.slice(0, 16).replace("T", " ")),
              " ",
              e.text,
            ),
          ),
      ),
      ].filter(Boolean),
    );
  }

  // A reload of the package (reload.js) refreshes the view in place: who acts, what was typed, the instance shown
  // and the focus stay. While the package does not lint the overlay stands in for it.
  function onReload(event) {
    if (event.detail?.package === name && !event.detail.errors) refresh().catch((p) => { status.textContent = p.message; });
  }
  window.addEventListener("crmctl:reload", onReload);

  try {
    await refresh();
  } catch (problem) {
    status.textContent = problem.message; // the sections stay, empty: a reload that lints fills them
  }
  return () => window.removeEventListener("crmctl:reload", onReload);
}

function describeWork(w) {
  const who = w.assignee.role ? `role ${w.assignee.role}` : `user ${w.assignee.user}`;
  return w.kind === "approval" ? `approval of ${w.transition} by ${who}` : `task ${w.id} for ${who}`;
}

function capital(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
