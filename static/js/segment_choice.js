// Campaign builder: the "Send to" list offers only the segments of the chosen audience.
(() => {
  const audience = document.getElementById("id_audience");
  const segment = document.getElementById("id_segment");
  if (!audience || !segment) return;

  function filterSegments() {
    segment.querySelectorAll("option[data-audience]").forEach((option) => {
      const hide = option.dataset.audience !== audience.value;
      option.hidden = hide;
      option.disabled = hide;
      if (hide && option.selected) segment.value = "";
    });
  }

  audience.addEventListener("change", filterSegments);
  filterSegments();
})();
