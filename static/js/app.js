// Small progressive enhancements shared by every page. No framework, nothing from a CDN.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  const text = source.value ?? source.textContent;
  const done = () => { button.textContent = "Copied"; setTimeout(() => (button.textContent = "Copy"), 1500); };
  if (navigator.clipboard) navigator.clipboard.writeText(text).then(done, () => { source.select?.(); document.execCommand("copy"); done(); });
  else { source.select?.(); document.execCommand("copy"); done(); }
});

// Formsets edited as rows: a button with data-add-row="<prefix>" clones the empty form template.
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-add-row]");
  if (add) {
    event.preventDefault();
    const prefix = add.dataset.addRow;
    const total = document.getElementById(`id_${prefix}-TOTAL_FORMS`);
    const template = document.getElementById(`${prefix}-empty`);
    const rows = document.getElementById(`${prefix}-rows`);
    const index = Number(total.value);
    const wrapper = document.createElement("div");
    wrapper.innerHTML = template.innerHTML.replace(/__prefix__/g, index);
    rows.append(...wrapper.children);
    total.value = index + 1;
    rows.dispatchEvent(new Event("input", { bubbles: true }));
    return;
  }
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    event.preventDefault();
    const row = remove.closest(".kv-row, .formset-row");
    const del = row.querySelector('input[name$="-DELETE"]');
    if (del) { del.checked = true; row.hidden = true; } else { row.remove(); }
    document.dispatchEvent(new Event("input", { bubbles: true }));
  }
});

// A form with data-confirm="question" asks before it submits (no inline handlers: the CSP forbids them).
document.addEventListener("submit", (event) => {
  const form = event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.dataset.confirm)) event.preventDefault();
});

// The user's timezone: while the profile has none, the browser tells its own once.
(() => {
  const url = document.body?.dataset.detectTimezone;
  const zone = window.Intl?.DateTimeFormat().resolvedOptions().timeZone;
  if (!url || !zone) return;
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  fetch(url, { method: "POST", headers, body: new URLSearchParams({ timezone: zone }), credentials: "same-origin" });
})();

// A <select data-timezone-select> gets a search box: typing filters its options (common zones first).
document.querySelectorAll("select[data-timezone-select]").forEach((select) => {
  const search = document.createElement("input");
  search.type = "search";
  search.className = "timezone-search";
  search.placeholder = "Search timezones (city or region)";
  search.setAttribute("aria-label", "Search timezones");
  search.setAttribute("aria-controls", select.id);
  select.before(search);
  const words = (text) => text.toLowerCase().replace(/[_/]/g, " ");
  search.addEventListener("input", () => {
    const wanted = words(search.value.trim());
    let first = null;
    select.querySelectorAll("optgroup").forEach((group) => {
      let shown = 0;
      group.querySelectorAll("option").forEach((option) => {
        const match = !wanted || words(`${option.value} ${option.textContent}`).includes(wanted);
        option.hidden = !match;
        if (match) { shown += 1; first = first || option; }
      });
      group.hidden = shown === 0;
    });
    const current = select.selectedOptions[0];
    if (first && (!current || current.hidden)) {
      select.value = first.value;
      select.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
});

// Settings that apply only while a checkbox is ticked: <div data-shown-by="<checkbox id>"> (the provider
// form's SMS fallback settings, its DLT ones under India). Hidden fields still submit what they hold.
document.querySelectorAll("[data-shown-by]").forEach((block) => {
  const box = document.getElementById(block.dataset.shownBy);
  if (!box) return;
  const apply = () => { block.hidden = !box.checked; };
  box.addEventListener("change", apply);
  apply();
});
