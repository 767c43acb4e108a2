// The sandbox's renderer: the index of served packages. Views (form, workflow) are ES modules of their own.
const nav = document.getElementById("packages");
const main = document.getElementById("main");

async function json(url, options = {}) {
  const response = await fetch(url, { headers: { accept: "application/json" }, ...options });
  return response.json();
}

async function start() {
  const { packages } = await json("/_sandbox/packages");
  nav.replaceChildren(...packages.map((p) => {
    const link = document.createElement("a");
    link.href = `#/${encodeURIComponent(p.name)}`;
    link.textContent = p.version ? `${p.name} ${p.version}` : p.name;
    return link;
  }));
  main.textContent = packages.length ? "Choose a package." : "No package is served.";
}

start();
