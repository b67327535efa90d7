// A box that scrolls sideways (a wide table on a phone, .overflow-auto, .table-scroll) must be
// reachable by keyboard to be scrolled without a mouse: each one that overflows now is made
// focusable (tabindex=0) and named after its table's caption or the section heading before it;
// one that no longer overflows (a wider window) is left out of the tab order again.
(function () {
  const SELECTOR = "main table, main .overflow-auto, main .table-scroll";

  function nameOf(box) {
    const table = box.matches("table") ? box : box.querySelector("table");
    const caption = table && table.querySelector("caption");
    if (caption) return caption.textContent.trim();
    const section = box.closest("section[aria-labelledby]");
    const heading = section && document.getElementById(section.getAttribute("aria-labelledby"));
    return heading ? heading.textContent.trim() : "Table";
  }

  function mark() {
    document.querySelectorAll(SELECTOR).forEach(function (box) {
      const scrolls = box.scrollWidth > box.clientWidth + 1;
      if (scrolls && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.dataset.scrollRegion = "";
        if (!box.matches("table") && !box.hasAttribute("aria-label")) {
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", nameOf(box) + " (scrolls sideways)");
          box.dataset.scrollRegion = "named";
        }
      } else if (!scrolls && box.dataset.scrollRegion !== undefined) {
        box.removeAttribute("tabindex");
        if (box.dataset.scrollRegion === "named") {
          box.removeAttribute("role");
          box.removeAttribute("aria-label");
        }
        delete box.dataset.scrollRegion;
      }
    });
  }

  mark();
  window.addEventListener("resize", mark);
  document.addEventListener("htmx:afterSettle", mark);
})();
