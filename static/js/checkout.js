// The checkout return page while Stripe has not confirmed the payment: asks the server again every
// few seconds in the background and shows its answer once the plan is confirmed. No timed reload of
// the whole page (it would take a screen reader's and a keyboard's place away: axe-core's
// meta-refresh rule); without this script the "Check again" link does the same by hand.
(() => {
  "use strict";

  const EVERY_MS = 3000;
  const GIVE_UP_AFTER_MS = 10 * 60 * 1000; // Stripe confirms within seconds; past this, the link is there
  const started = Date.now();

  async function check() {
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", cache: "no-store" });
      if (response.ok) {
        const answer = new DOMParser().parseFromString(await response.text(), "text/html");
        const heading = answer.querySelector("[data-checkout-result]");
        if (heading && heading.dataset.checkoutResult === "confirmed") {
          document.querySelector("main").replaceWith(answer.querySelector("main"));
          const shown = document.querySelector("[data-checkout-result]");
          shown.tabIndex = -1;
          shown.focus(); // the new heading is read out where the old one was
          return;
        }
      }
    } catch {
      // Offline for a moment: the next round tries again.
    }
    if (Date.now() - started < GIVE_UP_AFTER_MS) window.setTimeout(check, EVERY_MS);
  }

  if (document.querySelector("[data-checkout-poll]")) window.setTimeout(check, EVERY_MS);
})();
