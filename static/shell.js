// The phone shell's folds: the header menu (details.menu) and the filters (details.filters-fold) are closed on
// narrow screens and open on a desktop (>= 60em). Browsers that style ::details-content already show them
// open there through app.css; this keeps older ones in step. Without JavaScript each fold still opens by hand.
(function () {
  "use strict";
  var wide = window.matchMedia ? window.matchMedia("(min-width: 60em)") : null;

  function sync() {
    if (!wide) { return; }
    document.querySelectorAll("details.menu, details.filters-fold").forEach(function (fold) {
      if (wide.matches) {
        if (!fold.open) { fold.open = true; fold.dataset.opened = "wide"; }
      } else if (fold.dataset.opened === "wide") {
        fold.open = false;  // opened here for the desktop, not by the user: fold it again on a phone
        delete fold.dataset.opened;
      }
    });
  }

  // Escape closes the open menu and gives the focus back to its summary.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || (wide && wide.matches)) { return; }
    var menu = document.querySelector("details.menu[open]");
    if (menu) { menu.open = false; menu.querySelector("summary").focus(); }
  });

  document.addEventListener("DOMContentLoaded", sync);
  if (wide && wide.addEventListener) { wide.addEventListener("change", sync); }
}());
