// A page shown again with errors: move the focus to the error summary at the top, so that a
// screen reader reads it first and the keyboard starts from it; its links lead to the fields.
// A form that posts to "#main" comes back at that fragment, and the browser's move to the
// fragment (after the document is parsed) would take the focus to <main>: the summary takes
// it again once the page has loaded, unless the person has moved on by then.
(function () {
  function summary() {
    return document.querySelector(".error-summary");
  }
  function focusSummary() {
    var element = summary();
    if (!element) return;
    if (!element.hasAttribute("tabindex")) element.setAttribute("tabindex", "-1");
    element.focus();
  }
  function focusAgain() {
    var active = document.activeElement;
    if (active && active !== document.body && active.id !== "main") return;
    focusSummary();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", focusSummary);
  else focusSummary();
  window.addEventListener("load", function () { window.setTimeout(focusAgain, 0); });
})();
