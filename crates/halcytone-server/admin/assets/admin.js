// The edit form's live check: every change asks the server for the channel's
// verdict and counts (the same rules as saving), and shows them.
"use strict";
(function () {
  const form = document.querySelector("form.edit[data-check]");
  if (!form) return;
  const token = document.querySelector('meta[name="csrf-token"]').content;
  const error = document.getElementById("edit-error");
  let timer = null;
  let asked = 0;
  async function check() {
    const mine = ++asked;
    const body = new URLSearchParams(new FormData(form));
    let answer;
    try {
      const response = await fetch(form.dataset.check, {
        method: "POST",
        headers: { "X-CSRF-Token": token },
        body,
        credentials: "same-origin",
      });
      if (!response.ok) return;
      answer = await response.json();
    } catch (_) {
      return;
    }
    if (mine !== asked) return;
    form.querySelectorAll("output[data-measure]").forEach((output) => {
      const measure = answer.measures[Number(output.dataset.measure)];
      if (!measure) return;
      output.textContent = measure.length + "/" + measure.limit;
      output.classList.toggle("over", measure.length > measure.limit);
    });
    if (answer.error) {
      error.textContent = answer.error;
      error.hidden = false;
    } else {
      error.textContent = "";
      error.hidden = true;
    }
  }
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(check, 150);
  });
})();
