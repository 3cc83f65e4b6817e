// ste-async view: small enhancements over pages that work without this script.
// Page text is never parsed as HTML here: labels are set with textContent only.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // filters go into the address without the empty ones, and apply as soon as chosen
  const apply = (form) => {
    const params = new URLSearchParams();
    for (const [key, value] of new FormData(form)) {
      if (value !== "") params.append(key, value);
    }
    const query = params.toString();
    window.location.assign(form.getAttribute("action") + (query ? "?" + query : ""));
  };
  for (const form of document.querySelectorAll("form.filters")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      apply(form);
    });
  }
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => apply(select.form));
  }

  // one button opens or closes every folded block of an episode
  const toggle = document.getElementById("toggle-all");
  if (toggle) {
    const blocks = () => Array.from(document.querySelectorAll("main details"));
    const label = () => {
      toggle.textContent = blocks().every((d) => d.open) ? "collapse all" : "expand all";
    };
    toggle.hidden = false;
    label();
    toggle.addEventListener("click", () => {
      const open = !blocks().every((d) => d.open);
      for (const d of blocks()) d.open = open;
      label();
    });
  }
});
