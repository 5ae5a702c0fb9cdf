// A self-inspection walk (templates/self_inspection.html), enhanced; without JavaScript every item and every
// field shows, each item has its own 保存 button, and the server brings the walker back to that item.
(function () {
  "use strict";
  var form = document.getElementById("walk-form");
  if (!form) { return; }

  // An item answered 合格 folds its details (what to note of a hazard found), unless something is typed there.
  function filled(details) {
    return Array.prototype.some.call(details.querySelectorAll("textarea, select, input"), function (control) {
      return control.type === "file" ? control.files.length > 0 : control.value.trim() !== "";
    });
  }
  function fold(item) {
    var details = item.querySelector(".walk-details");
    if (!details) { return; }
    var checked = item.querySelector("input[type=radio]:checked");
    var folds = checked !== null && checked.value === details.dataset.foldWhen;
    details.hidden = folds && !filled(details);
    var note = details.querySelector(".fold-note");
    if (note) { note.hidden = true; }  // the script shows and hides them: no need to say so
    item.classList.toggle("found", checked !== null && checked.value === "found");
  }

  // The bottom 保存 (or Enter in a field) comes back to the item last touched.
  var at = document.getElementById("walk-at");
  Array.prototype.forEach.call(form.querySelectorAll("fieldset.check-item"), function (item) {
    fold(item);
    item.addEventListener("change", function () { fold(item); });
    if (at) {
      item.addEventListener("focusin", function () { at.value = item.dataset.n; });
    }
  });

  // One item per screen: following 上一项 / 下一项 / 下一未答项 or the jump list with an answer not yet saved
  // saves it first, then goes there (without JavaScript, the links just go: 保存并下一项 saves).
  var go = document.getElementById("walk-go");
  if (go) {
    var dirty = false;
    form.addEventListener("input", function () { dirty = true; });
    form.addEventListener("change", function () { dirty = true; });
    var leave = function (event, item) {
      if (!dirty || !item) { return; }
      event.preventDefault();
      go.value = item;
      form.submit();
    };
    ["prev-item", "next-item", "next-open"].forEach(function (id) {
      var link = document.getElementById(id);
      if (!link || !link.href) { return; }
      link.addEventListener("click", function (event) {
        leave(event, new URL(link.href).searchParams.get("item"));
      });
    });
    var jump = document.getElementById("jump-item");
    if (jump) {
      jump.form.addEventListener("submit", function (event) { leave(event, jump.value); });
    }
  }

  // On a long walk: "只看未检查项" hides the items already answered, to find what is left (untick to see
  // all again). Without JavaScript the box stays hidden and every item shows.
  var onlyOpen = document.getElementById("only-open");
  if (onlyOpen) {
    onlyOpen.closest(".only-open").hidden = false;
    onlyOpen.addEventListener("change", function () {
      form.querySelectorAll("fieldset.check-item").forEach(function (item) {
        item.hidden = onlyOpen.checked && item.querySelector("input[type=radio]:checked") !== null;
      });
    });
  }
})();
