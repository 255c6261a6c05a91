/* Small progressive enhancements; every page also works without JavaScript. */
document.addEventListener("DOMContentLoaded", () => {
  // Live character count for fields with data-max (the answer: 350 characters).
  document.querySelectorAll("textarea[data-max]").forEach((area) => {
    const label = document.querySelector(`[data-count-for="${area.id}"]`);
    if (!label) return;
    const max = Number(area.dataset.max);
    const update = () => {
      const n = [...area.value.trim()].length;
      label.textContent = `${n} / ${max} 文字`;
      label.classList.toggle("over", n > max);
    };
    area.addEventListener("input", update);
    update();
  });
});
