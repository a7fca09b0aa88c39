// Copy buttons for text shown once (a new API key): the text stays selectable without this script;
// with it, each [data-copy] button appears and copies its element's text.
(() => {
  "use strict";

  function selectText(element) {
    const range = document.createRange();
    range.selectNodeContents(element);
    const selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  async function copy(element) {
    const text = element.textContent.trim();
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // Plain http on another host than localhost has no Clipboard API: the older command still works.
    selectText(element);
    if (!document.execCommand("copy")) throw new Error("copy refused");
  }

  for (const button of document.querySelectorAll("[data-copy]")) {
    const target = document.getElementById(button.dataset.copy);
    if (!target) continue;
    const label = button.textContent;
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await copy(target);
        button.textContent = "Copied";
      } catch (error) {
        selectText(target); // at least selected: Ctrl-C / Cmd-C copies it
        button.textContent = "Press Ctrl-C to copy";
      }
      setTimeout(() => { button.textContent = label; }, 2500);
    });
  }
})();
