// Copy buttons: shown only when this script runs (the values are in read-only fields, which
// can be selected and copied without it).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var field = document.getElementById(button.dataset.copy);
      if (!field) return;
      field.select();
      var done = function () {
        button.textContent = "Copied";
        setTimeout(function () { button.textContent = "Copy"; }, 2000);
      };
      if (navigator.clipboard) {
        navigator.clipboard.writeText(field.value).then(done, function () {});
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  });
});
