// A page shown again with errors: move the focus to the error summary at the top, so that a
// screen reader reads it first and the keyboard starts from it; its links lead to the fields.
(function () {
  function focusSummary() {
    var summary = document.querySelector(".error-summary");
    if (!summary) return;
    if (!summary.hasAttribute("tabindex")) summary.setAttribute("tabindex", "-1");
    summary.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusSummary);
  else focusSummary();
})();
