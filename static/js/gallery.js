// "Load more" without leaving the page: fetch the next server-rendered cards and append them.
document.addEventListener("click", async (event) => {
  const link = event.target.closest("[data-load-more]");
  if (!link) return;
  event.preventDefault();
  link.setAttribute("aria-busy", "true");
  const url = new URL(link.href, window.location.href);
  url.searchParams.set("partial", "1");
  const response = await fetch(url, { headers: { Accept: "text/html" } });
  if (!response.ok) { window.location.href = link.href; return; }
  const holder = document.createElement("div");
  holder.innerHTML = await response.text();
  link.replaceWith(...holder.childNodes);
});
