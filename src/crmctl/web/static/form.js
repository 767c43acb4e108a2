// The form preview: a pure renderer of the form-session engine (docs/serve.md#the-form-preview). It sends events
// and renders effects; what is shown, required, offered or blocked comes from the engine. `View.apply` is the
// terminal renderer's effect interpreter (crmctl.cli.interactive.View) in JavaScript: keep the two alike. Field
// types are read only to parse what is typed; values are shown as the engine displays them (`display`).
import { announce, element, request } from "./api.js";

const DEBOUNCE_MS = 250; // typing sends a change after this pause (soft warnings while typing)

export class View {
  constructor() {
    this.step = null;
    this.stepLabel = "";
    this.mode = "edit";
    this.stepFields = [];
    this.labels = {};
    this.visible = {};
    this.hiddenSteps = new Set();
    this.readonly = new Set();
    this.required = new Set();
    this.options = {};
    this.values = {};
    this.display = {};
    this.messages = new Map(); // "field\u0000code" -> message effect
    this.notes = [];
    this.report = null; // the aggregated report of the last refused submit: [{field, message, severity}]
    this.submitted = false;
    this.locale = "en";
    this.rtl = false;
  }

  apply(effects) {
    this.notes = [];
    const typed = new Set(); // fields the user changed in this answer: their lines of the report are out of date
    for (const e of effects) {
      const target = e.field || "";
      switch (e.effect) {
        case "locale":
          this.locale = e.locale;
          this.rtl = e.direction === "rtl";
          break;
        case "step":
          Object.assign(this, { step: e.step, stepLabel: e.label, mode: e.mode, stepFields: e.fields });
          break;
        case "show":
        case "hide":
          if ("step" in e) {
            if (e.effect === "show") this.hiddenSteps.delete(e.step);
            else this.hiddenSteps.add(e.step);
          } else {
            this.visible[target] = e.effect === "show";
            if ("label" in e) this.labels[target] = e.label;
          }
          break;
        case "readonly":
          this.readonly.add(target);
          break;
        case "required":
          if (e.value) this.required.add(target);
          else this.required.delete(target);
          break;
        case "options":
          this.options[target] = { values: e.values, labels: e.labels };
          break;
        case "set":
        case "input": // input: what the user typed (the engine does not echo it)
          if (e.effect === "input") typed.add(target);
          this.values[target] = e.value;
          this.display[target] = e.display || "";
          break;
        case "message":
          this.messages.set(`${target}\u0000${e.code}`, e);
          break;
        case "clear":
          this.messages.delete(`${target}\u0000${e.code}`);
          break;
        case "blocked":
          this.notes.push({ kind: "blocked", action: e.action, text: e.reason });
          break;
        case "error":
          this.notes.push({ kind: "error", text: `${e.rule}: ${e.message}` });
          break;
        case "submit":
          this.submitted = Boolean(e.ok);
          if (!e.ok) this.report = e.report;
          break;
        default:
          break;
      }
    }
    if (this.report && typed.size) {
      // A line of the refused submit's report goes when its field is changed: the field's own message (if the
      // new value is still wrong) says what is left; the next submit reports afresh.
      this.report = this.report.filter((r) => !typed.has(r.field || ""));
      if (!this.report.length) this.report = null;
    }
  }

  fieldsHere() {
    if (this.mode === "summary") return Object.keys(this.visible).filter((p) => this.visible[p]);
    return this.stepFields.filter((p) => this.visible[p] !== false);
  }

  messagesOf(field) {
    return [...this.messages.values()].filter((m) => (m.field || "") === field);
  }
}

// What was typed, as a value of a field of `type` (the terminal's parse_value): null clears; an Error if it does
// not parse (the renderer says so and sends nothing).
export function parseValue(raw, meta) {
  const text = raw.trim();
  if (text === "") return null;
  if (meta.type === "number" || meta.type === "currency") {
    const plain = text.replace(/[\s_]/g, "");
    if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(plain)) throw new Error(`not a ${meta.type}`);
    const number = Number(plain);
    if (meta.integer && !Number.isInteger(number)) throw new Error("not a whole number");
    return number;
  }
  if (meta.type === "array" || meta.type === "object") {
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`not JSON (an ${meta.type})`);
    }
  }
  if (meta.type === "datetime" && /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?$/.test(text)) {
    return `${text.length === 16 ? `${text}:00` : text}Z`; // a datetime-local box: read as UTC
  }
  return text;
}

const fieldId = (path) => `field-${path}`;

export async function mount(root, ctx) {
  const name = ctx.package.name;
  let meta = null; // the open session: {session, role, locale, roles, locales, fields, ...}
  let view = new View();
  const typed = {}; // field -> the text in its box while it differs from what the engine holds
  const invalid = {}; // field -> the renderer's own parse error
  const timers = {};
  let queue = Promise.resolve();
  let focusReport = false;
  let renderedAt = null; // step|mode|submitted last rendered: focus follows the user to a new step

  const switches = element("div", { className: "form-switches" });
  const status = element("div", { className: "form-status", role: "status" });
  const form = element("form", { className: "form-step", noValidate: true });
  const drafts = element("section", { className: "form-drafts", "aria-labelledby": "drafts-title" });
  const section = element("section", { className: "form-preview" }, switches, status, form);
  root.append(section, drafts);

  // --- talking to the engine ---------------------------------------------------------------------------------

  function serial(job) {
    queue = queue.then(job).catch(showProblem);
    return queue;
  }

  function showProblem(problem) {
    view.notes = [{ kind: "problem", text: problem.message }];
    render();
    announce(problem.message);
  }

  function mountSession(described, said) {
    const active = document.activeElement;
    const inView = section.contains(active) || drafts.contains(active);
    const focusedId = inView ? active.id : null;
    meta = described;
    view = new View();
    for (const key of Object.keys(typed)) delete typed[key];
    for (const key of Object.keys(invalid)) delete invalid[key];
    view.apply(described.effects);
    const where = `#/${encodeURIComponent(name)}/form/${encodeURIComponent(described.session)}`;
    history.replaceState(null, "", where);
    renderSwitches();
    renderedAt = null;
    render();
    // The control used keeps the focus (a switch, the field being typed in); a resumed or new form takes it to its
    // first field: never lost to <body>.
    const again = focusedId ? document.getElementById(focusedId) : null;
    if (again && section.contains(again)) again.focus();
    else if (inView || (active === document.body && said !== undefined)) focusStep();
    announce(said || view.stepLabel);
    loadDrafts().catch(showProblem);
  }

  async function send(event) {
    const sentStep = view.step;
    const answer = await request(`/_sandbox/forms/${encodeURIComponent(meta.session)}/events`, {
      method: "POST",
      body: event,
    });
    const before = new Set(view.messages.keys());
    if (event.type === "submit") view.report = null;
    view.apply(answer.effects);
    for (const e of answer.effects) if (e.effect === "set" && e.field in typed) delete typed[e.field];
    if (event.type === "submit" && !view.submitted) focusReport = true;
    render();
    const fresh = [...view.messages.entries()].filter(([key]) => !before.has(key)).map(([, m]) => m.message);
    const said = [
      view.step !== sentStep ? view.stepLabel : null,
      ...view.notes.map((n) => n.text),
      ...(focusReport ? [] : fresh),
    ].filter(Boolean);
    if (view.submitted) said.push(submittedText());
    if (said.length) announce(said.join(". "));
    if (view.submitted) await loadDrafts();
  }

  function change(path) {
    clearTimeout(timers[path]);
    delete timers[path];
    if (!(path in typed)) return Promise.resolve();
    let value;
    try {
      value = parseValue(typed[path], meta.fields[path] || { type: "text" });
      delete invalid[path];
    } catch (error) {
      invalid[path] = error.message;
      render();
      announce(`${view.labels[path] || path}: ${error.message}`);
      return Promise.resolve();
    }
    if (JSON.stringify(value) === JSON.stringify(view.values[path] ?? null)) return Promise.resolve();
    return serial(() => send({ type: "change", field: path, value }));
  }

  function flush() {
    return Promise.all(Object.keys(timers).map(change)).then(() => queue);
  }

  function navigate(event) {
    return flush().then(() => serial(() => send(event)));
  }

  async function open(choices = {}) {
    const described = await request("/_sandbox/forms", { method: "POST", body: { package: name, ...choices } });
    mountSession(described);
  }

  function reopen(choices, said) {
    return flush().then(() =>
      serial(async () => {
        const values = { ...typed };
        const described = await request(`/_sandbox/forms/${encodeURIComponent(meta.session)}/reopen`, {
          method: "POST",
          body: choices,
        });
        mountSession(described, said);
        Object.assign(typed, values); // text still being typed stays in its box
      }),
    );
  }

  async function resume(sessionId) {
    const described = await request(`/_sandbox/forms/${encodeURIComponent(sessionId)}`);
    const step = described.effects.find((e) => e.effect === "step");
    mountSession(described, `Resumed draft ${sessionId} at ${step ? step.label : "its step"}`);
  }

  // --- rendering ---------------------------------------------------------------------------------------------

  function submittedText() {
    return `Record ${meta.entity}/${meta.session} stored, pinned to ${meta.package.name}@${meta.package.version}`;
  }

  function render() {
    const active = document.activeElement;
    const hadFocus = active && form.contains(active);
    const focusedId = hadFocus ? active.id : null;
    const at = `${view.step}|${view.mode}|${view.submitted}`;
    const moved = renderedAt !== null && at !== renderedAt;
    renderedAt = at;
    const selection = focusedId && "selectionStart" in active ? [active.selectionStart, active.selectionEnd] : null;
    section.dir = view.rtl ? "rtl" : "ltr";
    section.lang = view.locale;
    status.replaceChildren(
      element("span", {}, `${meta.package.name}@${meta.package.version} · ${meta.entity}`),
      element("span", {}, ` · session ${meta.session}`),
    );
    form.replaceChildren(...(view.submitted ? renderSubmitted() : renderStep()).filter(Boolean));
    if (focusReport) {
      focusReport = false;
      document.getElementById("form-report")?.focus();
    } else if (hadFocus) {
      const again = !moved && focusedId ? document.getElementById(focusedId) : null;
      if (!again) focusStep(); // a new step (or the focused control went): its first field, else its heading
      else {
        again.focus();
        if (selection && "setSelectionRange" in again) {
          try {
            again.setSelectionRange(...selection);
          } catch {
            // inputs without a selection (date, number) keep the caret where the browser puts it
          }
        }
      }
    }
  }

  function renderSwitches() {
    const picker = (id, label, values, current, onchange) =>
      element(
        "span",
        { className: "switch" },
        element("label", { for: id }, label),
        selectOf(id, values, values, current, { onchange }),
      );
    switches.replaceChildren(
      picker("switch-role", "Role", meta.roles, meta.role, (e) =>
        reopen({ role: e.target.value }, `Role ${e.target.value}: the form starts again with your values`),
      ),
      picker("switch-locale", "Locale", meta.locales, meta.locale, (e) =>
        reopen({ locale: e.target.value }, `Locale ${e.target.value}: the form starts again with your values`),
      ),
    );
  }

  function selectOf(id, values, labels, current, attributes = {}) {
    const select = element(
      "select",
      { id, ...attributes },
      values.map((v, i) => element("option", { value: v }, labels[i])),
    );
    select.value = current ?? "";
    return select;
  }

  function renderStep() {
    const summary = view.mode === "summary";
    const heading = element("h2", { tabIndex: -1 }, view.stepLabel, summary ? element("small", {}, " (review)") : null);
    const formLevel = view.messagesOf("");
    const body = summary ? renderSummary() : element("div", { className: "fields" }, view.fieldsHere().map(renderField));
    return [
      heading,
      formLevel.length ? element("ul", { className: "messages" }, formLevel.map(renderMessage)) : null,
      body,
      renderNotes(),
      renderReport(),
      element(
        "div",
        { className: "form-nav" },
        element("button", { id: "form-back", type: "button", onclick: () => navigate({ type: "back" }) }, "Back"),
        summary ? null : element("button", { id: "form-next", type: "submit", className: "primary" }, "Next"),
        summary
          ? element("button", { id: "form-submit", type: "submit", className: "primary" }, "Submit") // the form's submit
          : element("button", { id: "form-submit", type: "button", onclick: () => navigate({ type: "submit" }) }, "Submit"),
      ),
    ];
  }

  function renderSummary() {
    return element(
      "dl",
      { className: "summary" },
      view.fieldsHere().flatMap((path) => [
        element("dt", {}, view.labels[path] || path),
        // <bdi>: a value keeps its own direction in a right-to-left form (a phone number is not reordered).
        element("dd", {}, element("bdi", {}, shown(path) || "—")),
        ...view.messagesOf(path).map((m) => element("dd", { className: `message ${m.severity}` }, m.message)),
      ]),
    );
  }

  function shown(path) {
    const value = view.values[path];
    if (view.display[path]) return view.display[path];
    if (value === null || value === undefined) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
  }

  function renderField(path) {
    const fieldMeta = meta.fields[path] || { type: "text" };
    const id = fieldId(path);
    const messages = view.messagesOf(path);
    const own = invalid[path];
    const hard = own || messages.some((m) => m.severity === "error");
    const required = view.required.has(path);
    // The engine's display of a number or date when it differs from the box (1.000,5 for 1000.5 in de).
    const display = view.display[path];
    const hint = !["text", "enum"].includes(fieldMeta.type) && display && !(path in typed) && display !== String(view.values[path]);
    const describedBy = [
      messages.length || own ? `${id}-messages` : null,
      hint ? `${id}-display` : null,
    ].filter(Boolean).join(" ");
    const common = {
      id,
      name: path,
      "aria-describedby": describedBy || null,
      "aria-invalid": hard ? "true" : null,
      "aria-required": required ? "true" : null,
    };
    const control = renderControl(path, fieldMeta, common);
    return element(
      "div",
      { className: `field${hard ? " invalid" : ""}`, "data-field": path },
      element(
        "label",
        { for: id },
        view.labels[path] || path,
        required ? element("span", { className: "required", "aria-hidden": "true" }, " *") : null,
        view.readonly.has(path) ? element("span", { className: "readonly-mark" }, " (read-only)") : null,
      ),
      control,
      hint ? element("span", { className: "display", id: `${id}-display` }, view.display[path]) : null,
      messages.length || own
        ? element(
            "ul",
            { className: "messages", id: `${id}-messages` },
            own ? element("li", { className: "message error" }, own) : null,
            messages.map(renderMessage),
          )
        : null,
    );
  }

  function renderControl(path, fieldMeta, common) {
    const readonly = view.readonly.has(path);
    const value = view.values[path];
    if (fieldMeta.type === "calculated") return element("output", common, shown(path));
    if (view.options[path]) {
      const { values, labels } = view.options[path];
      return selectOf(common.id, ["", ...values], ["", ...labels], value, {
        ...common,
        disabled: readonly,
        onchange: (e) => {
          typed[path] = e.target.value;
          change(path);
        },
      });
    }
    if (fieldMeta.type === "boolean") {
      return element("input", {
        ...common,
        type: "checkbox",
        checked: value === true,
        disabled: readonly,
        onchange: (e) => serial(() => send({ type: "change", field: path, value: e.target.checked })),
      });
    }
    let text = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
    if (readonly) text = shown(path);
    if (path in typed) text = typed[path];
    const kind = { date: "date", datetime: "datetime-local" }[fieldMeta.type] || "text";
    const multi = fieldMeta.type === "array" || fieldMeta.type === "object";
    const box = element(multi ? "textarea" : "input", {
      ...common,
      type: multi ? null : kind,
      dir: "auto", // what is typed keeps its own direction (a phone number in an Arabic form reads as typed)
      inputMode: fieldMeta.type === "number" || fieldMeta.type === "currency" ? "decimal" : null,
      readOnly: readonly,
      autocomplete: "off",
      oninput: (e) => {
        typed[path] = e.target.value;
        clearTimeout(timers[path]);
        timers[path] = setTimeout(() => change(path), multi ? 1e9 : DEBOUNCE_MS);
      },
      onchange: () => change(path),
    });
    const local = kind === "datetime-local" && !(path in typed) && !readonly; // the box takes YYYY-MM-DDTHH:MM
    box.value = local ? text.replace(/(:\d\d)?(\.\d+)?Z$/, "").slice(0, 16) : text;
    return box;
  }

  function focusStep() {
    const first = form.querySelector(".fields :is(input, select, textarea):not([disabled])");
    (first || form.querySelector("h2")).focus();
  }

  function focusField(path) {
    document.getElementById(fieldId(path))?.focus();
  }

  function renderMessage(m) {
    return element("li", { className: `message ${m.severity}` }, m.message);
  }

  function renderNotes() {
    if (!view.notes.length) return null;
    return element(
      "ul",
      { className: "notes" }, // announced through the live region when they arrive
      view.notes.map((n) => element("li", { className: `note ${n.kind}` }, n.text)),
    );
  }

  // The aggregated report of a refused submit: every hard error at once, each a way to its field when it is on
  // this step. Focus moves here, and the live region reads its heading.
  function renderReport() {
    const blocked = view.notes.filter((n) => n.kind === "blocked" && n.action === "submit");
    if (!view.report && !blocked.length) return null;
    const errors = view.report || [...view.messages.values()].filter((m) => m.severity === "error");
    const count = errors.length + blocked.length;
    return element(
      "section",
      { id: "form-report", className: "report", tabIndex: -1, "aria-labelledby": "form-report-title" },
      element("h3", { id: "form-report-title" }, `Submit refused: ${count} problem${count === 1 ? "" : "s"}`),
      element(
        "ul",
        {},
        blocked.map((n) => element("li", {}, n.text)),
        errors.map((r) => {
          const label = r.field ? view.labels[r.field] || r.field : "(form)";
          const onStep = r.field && view.fieldsHere().includes(r.field) && view.mode !== "summary";
          return element(
            "li",
            { className: r.severity },
            onStep
              ? element("button", { type: "button", className: "link", onclick: () => focusField(r.field) }, label)
              : element("strong", {}, label),
            `: ${r.message}`,
          );
        }),
      ),
    );
  }

  function renderSubmitted() {
    return [
      element("h2", { tabIndex: -1 }, "Submitted"),
      element("p", { className: "submitted" }, submittedText()),
      element("button", { type: "button", onclick: () => serial(() => open({ role: meta.role, locale: meta.locale })) },
        "New form"),
    ];
  }

  async function loadDrafts() {
    const { drafts: found } = await request(`/_sandbox/drafts?package=${encodeURIComponent(name)}`);
    const others = found.filter((d) => !meta || d.draftId !== meta.session || view.submitted);
    drafts.replaceChildren(
      element("h2", { id: "drafts-title", tabIndex: -1 }, "Drafts"),
      others.length
        ? element(
            "ul",
            {},
            others.map((d) =>
              element(
                "li",
                { className: "draft" },
                element("span", {}, [d.draftId, d.package.version, d.role, d.locale, `step ${d.lastStep}`, d.updatedAt].join(" · ")),
                element("button", {
                  type: "button",
                  "aria-label": `Resume draft ${d.draftId}`,
                  onclick: () => serial(() => resume(d.draftId)),
                }, "Resume"),
                element(
                  "button",
                  {
                    type: "button",
                    "aria-label": `Discard draft ${d.draftId}`,
                    onclick: () =>
                      serial(async () => {
                        await request(`/_sandbox/forms/${encodeURIComponent(d.draftId)}`, { method: "DELETE" });
                        announce(`Draft ${d.draftId} discarded`);
                        await loadDrafts();
                        document.getElementById("drafts-title")?.focus(); // its button went with the draft

                      }),
                  },
                  "Discard",
                ),
              ),
            ),
          )
        : element("p", {}, "No other drafts of this package."),
    );
  }

  // --- events from the page ----------------------------------------------------------------------------------

  form.addEventListener("submit", (event) => {
    event.preventDefault(); // Enter advances: next on an edit step, submit on the review
    navigate({ type: view.mode === "summary" ? "submit" : "next" });
  });

  function onReload(event) {
    // While the package does not lint the overlay stands in for the form (a reopen would only be refused); the fix
    // is a new generation without errors, and the form reopens then.
    if (meta && event.detail?.package === name && !event.detail.errors) {
      reopen({}, "The package changed: the form was reloaded with your values");
    }
  }
  window.addEventListener("crmctl:reload", onReload);

  const wanted = ctx.route?.view === "form" ? ctx.route.rest?.[0] : null;
  try {
    if (wanted) await resume(wanted);
    else await open();
  } catch (problem) {
    if (wanted && problem.status === 404) await open();
    else root.append(element("p", { role: "alert", className: "problem" }, problem.message));
  }

  return () => {
    window.removeEventListener("crmctl:reload", onReload);
    for (const timer of Object.values(timers)) clearTimeout(timer);
  };
}
