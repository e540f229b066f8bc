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
