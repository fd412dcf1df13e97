// Criterion value inputs in the admin: show only those of the criterion's
// chosen profile field and operator (programs/staff/criterion_value.py).
// Without this script every field's inputs stay visible, each labelled.
(function () {
  "use strict";

  function siblings(widget) {
    var input = widget.querySelector("[name]");
    var form = widget.closest("form");
    if (!input || !form) {
      return null;
    }
    var prefix = input.name.slice(0, input.name.lastIndexOf("value__"));
    return {
      field: form.elements.namedItem(prefix + "field"),
      operator: form.elements.namedItem(prefix + "operator")
    };
  }

  function update(widget) {
    var found = siblings(widget);
    if (!found || !found.field) {
      return;
    }
    var field = found.field.value;
    var operator = found.operator ? found.operator.value : "";
    widget.querySelectorAll("[data-field]").forEach(function (set) {
      set.hidden = set.getAttribute("data-field") !== field;
    });
    widget.querySelectorAll("[data-operators]").forEach(function (part) {
      var operators = part.getAttribute("data-operators").split(" ");
      part.hidden = operator !== "" && operators.indexOf(operator) === -1;
    });
  }

  function updateAll() {
    document.querySelectorAll("[data-criterion-value]").forEach(update);
  }

  document.addEventListener("change", function (event) {
    var name = event.target.name || "";
    if (/(^|-)(field|operator)$/.test(name)) {
      updateAll();
    }
  });
  document.addEventListener("formset:added", updateAll);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", updateAll);
  } else {
    updateAll();
  }
})();
