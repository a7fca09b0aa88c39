// The generate form: show what the request costs (instant styles are free; the AI style takes
// one generation per image and waits in the plan's lane).
(function () {
  const form = document.querySelector("[data-generate-form]");
  const data = document.getElementById("instant-styles");
  const style = form && form.querySelector("[name=style]");
  if (!style || !data) return;
  const instant = JSON.parse(data.textContent);
  const count = form.querySelector("[name=num_images]");
  const units = form.querySelector("[data-units]");
  const update = () => {
    const free = instant.includes(style.value);
    form.querySelector("[data-estimate-ai]").hidden = free;
    form.querySelector("[data-estimate-instant]").hidden = !free;
    if (units && count) units.textContent = count.value + (count.value === "1" ? " generation" : " generations");
  };
  style.addEventListener("change", update);
  if (count) count.addEventListener("change", update);
  update();
})();
