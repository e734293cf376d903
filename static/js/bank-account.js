// The bank block or the ゆうちょ block, by the radio "口座の種類". Without JavaScript both
// blocks stay visible and the server reads only the chosen one.
(function () {
  var form = document.querySelector("form.bank-form");
  if (!form) return;
  function show() {
    var checked = form.querySelector("input[name=method]:checked");
    var method = checked ? checked.value : "bank";
    form.querySelectorAll("[data-method-block]").forEach(function (block) {
      block.hidden = block.dataset.methodBlock !== method;
    });
    var note = form.querySelector(".no-js-note");
    if (note) note.hidden = true;
  }
  form.addEventListener("change", function (event) {
    if (event.target.name === "method") show();
  });
  show();
})();
