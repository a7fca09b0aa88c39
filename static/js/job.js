// Live progress of one job. The websocket sends the saved state first, then every change; while
// the job waits in line the page asks for a fresh state (its place moves up). If the socket drops
// it reconnects (and gets the state again, so nothing is missed); without websockets the JSON
// status endpoint is polled instead.
(function () {
  const card = document.querySelector("[data-job]");
  if (!card) return;
  const bar = card.querySelector("[data-bar]");
  const message = card.querySelector("[data-message]");
  const eta = card.querySelector("[data-eta]");
  const result = card.querySelector("[data-result]");
  const suggestions = card.querySelector("[data-suggestions]");
  const again = card.querySelector("[data-again]");
  const similarTitle = document.querySelector("[data-similar-title]");
  const terminal = ["succeeded", "failed", "canceled"];
  let done = terminal.includes(card.dataset.status);
  let socket = null;
  let failures = 0;

  let shownVariants = -1;
  function showImages(images) {
    // Drawn again when more sizes arrive (the first image comes alone, the rest follow).
    const variants = images.reduce((count, image) => count + image.variants.length, 0);
    if (variants === shownVariants) return;
    shownVariants = variants;
    result.replaceChildren();
    for (const image of images) {
      for (const shape of ["circle", "square"]) {
        const img = document.createElement("img");
        img.className = "preview " + shape;
        img.src = image.preview_url;
        img.alt = "Your generated avatar";
        img.width = img.height = 240;
        result.append(img);
      }
      const links = document.createElement("div");
      links.className = "downloads";
      for (const variant of image.variants) {
        const link = document.createElement("a");
        link.className = "button button-small button-ghost";
        link.href = variant.download_url;
        link.download = "";
        link.textContent = variant.size + " px · " + variant.format.toUpperCase();
        links.append(link);
      }
      const provenance = document.createElement("p");
      provenance.className = "muted provenance";
      const p = image.provenance;
      provenance.textContent = [
        p.provider, p.model, "seed " + p.seed, p.upscaled_from ? "upscaled from " + p.upscaled_from + " px" : "", p.licence_note,
      ].filter(Boolean).join(" · ");
      result.append(links, provenance);
      const applied = appliedNote(p.applied);
      if (applied) result.append(applied);
    }
  }

  // What was applied against what was asked (job.html draws the same): the style, model and size
  // that made the image, a sentence per difference from the request, and for the instant generator
  // what of the prompt it drew and what it did not understand.
  function appliedNote(applied) {
    if (!applied || !applied.style) return null;
    const box = document.createElement("div");
    box.className = "applied";
    box.dataset.applied = "";
    const line = document.createElement("p");
    const label = document.createElement("strong");
    label.textContent = applied.style_label;
    line.append(applied.local ? "Drawn in " : "Made in ", label, " by " + applied.model + " at " + applied.size + " px");
    box.append(line);
    for (const sentence of applied.asked) {
      box.append(Object.assign(document.createElement("p"), { className: "muted", textContent: sentence }));
    }
    if (applied.local) {
      const words = document.createElement("p");
      const drawn = Object.assign(document.createElement("span"), { className: "applied-label", textContent: "Drawn:" });
      words.append(drawn, " " + (applied.drawn.join(", ") || "nothing in particular (all chosen from the seed)"));
      if (applied.not_understood.length) {
        const missed = Object.assign(document.createElement("span"), { className: "applied-label", textContent: "Not understood:" });
        words.append(" · ", missed, " " + applied.not_understood.join(", "));
      }
      box.append(words);
    }
    return box;
  }

  function show(state) {
    bar.style.width = state.progress + "%";
    card.querySelector("[role=progressbar]").setAttribute("aria-valuenow", state.progress);
    message.textContent = state.message || state.status;
    card.dataset.status = state.status;
    if (state.eta_seconds !== null && state.eta_seconds !== undefined && !terminal.includes(state.status)) {
      const place = state.queue_position ? "Position " + state.queue_position + " in the " + state.lane + " · " : "";
      eta.textContent = place + "ready in about " + state.eta_seconds + " s";
      eta.hidden = false;
    } else {
      eta.hidden = true;
    }
    if (!terminal.includes(state.status)) return;
    done = true;
    const cancel = card.querySelector("[data-cancel]");
    if (cancel) cancel.remove();
    if (again && state.status !== "canceled") again.hidden = false;
    if (state.status === "succeeded") {
      showImages(state.images);
      if (similarTitle) similarTitle.textContent = "More like this";
    }
    if (state.status === "failed") {
      suggestions.replaceChildren(...state.suggestions.map((text) => Object.assign(document.createElement("li"), { textContent: text })));
      if (similarTitle) similarTitle.textContent = "Premade avatars you may like instead";
    }
    // A succeeded job keeps listening: its other sizes arrive in a later message.
    if (socket && state.status !== "succeeded") socket.close();
  }

  function poll() {
    if (done) return;
    fetch(card.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((state) => { if (state) show(state); })
      .finally(() => { if (!done) setTimeout(poll, 1500); });
  }

  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    try {
      socket = new WebSocket(scheme + location.host + card.dataset.wsPath);
    } catch (error) {
      poll();
      return;
    }
    let refresher = null;
    socket.onopen = () => {
      failures = 0;
      // While queued, ask for the state now and then: the place in line moves as others finish.
      refresher = setInterval(() => {
        if (card.dataset.status === "queued" && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "refresh" }));
      }, 3000);
    };
    socket.onmessage = (event) => show(JSON.parse(event.data));
    socket.onclose = () => {
      clearInterval(refresher);
      if (done) return;
      failures += 1;
      if (failures > 3) poll();
      else setTimeout(connect, 500 * failures);
    };
  }

  if (!["failed", "canceled"].includes(card.dataset.status)) connect();
})();
