// The generate form: idea chips and "Surprise me" fill the description; the cost, lane and ETA line
// follows the style, size and count chosen (asked of /generate/estimate/, and again every 20 s while
// the page is in view, since the line moves). The style picker is plain radio buttons: the browser
// gives it arrow keys and the form posts it without any of this.
(function () {
  const form = document.querySelector("[data-generate-form]");
  if (!form) return;
  const prompt = form.querySelector("[name=prompt]");

  // Ideas: a chip puts its description in the box; "Surprise me" walks a fixed list.
  const chips = form.querySelector("[data-chips]");
  const surprises = JSON.parse((document.getElementById("surprise-prompts") || {}).textContent || "[]");
  if (chips && prompt) {
    chips.hidden = false;
    let next = Number(sessionStorage.getItem("avatarsite.surprise") || 0);
    chips.addEventListener("click", (event) => {
      const chip = event.target.closest("button");
      if (!chip) return;
      let text = chip.dataset.prompt;
      if (chip.hasAttribute("data-surprise") && surprises.length) {
        text = surprises[next % surprises.length];
        if (text === prompt.value) text = surprises[++next % surprises.length];
        next = (next + 1) % surprises.length;
        sessionStorage.setItem("avatarsite.surprise", String(next));
      }
      if (!text) return;
      prompt.value = text;
      prompt.dispatchEvent(new Event("input", { bubbles: true }));
      prompt.focus();
    });
  }

  // The summary beside the button shows the chosen style's sample.
  const summary = document.querySelector("[data-summary-style]");
  function showChosen() {
    const chosen = form.querySelector("[name=style]:checked");
    const thumb = chosen && chosen.closest("label").querySelector(".style-thumb");
    if (!summary) return;
    summary.replaceChildren();
    if (thumb) {
      const copy = thumb.cloneNode(true);
      copy.removeAttribute("loading");
      copy.querySelectorAll("[id]").forEach((node) => node.removeAttribute("id"));
      summary.append(copy);
    }
  }
  showChosen();

  // The cost, lane and ETA line.
  const line = form.querySelector("[data-estimate]");
  const url = form.dataset.estimateUrl;
  if (!line || !url) return;
  const cost = line.querySelector("[data-cost]");
  const lanePart = line.querySelector("[data-lane-part]");
  const lane = line.querySelector("[data-lane]");
  const eta = line.querySelector("[data-eta]");
  const styleLabel = line.querySelector("[data-style-label]");
  let pending = null;
  let shown = "";

  function choices() {
    const style = form.querySelector("[name=style]:checked");
    const size = form.querySelector("[name=size]");
    const count = form.querySelector("[name=num_images]");
    return new URLSearchParams({
      style: style ? style.value : "",
      size: size ? size.value : "1024",
      num_images: count ? count.value || "1" : "1",
    }).toString();
  }

  async function refresh(force) {
    const query = choices();
    if (query === shown && !force) return;
    if (pending) pending.abort();
    pending = new AbortController();
    try {
      const answer = await fetch(url + "?" + query, { signal: pending.signal, headers: { Accept: "application/json" } });
      if (!answer.ok) return;
      const estimate = await answer.json();
      shown = query;
      if (styleLabel) styleLabel.textContent = estimate.style_label;
      cost.textContent = estimate.cost_text;
      lanePart.hidden = !estimate.available;
      lane.textContent = estimate.lane_text;
      eta.textContent = estimate.eta_text;
      line.classList.toggle("is-short", !estimate.enough_quota);
      line.dataset.style = estimate.style;
    } catch (error) {
      if (error.name !== "AbortError") console.warn("estimate not refreshed", error);
    }
  }

  form.addEventListener("change", (event) => {
    if (event.target.name === "style") showChosen();
    if (["style", "size", "num_images"].includes(event.target.name)) refresh(false);
  });
  shown = choices(); // the page came with this one
  setInterval(() => {
    if (document.visibilityState === "visible") refresh(true);
  }, 20000);
})();
