// ste-async view: small enhancements over pages that work without this script.
// Page text is never parsed as HTML here: labels are set with textContent only.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // a filter applies as soon as it is chosen
  for (const select of document.querySelectorAll("select[data-autosubmit]")) {
    select.addEventListener("change", () => select.form.submit());
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
