// Live progress of one job: the websocket sends the saved state first, then every change;
// if websockets are unavailable, the JSON status endpoint is polled instead.
(function () {
  const card = document.querySelector("[data-job]");
  if (!card) return;
  const bar = card.querySelector("[data-bar]");
  const message = card.querySelector("[data-message]");
  const result = card.querySelector("[data-result]");
  const cancel = card.querySelector("[data-cancel]");
  const terminal = ["succeeded", "failed", "canceled"];
  let done = false;

  function show(state) {
    bar.style.width = state.progress + "%";
    card.querySelector("[role=progressbar]").setAttribute("aria-valuenow", state.progress);
    message.textContent = state.message || state.status;
    card.dataset.status = state.status;
    if (!terminal.includes(state.status)) return;
    done = true;
    if (cancel) cancel.remove();
    if (state.status !== "succeeded" || result.children.length) return;
    for (const image of state.images) {
      const img = document.createElement("img");
      img.className = "preview circle";
      img.src = image.preview_url;
      img.alt = "Your generated avatar";
      img.width = img.height = 240;
      const links = document.createElement("div");
      links.className = "downloads";
      for (const variant of image.variants) {
        const link = document.createElement("a");
        link.className = "button button-small button-ghost";
        link.href = variant.url;
        link.download = "";
        link.textContent = variant.size + " px · " + variant.format.toUpperCase();
        links.append(link);
      }
      result.append(img, links);
    }
  }

  function poll() {
    if (done) return;
    fetch(card.dataset.statusUrl, { headers: { Accept: "application/json" } })
      .then((response) => (response.ok ? response.json() : null))
      .then((state) => { if (state) show(state); })
      .finally(() => { if (!done) setTimeout(poll, 1500); });
  }

  if (terminal.includes(card.dataset.status)) return;
  try {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + card.dataset.wsPath);
    socket.onmessage = (event) => show(JSON.parse(event.data));
    socket.onclose = () => { if (!done) poll(); };
  } catch (error) {
    poll();
  }
})();
