// Accessibility fixes for markup that Django's admin scripts and widgets make (WCAG 2.1 A/AA,
// checked by axe in tests/e2e/test_admin_accessibility.py). They run once the page has
// loaded, after the admin's own scripts (the autocomplete and the two-box filter) have built
// their markup.
(function () {
  "use strict";

  function labelFor(id) {
    return id ? document.querySelector('label[for="' + id + '"]') : null;
  }

  function labelText(label) {
    return label ? label.textContent.replace(/[:：]\s*$/, "").trim() : "";
  }

  function ensureId(element, id) {
    if (!element.id) element.id = id;
    return element.id;
  }

  // The autocomplete (select2): its combobox and its read-only text box are named by the
  // field's label; without a value, select2 names them by an empty element.
  function nameAutocompletes() {
    document.querySelectorAll("select.admin-autocomplete").forEach(function (select) {
      var label = labelFor(select.id);
      if (!label) return;
      var labelId = ensureId(label, select.id + "_label");
      var container = select.nextElementSibling;
      if (!container) return;
      var rendered = container.querySelector(".select2-selection__rendered");
      var combobox = container.querySelector(".select2-selection");
      if (combobox) {
        combobox.setAttribute("aria-labelledby",
          labelId + (rendered && rendered.id ? " " + rendered.id : ""));
      }
      if (rendered) rendered.setAttribute("aria-label", labelText(label));
    });
  }

  // The two-box filter (filter_horizontal): its help icons carry an aria-label, which a span
  // may only have with a role; the field's own label still names the original <select>,
  // now renamed "<id>_from".
  function fixSelectFilters() {
    document.querySelectorAll(".help-tooltip.search-label-icon[aria-label]").forEach(
      function (icon) { icon.setAttribute("role", "img"); });
    document.querySelectorAll("label[for]").forEach(function (label) {
      var id = label.getAttribute("for");
      if (!document.getElementById(id) && document.getElementById(id + "_from")) {
        label.setAttribute("for", id + "_from");
      }
    });
  }

  // The date-and-time field (two inputs, one label without "for"): each input is named by
  // the field's label and its own caption (日付 / 時刻).
  function nameSplitDateTimes() {
    document.querySelectorAll("p.datetime").forEach(function (paragraph) {
      var row = paragraph.closest(".form-row, .fieldBox, td");
      var label = row ? row.querySelector("label") : null;
      var caption = "";
      paragraph.childNodes.forEach(function (node) {
        if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) {
          caption = node.textContent.replace(/[:：]\s*$/, "").trim();
        } else if (node.nodeName === "INPUT" && node.type !== "hidden" &&
                   !node.hasAttribute("aria-label")) {
          node.setAttribute("aria-label", (labelText(label) + " " + caption).trim());
        }
      });
    });
  }

  // An inline's "削除" check box: its column heading is not a label.
  function nameInlineDeletes() {
    document.querySelectorAll('input[type="checkbox"][name$="-DELETE"]').forEach(
      function (box) {
        if (labelFor(box.id) || box.hasAttribute("aria-label")) return;
        var row = box.closest("tr");
        var original = row ? row.querySelector("td.original p") : null;
        var what = original ? original.textContent.trim() : "";
        box.setAttribute("aria-label", ("削除 " + what).trim());
      });
  }

  // A widget described by "<id>_helptext" or "<id>_error" whose help or error list is
  // printed without that id: the read-only password field (its widget has no id to derive
  // it from), a field of a multi-field line or a third-party widget (the schedules' task).
  function linkDescriptions() {
    var kinds = {_helptext: ".help:not([id])", _error: ".errorlist:not([id])"};
    document.querySelectorAll(".form-row [aria-describedby]").forEach(function (element) {
      element.getAttribute("aria-describedby").split(/\s+/).forEach(function (id) {
        if (!id || document.getElementById(id)) return;
        var suffix = /_helptext$/.test(id) ? "_helptext" : /_error$/.test(id) ? "_error" : null;
        if (!suffix) return;
        var found = element.closest(".form-row").querySelector(kinds[suffix]);
        if (found) found.id = id;
      });
    });
  }

  function fix() {
    nameAutocompletes();
    linkDescriptions();
    fixSelectFilters();
    nameSplitDateTimes();
    nameInlineDeletes();
  }

  window.addEventListener("load", fix);
  // The autocomplete is built in a jQuery "ready" handler, which may come after "load";
  // one registered after it runs after it.
  if (window.django && window.django.jQuery) window.django.jQuery(fix);
  // A row added to an inline, or a value chosen in an autocomplete, makes new markup.
  document.addEventListener("formset:added", fix);
  if (window.django && window.django.jQuery) {
    window.django.jQuery(document).on("select2:select select2:close", fix);
  }
})();
