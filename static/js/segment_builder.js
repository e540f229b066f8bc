// Segment builder: add and remove rule rows (cloned from the <template>), and show in each row only
// the inputs its kind and operator use. The matching count refreshes over htmx (hx-trigger on the page).
(() => {
  const rules = document.getElementById("rules");
  const template = document.getElementById("rule-template");
  const add = document.getElementById("add-rule");
  if (!rules || !template || !add) return;

  function shown(row) {
    const kind = row.querySelector("[data-kind]").value;
    const op = row.querySelector("[data-op]").value;
    const range = op === "between" || op === "date_between";
    const wanted = new Set(["all", kind]);
    if (kind === "attribute") wanted.add(range ? "attribute-range" : "attribute-value");
    row.querySelectorAll("[data-for]").forEach((field) => {
      field.hidden = !field.dataset.for.split(" ").some((name) => wanted.has(name));
    });
  }

  function nextIndex() {
    let max = -1;
    rules.querySelectorAll("[data-kind]").forEach((select) => {
      const n = Number(select.name.split("-")[1]);
      if (n > max) max = n;
    });
    return max + 1;
  }

  function changed() {
    document.body.dispatchEvent(new Event("rules-changed"));
  }

  add.addEventListener("click", () => {
    const html = template.innerHTML.replaceAll("__n__", String(nextIndex()));
    rules.insertAdjacentHTML("beforeend", html);
    shown(rules.lastElementChild);
    changed();
  });
  rules.addEventListener("click", (event) => {
    const button = event.target.closest("[data-remove-rule]");
    if (!button) return;
    button.closest("[data-rule-row]").remove();
    changed();
  });
  rules.addEventListener("change", (event) => {
    const row = event.target.closest("[data-rule-row]");
    if (row) shown(row);
  });
  rules.querySelectorAll("[data-rule-row]").forEach(shown);
})();
