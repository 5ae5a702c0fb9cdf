// Forms that follow the choice made, and photos seen before sending. Progressive: without
// this script every field shows and the server checks everything, as before.
(function () {
  "use strict";

  // A field required only for one choice (data-required-if="other", data-required-value,
  // data-required-equals) shows only while that choice is made; a field with an error always shows.
  function valueOf(form, name) {
    var control = form.elements[name];
    if (!control) { return ""; }
    if (control.type === "checkbox") { return control.checked ? "true" : "false"; }
    return control.value || "";
  }

  // An optional field that applies only to one choice (data-shown-if, data-shown-value,
  // data-shown-equals) likewise.
  function follow(form) {
    var fields = form.querySelectorAll("[data-required-if], [data-shown-if]");
    Array.prototype.forEach.call(fields, function (field) {
      var data = field.dataset;
      var required = data.requiredIf !== undefined;
      var holds = valueOf(form, required ? data.requiredIf : data.shownIf) ===
        (required ? data.requiredValue : data.shownValue);
      if ((required ? data.requiredEquals : data.shownEquals) === "false") { holds = !holds; }
      field.hidden = !holds && !field.classList.contains("invalid");
    });
  }

  // Thumbnails of the photos chosen in a file input, before the form is sent.
  function preview(input) {
    var box = input.parentNode.querySelector(".photo-preview");
    if (!box || !window.URL) { return; }
    box.textContent = "";
    Array.prototype.forEach.call(input.files, function (file) {
      if (file.type.indexOf("image/") !== 0) {
        var name = document.createElement("span");
        name.textContent = file.name;
        box.appendChild(name);
        return;
      }
      var img = document.createElement("img");
      img.src = URL.createObjectURL(file);
      img.alt = file.name;
      img.width = 96;
      img.height = 96;
      img.onload = function () { URL.revokeObjectURL(img.src); };
      box.appendChild(img);
    });
  }

  // A search box that narrows a list of options as one types (name or pinyin initials in data-initials);
  // without the script, its own form asks the server for the same.
  function narrow(input) {
    var select = document.getElementById(input.dataset.picker);
    if (!select) { return; }
    var wanted = input.value.trim().toLowerCase();
    Array.prototype.forEach.call(select.options, function (option) {
      if (!option.value) { return; }
      var text = option.textContent.toLowerCase() + " " + (option.dataset.initials || "");
      option.hidden = wanted !== "" && text.indexOf(wanted) < 0;
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll("input[data-picker]"), function (input) {
    input.addEventListener("input", function () { narrow(input); });
  });
  Array.prototype.forEach.call(document.querySelectorAll("form"), function (form) {
    if (form.querySelector("[data-required-if], [data-shown-if]")) {
      follow(form);
      form.addEventListener("change", function () { follow(form); });
    }
  });
  Array.prototype.forEach.call(document.querySelectorAll("input[type=file][data-preview]"), function (input) {
    input.addEventListener("change", function () { preview(input); });
  });
})();
