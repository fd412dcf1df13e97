/*
 * "Copy link" buttons: progressive enhancement of text the owner can always
 * select and copy by hand. A button is marked
 *   <button hidden data-copy-from="ID" data-copy-status="ID"
 *           data-copied="..." data-failed="...">
 * and stays hidden without JavaScript or without the Clipboard API (which
 * browsers offer only over HTTPS and on localhost). The messages come from
 * the page, so they are in the page's language.
 */
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) {
    return;
  }

  function say(status, text) {
    if (!status) {
      return;
    }
    // Empty first, so a screen reader announces the same words again.
    status.textContent = "";
    window.setTimeout(function () {
      status.textContent = text;
    }, 50);
  }

  function select(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  document.querySelectorAll("button[data-copy-from]").forEach(function (button) {
    var source = document.getElementById(button.dataset.copyFrom);
    var status = document.getElementById(button.dataset.copyStatus);
    if (!source) {
      return;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(
        function () {
          say(status, button.dataset.copied);
        },
        function () {
          select(source);
          say(status, button.dataset.failed);
        }
      );
    });
  });
})();
