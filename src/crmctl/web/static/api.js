// What every view shares: JSON requests to the sandbox (problems become errors with their details) and the
// live region that announces messages to screen readers.

export class Problem extends Error {
  constructor(status, body) {
    super(body.detail || body.title || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function request(url, { method = "GET", body, headers = {} } = {}) {
  const options = { method, headers: { accept: "application/json", ...headers } };
  if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["content-type"] = "application/json";
  }
  const response = await fetch(url, options);
  const type = response.headers.get("content-type") || "";
  const parsed = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) throw new Problem(response.status, typeof parsed === "object" ? parsed : { title: parsed });
  return parsed;
}

let pending = null;

export function announce(text) {
  const region = document.getElementById("announcer");
  region.textContent = "";
  // A new text node after a tick: screen readers announce a change, even of the same words. A newer message
  // replaces one still waiting for its tick, so each is said once and the latest wins.
  clearTimeout(pending);
  pending = setTimeout(() => {
    pending = null;
    region.textContent = text;
  }, 30);
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  node.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}
