// Template builder: add / remove / reorder buttons and cards, live phone preview, payload tab.
// Plain JS, nothing from a CDN. Field names are dotted content paths (see templates_app/builder.py).
(() => {
  const form = document.getElementById("builder-form");
  if (!form) return;
  const formatSelect = form.querySelector("[name=format]");
  const statusSelect = form.querySelector("[name=status]");
  const preview = document.getElementById("preview");
  const PLACEHOLDER = /\{\{\s*(\d+)\s*\}\}/g;

  const items = (container) => Array.from(container.children).filter((el) => el.hasAttribute("data-item"));

  // The dotted path of a field: scopes, list names and item indexes from the form down to the field.
  function pathOf(input) {
    const parts = [input.dataset.field];
    for (let el = input.parentElement; el && el !== form; el = el.parentElement) {
      if (el.hasAttribute("data-item")) parts.unshift(String(items(el.parentElement).indexOf(el)));
      if (el.dataset.list) parts.unshift(el.dataset.list);
      if (el.dataset.scope) parts.unshift(el.dataset.scope);
    }
    return parts.join(".");
  }

  function renumber() {
    form.querySelectorAll("[data-field]").forEach((el) => { el.name = pathOf(el); });
    capLists();
  }

  // A list with data-max (a carousel's cards) stops adding at its limit and says why.
  function capLists() {
    form.querySelectorAll("[data-list][data-max-items]").forEach((list) => {
      const full = items(list.querySelector(":scope > .items")).length >= Number(list.dataset.maxItems);
      const add = list.querySelector(":scope > [data-add]");
      if (add) add.disabled = full;
      const why = list.querySelector(":scope > .at-max");
      if (why) why.hidden = !full;
    });
  }

  function activeFieldset() {
    return form.querySelector(`fieldset[data-format="${formatSelect.value}"]`);
  }

  function setPath(obj, parts, value) {
    let node = obj;
    parts.forEach((part, i) => {
      const last = i === parts.length - 1;
      const key = /^\d+$/.test(part) ? Number(part) : part;
      if (last) { node[key] = value; return; }
      if (node[key] === undefined) node[key] = /^\d+$/.test(parts[i + 1]) ? [] : {};
      node = node[key];
    });
  }

  // The neutral content of the chosen format, read from the visible fieldset.
  function readContent() {
    const fieldset = activeFieldset();
    const prefix = `${fieldset.dataset.scope}.`;
    const content = { type: formatSelect.value };
    fieldset.querySelectorAll("[data-field]").forEach((el) => setPath(content, el.name.slice(prefix.length).split("."), el.value));
    return content;
  }

  function textsOf(content) {
    const out = [];
    const sugg = (list) => (list || []).forEach((s) => { if (s.type === "OPEN_URL") out.push(s.url || ""); });
    const media = (m) => { if (m) out.push(m.url || "", m.thumbnail_url || ""); };
    const card = (c) => { if (!c) return; out.push(c.title || "", c.description || ""); media(c.media); sugg(c.suggestions); };
    if (content.type === "TEXT") { out.push(content.text || ""); sugg(content.suggestions); }
    if (content.type === "RICH_CARD") card(content.card);
    if (content.type === "CAROUSEL") (content.cards || []).forEach(card);
    if (content.type === "MEDIA") { media(content.media); sugg(content.suggestions); }
    return out;
  }

  // One sample input per placeholder, {{1}} .. {{n}}; values typed so far are kept.
  function syncSamples(content) {
    let max = 0;
    textsOf(content).forEach((t) => { for (const m of t.matchAll(PLACEHOLDER)) max = Math.max(max, Number(m[1])); });
    const box = document.getElementById("samples");
    const rows = box.querySelectorAll(".sample");
    for (let i = rows.length; i < max; i++) {
      const row = document.createElement("div");
      row.className = "field sample";
      row.innerHTML = `<label>{{${i + 1}}} <input type="text" name="samples.${i}" value=""></label>`;
      box.append(row);
    }
    box.querySelectorAll(".sample").forEach((row, i) => { row.hidden = i >= max; row.querySelector("input").disabled = i >= max; });
    document.getElementById("no-samples").hidden = max > 0;
  }

  function samples() {
    return Array.from(document.querySelectorAll("#samples input:not([disabled])")).map((el) => el.value);
  }

  const escapeHtml = (s) => s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  function fill(text, values) {
    return (text || "").replace(PLACEHOLDER, (m, n) => (values[n - 1] ? values[n - 1] : m));
  }

  // *bold* _italic_ ~strike~ ```mono``` as the phone shows them.
  function formatted(text, values) {
    let html = escapeHtml(fill(text, values));
    html = html.replace(/```([\s\S]+?)```/g, "<code>$1</code>");
    html = html.replace(/\*([^*\n]+)\*/g, "<b>$1</b>");
    html = html.replace(/(^|[\s(])_([^_\n]+)_/g, "$1<i>$2</i>");
    html = html.replace(/~([^~\n]+)~/g, "<s>$1</s>");
    return html.replace(/\n/g, "<br>");
  }

  const ICONS = { REPLY: "↩", OPEN_URL: "🔗", DIAL_PHONE: "📞" };
  function chips(list, cls = "chips") {
    if (!list || !list.length) return "";
    return `<div class="${cls}">${list.map((s) => `<span class="chip" data-type="${escapeHtml(s.type || "")}">${ICONS[s.type] || ""} ${escapeHtml(s.text || "…")}</span>`).join("")}</div>`;
  }

  function mediaBlock(m, values, height) {
    if (!m || !(m.url || m.thumbnail_url)) return "";
    const video = (m.content_type || "").startsWith("video/");
    const src = fill(video ? m.thumbnail_url || "" : m.url || "", values);
    const h = `h-${(height || "MEDIUM").toLowerCase()}`;
    const img = src && /^https?:\/\//.test(src) && !src.includes("{{") ? `<img alt="" src="${escapeHtml(src)}" loading="lazy" onerror="this.hidden=true">` : "";
    return `<div class="media ${h}${video ? " video" : ""}">${img}<span class="media-label">${video ? "▶ video" : "image"}</span></div>`;
  }

  function cardHtml(card, values, opts) {
    if (!card) return "";
    const media = card.media && card.media.url ? mediaBlock(card.media, values, opts.horizontal ? "MEDIUM" : card.media.height) : "";
    const body = `<div class="card-body">${card.title ? `<div class="card-title">${formatted(card.title, values)}</div>` : ""}${card.description ? `<div class="card-desc">${formatted(card.description, values)}</div>` : ""}${chips(card.suggestions, "card-actions")}</div>`;
    const cls = ["rc-card", opts.horizontal ? "horizontal" : "vertical", opts.align === "RIGHT" ? "align-right" : "align-left", opts.width ? `w-${opts.width.toLowerCase()}` : ""].join(" ");
    return `<div class="${cls}">${media}${body}</div>`;
  }

  function renderPreview(content, values) {
    let html = "";
    if (content.type === "TEXT") {
      html = `<div class="bubble">${formatted(content.text || "", values) || '<span class="muted">Your message…</span>'}</div>${chips(content.suggestions)}`;
    } else if (content.type === "RICH_CARD") {
      html = cardHtml(content.card, values, { horizontal: content.orientation === "HORIZONTAL", align: content.image_alignment });
    } else if (content.type === "CAROUSEL") {
      html = `<div class="carousel">${(content.cards || []).map((c) => cardHtml(c, values, { width: content.card_width || "MEDIUM" })).join("")}</div>`;
    } else if (content.type === "MEDIA") {
      html = `<div class="rc-card vertical">${mediaBlock(content.media, values, "MEDIUM")}</div>${chips(content.suggestions)}`;
    }
    preview.innerHTML = html;
  }

  function toggles() {
    form.querySelectorAll("fieldset[data-format]").forEach((fs) => { fs.hidden = fs.dataset.format !== formatSelect.value; });
    form.querySelectorAll("[data-show-for]").forEach((el) => {
      const suggestion = el.closest(".suggestion");
      const control = suggestion ? suggestion.querySelector("[data-field=type]") : el.closest("fieldset")?.querySelector("[data-field=orientation]");
      if (control) el.hidden = control.value !== el.dataset.showFor;
    });
    form.querySelectorAll("[data-show-status]").forEach((el) => { el.hidden = statusSelect && statusSelect.value !== el.dataset.showStatus; });
    form.querySelectorAll("[data-max]").forEach((el) => {
      const counter = el.closest(".field").querySelector(".counter");
      if (!counter) return;
      const max = Number(el.dataset.max);
      counter.textContent = `${el.value.length}/${max}`;
      counter.classList.toggle("over", el.value.length > max);
    });
  }

  let payloadTimer = null;
  function schedulePayload() {
    clearTimeout(payloadTimer);
    payloadTimer = setTimeout(loadPayload, 350);
  }

  async function loadPayload() {
    const out = document.getElementById("payload");
    const errors = document.getElementById("payload-errors");
    try {
      const response = await fetch(form.dataset.payloadUrl, { method: "POST", body: new FormData(form), headers: { "X-Requested-With": "fetch" } });
      const answer = await response.json();
      out.textContent = answer.request ? JSON.stringify(answer.request, null, 2) : answer.unavailable || "";
      errors.innerHTML = Object.entries(answer.errors || {}).map(([path, msgs]) => msgs.map((m) => `<li>${escapeHtml(path || "message")}: ${escapeHtml(m)}</li>`).join("")).join("");
    } catch (err) {
      out.textContent = `Could not load the payload: ${err}`;
    }
  }

  function update() {
    renumber();
    toggles();
    const content = readContent();
    syncSamples(content);
    renderPreview(content, samples());
    schedulePayload();
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);

  form.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add]");
    if (add) {
      event.preventDefault();
      const list = add.closest("[data-list]");
      if (list.dataset.maxItems && items(list.querySelector(":scope > .items")).length >= Number(list.dataset.maxItems)) return;
      const tpl = document.getElementById(`tpl-${add.dataset.add}`);
      const holder = document.createElement("div");
      holder.innerHTML = tpl.innerHTML;
      const item = holder.firstElementChild;
      list.querySelector(":scope > .items").append(item);
      update();
      item.querySelector("input, textarea")?.focus();
      return;
    }
    const remove = event.target.closest("[data-remove]");
    if (remove) {
      event.preventDefault();
      remove.closest("[data-item]").remove();
      update();
      return;
    }
    const move = event.target.closest("[data-move]");
    if (move) {
      event.preventDefault();
      const item = move.closest("[data-item]");
      const siblings = items(item.parentElement);
      const i = siblings.indexOf(item);
      if (move.dataset.move === "up" && i > 0) siblings[i - 1].before(item);
      if (move.dataset.move === "down" && i < siblings.length - 1) siblings[i + 1].after(item);
      update();
    }
  });

  document.querySelectorAll(".tabs [data-tab]").forEach((tab) => tab.addEventListener("click", () => {
    document.querySelectorAll(".tabs [data-tab]").forEach((t) => t.setAttribute("aria-selected", String(t === tab)));
    document.querySelectorAll("[data-panel]").forEach((p) => { p.hidden = p.dataset.panel !== tab.dataset.tab; });
    if (tab.dataset.tab === "payload") loadPayload();
  }));

  update();
})();
