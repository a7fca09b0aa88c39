// The generate form: show what the chosen style costs (instant styles are free; the AI style
// takes one generation and waits in the plan's lane).
(function () {
  const form = document.querySelector("[data-generate-form]");
  const data = document.getElementById("instant-styles");
  const style = form && form.querySelector("[name=style]");
  if (!style || !data) return;
  const instant = JSON.parse(data.textContent);
  const update = () => {
    const free = instant.includes(style.value);
    form.querySelector("[data-estimate-ai]").hidden = free;
    form.querySelector("[data-estimate-instant]").hidden = !free;
  };
  style.addEventListener("change", update);
  update();
})();
