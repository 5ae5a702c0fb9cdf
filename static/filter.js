/* Narrows a list as one types: an <input data-filter="#id"> hides the rows (or <option>s) of #id whose
   text lacks every typed word, and a heading row (li.group) with none of its rows left. Without
   JavaScript the full list stays usable. */
document.querySelectorAll("input[data-filter]").forEach(function (box) {
  var target = document.querySelector(box.dataset.filter);
  if (!target) { return; }
  box.hidden = false;
  box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    target.querySelectorAll("[data-text], option").forEach(function (row) {
      if (!row.value && row.tagName === "OPTION") { return; }
      var text = (row.dataset.text || row.textContent).toLowerCase();
      row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
    target.querySelectorAll("li.group").forEach(function (heading) {
      var row = heading.nextElementSibling, shown = false;
      while (row && !row.classList.contains("group")) { shown = shown || !row.hidden; row = row.nextElementSibling; }
      heading.hidden = !shown;
    });
  });
});
