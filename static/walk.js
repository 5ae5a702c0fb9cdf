/* On a long walk: "只看未检查项" hides the items already answered, to find what is left (untick to see
   all again). Without JavaScript the box stays hidden and every item shows. */
var onlyOpen = document.getElementById("only-open");
if (onlyOpen) {
  onlyOpen.closest("label").hidden = false;
  onlyOpen.addEventListener("change", function () {
    document.querySelectorAll("fieldset.check-item").forEach(function (item) {
      item.hidden = onlyOpen.checked && item.querySelector("input[type=radio]:checked") !== null;
    });
  });
}
