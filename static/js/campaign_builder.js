// Campaign builder: the template list shows only the chosen provider's templates, and choosing an
// audience refreshes the placeholder rows (they offer that audience's attributes).
(() => {
  const provider = document.getElementById("id_provider");
  const template = document.getElementById("id_template");
  const audience = document.getElementById("id_audience");
  if (!provider || !template) return;

  function filterTemplates() {
    const chosen = provider.value;
    let selectedHidden = false;
    template.querySelectorAll("option[data-provider]").forEach((option) => {
      const hide = Boolean(chosen) && option.dataset.provider !== chosen;
      option.hidden = hide;
      option.disabled = hide;
      if (hide && option.selected) selectedHidden = true;
    });
    if (selectedHidden) {
      template.value = "";
      template.dispatchEvent(new Event("change", { bubbles: true }));  // htmx refreshes the mapping
    }
  }

  provider.addEventListener("change", filterTemplates);
  audience?.addEventListener("change", () => template.dispatchEvent(new Event("change", { bubbles: true })));
  filterTemplates();
})();

// A placeholder left empty says so once the user leaves the field (or submits: the server's message),
// and the message goes as soon as something is typed. The text comes from the row (the form's wording).
(() => {
  const form = document.getElementById("campaign-form");
  if (!form) return;
  const row = (input) => input.closest(".mapping-row");

  function clear(input) {
    input.parentElement.querySelectorAll(".errorlist").forEach((list) => list.remove());
  }

  function complain(input) {
    const r = row(input);
    const source = r.querySelector("select")?.value === "literal" ? "literal" : "attribute";
    clear(input);
    const list = document.createElement("ul");
    list.className = "errorlist";
    list.dataset.client = "";
    const item = document.createElement("li");
    item.textContent = r.dataset[source === "literal" ? "missingLiteral" : "missingAttribute"];
    list.append(item);
    input.after(list);
  }

  form.addEventListener("focusout", (event) => {
    const input = event.target.closest("input[data-map-value]");
    if (input && !input.value.trim()) complain(input);
  });
  form.addEventListener("input", (event) => {
    const input = event.target.closest("input[data-map-value]");
    if (input && input.value.trim()) clear(input);
  });
})();

// The SMS fallback text and the DLT template ID show only for a provider they apply to (SMS fallback on;
// India for the DLT ID), or while no provider is chosen. A stored value stays and is sent as before.
(() => {
  const provider = document.getElementById("id_provider");
  const flags = document.getElementById("provider-flags");
  if (!provider || !flags) return;
  function apply() {
    const chosen = flags.querySelector(`[data-provider="${CSS.escape(provider.value)}"]`);
    document.querySelectorAll("#campaign-form [data-needs]").forEach((field) => {
      const needs = field.dataset.needs === "india" ? ["sms", "india"] : ["sms"];
      field.hidden = Boolean(chosen) && !needs.every((flag) => chosen.dataset[flag]);
    });
  }
  provider.addEventListener("change", apply);
  apply();
})();

// The India promotional preset (offered in the live panel when the audience holds +91 numbers):
// fills the send window and its timezone; the live panel refreshes from the change.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-window-preset]");
  if (!button) return;
  const set = (id, value) => {
    const input = document.getElementById(id);
    if (!input) return;
    input.value = value;
    input.dispatchEvent(new Event("change", { bubbles: true }));
  };
  set("id_window_start", button.dataset.start);
  set("id_window_end", button.dataset.end);
  set("id_window_timezone", button.dataset.timezone);
  const rules = document.getElementById("id_send_rules");
  if (rules && rules.value === "off") set("id_send_rules", "category");
});
