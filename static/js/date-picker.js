// The calendar beside a YYYY-MM-DD text field: picking a date writes it into the field.
document.addEventListener("change", function (event) {
  var picker = event.target;
  if (!picker.classList || !picker.classList.contains("date-picker")) return;
  var field = document.getElementById(picker.dataset.for);
  if (field && picker.value) field.value = picker.value;
});
