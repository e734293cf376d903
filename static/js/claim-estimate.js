// Live estimate while an item is typed: the amount itself is computed on the server by the
// program's rule; this only sums the item being typed and asks.
(function () {
  var form = document.getElementById("item-form");
  var out = document.getElementById("estimate");
  if (!form || !out) return;
  var timer = null;
  function value(name) {
    var field = form.elements[name];
    var n = parseInt((field && field.value || "0").replace(/[^0-9]/g, ""), 10);
    return isNaN(n) ? 0 : n;
  }
  function update() {
    var extra = value("quantity") * value("unit_price") + value("tax");
    fetch(form.dataset.estimate + "?extra_cost=" + extra, {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) {
        out.textContent = data.eligible
          ? data.amount.toLocaleString("ja-JP") + "円（" + data.calculation + "）"
          : data.reasons.join(" / ");
      });
  }
  form.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(update, 300);
  });
  // A form shown again with what was typed (or typed before this script ran) is estimated too.
  if (value("unit_price") || value("tax")) update();
})();
