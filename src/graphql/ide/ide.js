// The GraphQL IDE: runs queries against this server's /graphql and browses the schema from
// its introspection. Everything it loads comes from this server (the CSP allows nothing else);
// values from the server are shown as text, never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);

const INTROSPECTION = `{ __schema { queryType { name } mutationType { name } subscriptionType { name }
  types { kind name description
    fields { name description args { name type { ...T } } type { ...T } }
    inputFields { name description type { ...T } }
    enumValues { name description } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }`;

function token() {
  return $("token").value.trim();
}

async function post(query, variables) {
  const headers = { "Content-Type": "application/json" };
  if (token()) {
    headers.Authorization = "Bearer " + token();
  } else {
    // Signed in to the web UI: the session cookie goes along, with its CSRF token.
    const csrf = document.querySelector('meta[name="csrf-token"]');
    if (csrf) headers["X-CSRF-Token"] = csrf.content;
  }
  const response = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query, variables }),
  });
  return { status: response.status, body: await response.json() };
}

async function run() {
  const out = $("result");
  let variables = {};
  const raw = $("variables").value.trim();
  if (raw) {
    try {
      variables = JSON.parse(raw);
    } catch (e) {
      out.textContent = "Variables are not JSON: " + e.message;
      out.className = "error";
      return;
    }
  }
  out.textContent = "…";
  try {
    const { status, body } = await post($("query").value, variables);
    out.textContent = JSON.stringify(body, null, 2);
    out.className = status === 200 && !body.errors ? "" : "error";
  } catch (e) {
    out.textContent = "Request failed: " + e.message;
    out.className = "error";
  }
}

function typeName(t) {
  if (!t) return "";
  if (t.kind === "NON_NULL") return typeName(t.ofType) + "!";
  if (t.kind === "LIST") return "[" + typeName(t.ofType) + "]";
  return t.name;
}

function baseName(t) {
  return t && t.ofType ? baseName(t.ofType) : t && t.name;
}

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

let types = new Map();

function link(name) {
  const a = el("a", name);
  a.addEventListener("click", () => show(name));
  return a;
}

function show(name) {
  const body = $("docs-body");
  body.replaceChildren();
  const type = types.get(name);
  if (!type) return;
  body.append(el("h3", type.name + " (" + type.kind.toLowerCase() + ")"));
  if (type.description) body.append(el("p", type.description, "doc"));
  const list = el("ul");
  for (const f of type.fields || type.inputFields || []) {
    const item = el("li");
    item.append(el("strong", f.name));
    if (f.args && f.args.length) {
      item.append("(" + f.args.map((a) => a.name + ": " + typeName(a.type)).join(", ") + ")");
    }
    item.append(": ");
    const target = baseName(f.type);
    item.append(types.has(target) ? link(typeName(f.type)) : typeName(f.type));
    if (f.description) item.append(el("div", f.description, "doc"));
    list.append(item);
  }
  for (const v of type.enumValues || []) {
    const item = el("li");
    item.append(el("strong", v.name));
    if (v.description) item.append(el("div", v.description, "doc"));
    list.append(item);
  }
  body.append(list);
}

async function loadSchema() {
  const docs = $("docs");
  if (!docs.hidden) {
    docs.hidden = true;
    document.querySelector("main").classList.remove("with-docs");
    return;
  }
  const { body } = await post(INTROSPECTION, {});
  if (!body.data) {
    $("result").textContent = JSON.stringify(body, null, 2);
    $("result").className = "error";
    return;
  }
  const schema = body.data.__schema;
  types = new Map(schema.types.filter((t) => !t.name.startsWith("__")).map((t) => [t.name, t]));
  const nav = $("docs-nav");
  nav.replaceChildren();
  for (const root of [schema.queryType, schema.mutationType, schema.subscriptionType]) {
    if (root) {
      nav.append(link(root.name), " ");
    }
  }
  const all = el("details");
  all.append(el("summary", "All types"));
  const list = el("ul");
  for (const name of [...types.keys()].sort()) {
    const item = el("li");
    item.append(link(name));
    list.append(item);
  }
  all.append(list);
  nav.append(all);
  docs.hidden = false;
  document.querySelector("main").classList.add("with-docs");
  show(schema.queryType.name);
}

document.addEventListener("DOMContentLoaded", () => {
  $("token").value = sessionStorage.getItem("nexus-graphql-token") || "";
  $("token").addEventListener("change", () =>
    sessionStorage.setItem("nexus-graphql-token", token()));
  $("run").addEventListener("click", run);
  $("load-schema").addEventListener("click", loadSchema);
  document.addEventListener("keydown", (e) => {
    if ((e.ctrlKey || e.metaKey) && e.key === "Enter") {
      e.preventDefault();
      run();
    }
  });
});
