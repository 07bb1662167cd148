// Distill Studio notebook widget (anywidget front end). Self-contained: no imports, no CDN, works offline.
//
// The Python side (studio/ui/notebook.py) syncs the app's schema, the parameter values, the input images and the
// result as traits; images are binary (DataView), never base64. Step previews arrive as custom messages with one
// binary buffer each, so they stream into the canvas without being stored in the notebook.

function blobUrl(view, type) {
  if (!view || view.byteLength === 0) return null;
  return URL.createObjectURL(new Blob([view], { type }));
}

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null) node.setAttribute(key, value);
  }
  for (const child of children) node.append(child);
  return node;
}

function fmt(value) {
  if (typeof value === "number") return Math.abs(value) >= 1000 ? value.toFixed(0) : String(+value.toPrecision(4));
  if (value === null || value === undefined) return "–";
  return String(value);
}

function render({ model, el }) {
  const urls = new Map(); // slot -> object URL, revoked when replaced
  const setUrl = (slot, img, view, type) => {
    if (urls.has(slot)) URL.revokeObjectURL(urls.get(slot));
    const url = blobUrl(view, type);
    if (url) urls.set(slot, url); else urls.delete(slot);
    if (url) img.src = url; else img.removeAttribute("src");
    return url;
  };

  const root = h("div", { class: "studio-widget" });
  el.append(root);
  root.append(h("div", { class: "studio-title" }, model.get("title")));
  root.append(h("div", { class: "studio-description" }, model.get("description")));
  const body = h("div", { class: "studio-body" });
  const form = h("div", { class: "studio-form" });
  const view = h("div", { class: "studio-view" });
  body.append(form, view);
  root.append(body);

  // ---------------------------------------------------------------- inputs, generated from the schema
  const thumbs = {};
  for (const p of model.get("schema")) {
    const row = h("label", { class: `studio-param studio-${p.kind}`, title: p.help || "" });
    row.append(h("span", { class: "studio-label" }, p.label));
    const values = () => ({ ...model.get("values") });
    const commit = (value) => {
      model.set("values", { ...values(), [p.name]: value });
      model.save_changes();
    };
    if (p.kind === "image") {
      const thumb = h("img", { class: "studio-thumb", alt: "", "data-input": p.name });
      const file = h("input", { type: "file", accept: "image/*", "data-input-file": p.name });
      file.addEventListener("change", async () => {
        const chosen = file.files && file.files[0];
        if (!chosen) return;
        const buffer = await chosen.arrayBuffer();
        model.send({ type: "upload", name: p.name, filename: chosen.name }, undefined, [buffer]);
      });
      thumbs[p.name] = thumb;
      row.append(thumb, file);
    } else if (p.kind === "slider") {
      const out = h("span", { class: "studio-number" }, fmt(values()[p.name]));
      const input = h("input", { type: "range", min: p.minimum, max: p.maximum, step: p.step, value: values()[p.name] });
      input.addEventListener("input", () => { out.textContent = fmt(+input.value); });
      input.addEventListener("change", () => commit(p.integer ? parseInt(input.value, 10) : +input.value));
      row.append(input, out);
    } else if (p.kind === "choice") {
      const select = h("select", { "data-param": p.name });
      for (const c of p.choices) select.append(h("option", { value: c }, c));
      select.value = values()[p.name];
      select.addEventListener("change", () => commit(select.value));
      row.append(select);
    } else if (p.kind === "toggle") {
      const box = h("input", { type: "checkbox" });
      box.checked = !!values()[p.name];
      box.addEventListener("change", () => commit(box.checked));
      row.append(box);
    } else {
      const input = h("input", { type: "number", min: 0, step: 1, value: values()[p.name] });
      input.addEventListener("change", () => commit(parseInt(input.value || "0", 10)));
      row.append(input);
    }
    form.append(row);
  }
  const showInputs = () => {
    const inputs = model.get("inputs") || {};
    for (const [name, img] of Object.entries(thumbs)) setUrl(`input:${name}`, img, inputs[name], "image/jpeg");
  };
  showInputs();
  model.on("change:inputs", showInputs);

  // ---------------------------------------------------------------- buttons
  const buttons = h("div", { class: "studio-buttons" });
  const run = h("button", { class: "studio-run", onclick: () => model.send({ type: "run" }) }, "Run");
  const compare = h("button", { class: "studio-compare", onclick: () => model.send({ type: "compare" }) },
    "Compare student vs teacher");
  const cancel = h("button", { class: "studio-cancel", onclick: () => model.send({ type: "cancel" }) }, "Cancel");
  buttons.append(run);
  if ((model.get("offers") || []).includes("compare")) buttons.append(compare);
  buttons.append(cancel);

  // ---------------------------------------------------------------- canvas, before/after, badge, metrics
  const tabs = h("div", { class: "studio-tabs" });
  const resultTab = h("button", { class: "studio-tab studio-active" }, "Result");
  const pairTab = h("button", { class: "studio-tab" }, "Before / after");
  tabs.append(resultTab, pairTab);
  const canvas = h("img", { class: "studio-canvas", alt: "", "data-phase": "empty" });
  const hint = h("div", { class: "studio-hint" }, "Press Run: step previews, then the result, appear here.");
  const stage = h("div", { class: "studio-stage" }, hint, canvas);
  const pair = h("div", { class: "studio-pair", hidden: "" });
  const after = h("img", { class: "studio-after", alt: "" });
  const before = h("img", { class: "studio-before", alt: "" });
  const split = h("input", { type: "range", min: 0, max: 100, value: 50, class: "studio-split" });
  const pairLabels = h("div", { class: "studio-pair-labels" });
  pair.append(h("div", { class: "studio-pair-images" }, after, before), split, pairLabels);
  const clip = () => { before.style.clipPath = `inset(0 ${100 - split.value}% 0 0)`; };
  split.addEventListener("input", clip);
  clip();
  const select = (showPair) => {
    stage.hidden = showPair; pair.hidden = !showPair;
    resultTab.classList.toggle("studio-active", !showPair); pairTab.classList.toggle("studio-active", showPair);
  };
  resultTab.addEventListener("click", () => select(false));
  pairTab.addEventListener("click", () => select(true));
  const badge = h("div", { class: "studio-badge", "data-testid": "studio-badge" });
  const status = h("div", { class: "studio-status" });
  const metrics = h("table", { class: "studio-metrics" });
  const notes = h("ul", { class: "studio-notes" });
  view.append(buttons, tabs, stage, pair, badge, status, metrics, notes);

  let previews = 0;
  model.on("msg:custom", (msg, buffers) => {
    if (msg.type !== "preview") return;
    previews += 1;
    select(false);
    setUrl("canvas", canvas, buffers[0], "image/jpeg");
    canvas.dataset.phase = "preview";
    canvas.dataset.previews = String(previews);
    badge.textContent = msg.badge;
  });

  const showResult = () => {
    const url = setUrl("canvas", canvas, model.get("result_png"), "image/png");
    if (url) canvas.dataset.phase = "result";
    setUrl("after", after, model.get("result_png"), "image/png");
    setUrl("before", before, model.get("before"), "image/jpeg");
    pairLabels.textContent = `${model.get("before_label")} ◀ ▶ ${model.get("after_label")}`;
    pairTab.disabled = !model.get("before") || model.get("before").byteLength === 0;
  };
  const showStatus = () => {
    const state = model.get("status");
    root.dataset.status = state;
    run.disabled = compare.disabled = state === "running";
    cancel.disabled = state !== "running";
    if (state === "running") previews = 0;
    badge.textContent = model.get("badge");
    status.textContent = state === "error" ? model.get("error") : state === "cancelled" ? "Cancelled." : "";
    status.className = `studio-status studio-${state}`;
  };
  const showTable = () => {
    metrics.replaceChildren();
    const rows = model.get("table") || [];
    if (rows.length) {
      const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
      metrics.append(h("tr", {}, ...keys.map((k) => h("th", {}, k))));
      for (const r of rows) metrics.append(h("tr", {}, ...keys.map((k) => h("td", {}, fmt(r[k])))));
    } else {
      for (const [k, v] of Object.entries(model.get("metrics") || {})) {
        metrics.append(h("tr", {}, h("th", {}, k), h("td", {}, fmt(v))));
      }
    }
    notes.replaceChildren(...(model.get("notes") || []).map((n) => h("li", {}, n)));
  };
  showResult(); showStatus(); showTable();
  model.on("change:result_png", showResult);
  model.on("change:before", showResult);
  model.on("change:status", showStatus);
  model.on("change:badge", showStatus);
  model.on("change:error", showStatus);
  model.on("change:metrics", showTable);
  model.on("change:table", showTable);
  model.on("change:notes", showTable);

  return () => { for (const url of urls.values()) URL.revokeObjectURL(url); };
}

export default { render };
