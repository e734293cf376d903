// One text box per date (typed as 2025-06-10 or 令和7年6月10日) with a calendar button that
// opens the browser's own date picker; the picked date is written into the text box as
// YYYY-MM-DD. Without JavaScript the button stays hidden and the box still takes typing.
(function () {
  function pickerFor(button) {
    return button.parentNode.querySelector("input.date-picker[data-for='" + button.dataset.for + "']");
  }
  function isoOf(text) {
    var match = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})$/.exec((text || "").trim());
    if (!match) return "";
    return match[1] + "-" + ("0" + match[2]).slice(-2) + "-" + ("0" + match[3]).slice(-2);
  }
  function ready() {
    document.querySelectorAll("button.date-picker-button").forEach(function (button) {
      var picker = pickerFor(button);
      if (!picker || typeof picker.showPicker !== "function") return;  // typing only
      button.hidden = false;
      picker.hidden = false;
      picker.classList.add("visually-hidden");
    });
  }
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("button.date-picker-button");
    if (!button) return;
    var picker = pickerFor(button);
    var field = document.getElementById(button.dataset.for);
    if (!picker || !field) return;
    picker.value = isoOf(field.value);
    try { picker.showPicker(); } catch (error) { picker.focus(); }
  });
  document.addEventListener("change", function (event) {
    var picker = event.target;
    if (!picker.classList || !picker.classList.contains("date-picker")) return;
    var field = document.getElementById(picker.dataset.for);
    if (field && picker.value) {
      field.value = picker.value;
      field.dispatchEvent(new Event("input", { bubbles: true }));
      field.focus();
    }
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
