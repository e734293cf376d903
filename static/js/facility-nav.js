// The facility's menu is a <details> (docs/decisions.md D1.7): folded on a phone, open on a
// wider screen, where its summary is hidden. Without JavaScript it opens by its summary.
(function () {
  var menu = document.querySelector(".facility-nav details");
  if (!menu || !window.matchMedia) return;
  var wide = window.matchMedia("(min-width: 37.5001rem)");
  function apply() { menu.open = wide.matches; }
  apply();
  if (wide.addEventListener) wide.addEventListener("change", apply);
})();
