// The API docs (Swagger UI): names for the controls Swagger UI draws without one, and keyboard
// access to its scrolling examples, so screen readers and keyboards can use the opened operations
// (axe-core's select-name, button-name and scrollable-region-focusable rules). Swagger UI redraws
// parts of the page as they open, so each drawing is labelled again.
(() => {
  "use strict";

  function label(root) {
    for (const control of root.querySelectorAll("tr[data-param-name] :is(select, input, textarea):not([aria-label])")) {
      const row = control.closest("tr[data-param-name]");
      control.setAttribute("aria-label", `${row.dataset.paramName} (${row.dataset.paramIn})`);
    }
    for (const select of root.querySelectorAll("select.examples-select-element:not([aria-label])")) select.setAttribute("aria-label", "Example");
    for (const body of root.querySelectorAll("textarea.body-param__text:not([aria-label])")) body.setAttribute("aria-label", "Request body");
    for (const button of root.querySelectorAll("button.model-box-control:not([aria-label])")) {
      if (!button.textContent.trim()) button.setAttribute("aria-label", "Hide this schema");
    }
    for (const button of root.querySelectorAll("button.close-modal:not([aria-label])")) button.setAttribute("aria-label", "Close");
    for (const example of root.querySelectorAll("pre.microlight:not([tabindex])")) example.tabIndex = 0;
  }

  const root = document.getElementById("swagger-ui");
  if (!root) return;
  new MutationObserver(() => label(root)).observe(root, { childList: true, subtree: true });
})();
