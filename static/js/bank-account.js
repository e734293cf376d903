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

// The code lookup (docs/decisions.md D1.7): moved under the 金融機関 field, it looks up
// without leaving the page (the page itself answers a GET with the same names), and a result
// chosen by a tap, a click, Enter or Space fills its field. Without JavaScript the same
// buttons send the form and the page comes back with the field filled.
(function () {
  var form = document.querySelector("form.bank-form");
  var lookup = form && form.querySelector("details.bank-lookup");
  var bank = form && form.querySelector("[name=bank]");
  var branch = form && form.querySelector("[name=branch]");
  if (!lookup || !bank || !branch || !window.fetch || !window.DOMParser) return;
  var bankField = bank.closest(".field") || bank;
  bankField.parentNode.insertBefore(lookup, bankField.nextSibling);
  var button = lookup.querySelector(".lookup-button");
  var bankCode = lookup.querySelector("[name=bank_code]");
  // Not the form's default button any more: Enter in a field of the form still goes to the
  // confirmation (the first submit button), and a result does not send the form.
  function tame(root) {
    root.querySelectorAll("button[type=submit]").forEach(function (b) { b.type = "button"; });
  }
  tame(lookup);
  function status(text) {
    var box = lookup.querySelector(".lookup-status");
    if (box) box.textContent = text;
  }
  function search() {
    if (!bankCode.value.trim() && /^[0-9]{4}$/.test(bank.value.trim())) {
      bankCode.value = bank.value.trim();
    }
    var query = new URLSearchParams();
    ["bank_q", "bank_code", "branch_q"].forEach(function (name) {
      var input = lookup.querySelector("[name=" + name + "]");
      if (input && input.value.trim()) query.set(name, input.value.trim());
    });
    status("調べています…");
    fetch(window.location.pathname + "?" + query.toString(), {credentials: "same-origin"})
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        ["bank-lookup-results", "branch-lookup-results"].forEach(function (id) {
          var fresh = doc.getElementById(id);
          var old = lookup.querySelector("#" + id);
          if (!fresh || !old) throw new Error("no results");
          tame(fresh);
          old.replaceWith(document.importNode(fresh, true));
        });
        var count = lookup.querySelectorAll("button.pick").length;
        var none = lookup.querySelector(".lookup-results p");
        status(count ? count + "件見つかりました。選ぶと入力されます。" :
               (none ? none.textContent : "見つかりませんでした。"));
      })
      .catch(function () {
        status("調べられませんでした。しばらくしてから、もう一度お試しください。");
      });
  }
  button.addEventListener("click", search);
  lookup.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && event.target.tagName === "INPUT") {
      event.preventDefault();
      search();
    }
  });
  lookup.addEventListener("click", function (event) {
    var pick = event.target.closest("button.pick");
    if (!pick) return;
    var isBank = pick.name === "pick_bank";
    var field = isBank ? bank : branch;
    field.value = pick.value;
    if (isBank) bankCode.value = pick.value;
    status((isBank ? "金融機関" : "支店") + "の欄に " + pick.value + "（" +
           (pick.dataset.name || "") + "）を入力しました。");
    field.focus();
  });
})();
