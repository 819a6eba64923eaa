// Sump console enhancements. Every page works without this file; it adds copy buttons, Save buttons that wait
// for a change, and a short notice after a copy.
(function () {
  "use strict";

  function toast(message) {
    var box = document.getElementById("toast");
    if (!box) return;
    box.textContent = message;
    box.hidden = false;
    clearTimeout(box._timer);
    box._timer = setTimeout(function () { box.hidden = true; }, 2500);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-copy]");
    if (!button) return;
    navigator.clipboard.writeText(button.dataset.copy).then(
      function () { toast(button.dataset.copied || "Copied to clipboard"); },
      function () { toast("Copy failed: select the text and copy it by hand"); }
    );
  });

  // <form data-save-when-changed>: its submit buttons stay disabled until a field differs from the value the
  // server rendered (defaultValue and friends), so enhancing late, or twice, never takes typed text as the start.
  function changed(el) {
    if (el.type === "checkbox" || el.type === "radio") return el.checked !== el.defaultChecked;
    if (el.tagName === "SELECT") {
      var start = Array.prototype.findIndex.call(el.options, function (o) { return o.defaultSelected; });
      return el.selectedIndex !== Math.max(start, 0);
    }
    return el.value !== el.defaultValue;
  }

  function watch(form) {
    if (form.dataset.watched) return;
    form.dataset.watched = "yes";
    var fields = Array.prototype.filter.call(form.elements, function (el) { return el.name && el.type !== "hidden"; });
    var buttons = form.querySelectorAll("button[type=submit]");
    function update() {
      var dirty = fields.some(changed);
      buttons.forEach(function (b) { b.disabled = !dirty; });
    }
    form.addEventListener("input", update);
    form.addEventListener("change", update);
    update();
  }

  function enhance(root) {
    root.querySelectorAll("form[data-save-when-changed]").forEach(watch);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.target); });
})();
