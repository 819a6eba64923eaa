// Sump console passkeys. Passkeys need JavaScript (the WebAuthn API); every other way of signing in and of
// stepping up works without this file. A button [data-passkey] is hidden until this script finds WebAuthn.
//
// <button data-passkey="create|get" data-options="/console/…/options" data-form="form-id"> asks the server for
// options (a POST of the form's fields, CSRF token included), passes them to the browser's WebAuthn API, puts
// the answer (PublicKeyCredential.toJSON()) in the form's `credential` field and submits the form (to
// data-action when given): the server checks it and answers with a page, as for any form.
(function () {
  "use strict";

  function supported() {
    return Boolean(window.PublicKeyCredential && PublicKeyCredential.parseCreationOptionsFromJSON);
  }

  function say(button, message) {
    var box = document.getElementById(button.dataset.message || "passkey-message");
    if (box) {
      box.textContent = message;
      box.hidden = false;
    }
  }

  async function run(button) {
    var form = document.getElementById(button.dataset.form);
    if (!form) return;
    button.disabled = true;
    try {
      var response = await fetch(button.dataset.options, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        credentials: "same-origin",
        headers: { "Accept": "application/json" },
      });
      var answer = await response.json();
      if (answer.redirect) {
        window.location.assign(answer.redirect);
        return;
      }
      if (!response.ok) {
        say(button, answer.message || "Passkeys are not available just now.");
        return;
      }
      var credential;
      if (button.dataset.passkey === "create") {
        credential = await navigator.credentials.create({
          publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(answer.publicKey),
        });
      } else {
        credential = await navigator.credentials.get({
          publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(answer.publicKey),
        });
      }
      form.elements.credential.value = JSON.stringify(credential.toJSON());
      if (button.dataset.action) form.action = button.dataset.action;
      form.submit();
    } catch (error) {
      say(button, error && error.name === "NotAllowedError"
        ? "The passkey request was cancelled or timed out. Try again."
        : "The passkey could not be used: " + (error && error.message ? error.message : error));
    } finally {
      button.disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    if (!supported()) return;
    document.querySelectorAll("[data-passkey]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function (event) {
        event.preventDefault();
        run(button);
      });
    });
  });
})();
