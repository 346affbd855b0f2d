// Subscriptions: progressive enhancement for a signup form.
// Without this script the form posts normally and the browser follows the 303 to a thank-you page.
// With it, the form posts JSON with fetch (CORS) and shows success or per-field errors inline.
(function () {
  "use strict";

  // Written by the service in the language the script was asked for (?lang=, else the browser's).
  var messages = __SUBSCRIPTIONS_MESSAGES__;

  function field(form, name) {
    return form.elements.namedItem(name);
  }

  function show(form, text, isError) {
    var message = form.querySelector("[data-subscriptions-message]");
    if (!message) {
      message = document.createElement("p");
      message.setAttribute("data-subscriptions-message", "");
      message.setAttribute("role", "status");
      message.setAttribute("aria-live", "polite");
      form.appendChild(message);
    }
    message.textContent = text;
    message.className = isError ? "subscriptions-error" : "subscriptions-success";
  }

  // "Did you mean name@gmail.com?" with the address as a button: one click corrects the field
  // and signs up again (the address as typed was accepted too; its mail will simply not arrive).
  function suggest(form, address, resend) {
    var line = document.createElement("p");
    line.setAttribute("data-subscriptions-suggestion", "");
    line.className = "subscriptions-suggestion";
    var parts = messages.didYouMean.split("{0}");
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = address;
    button.addEventListener("click", function () {
      field(form, "email").value = address;
      line.remove();
      resend();
    });
    line.appendChild(document.createTextNode(parts[0]));
    line.appendChild(button);
    line.appendChild(document.createTextNode(parts.slice(1).join("")));
    form.appendChild(line);
  }

  function clearErrors(form) {
    form.querySelectorAll("[data-subscriptions-suggestion]").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[data-subscriptions-field-error]").forEach(function (node) { node.remove(); });
    form.querySelectorAll("[aria-invalid]").forEach(function (node) {
      node.removeAttribute("aria-invalid");
      node.removeAttribute("aria-describedby");
    });
  }

  function showFieldErrors(form, errors) {
    var first = null;
    Object.keys(errors).forEach(function (name, index) {
      var input = field(form, name === "lists" ? "list" : name);
      var note = document.createElement("span");
      note.id = "subscriptions-error-" + index;
      note.setAttribute("data-subscriptions-field-error", "");
      note.className = "subscriptions-field-error";
      note.textContent = errors[name].join(" ");
      if (input && input.nodeType === 1) {
        input.setAttribute("aria-invalid", "true");
        input.setAttribute("aria-describedby", note.id);
        input.insertAdjacentElement("afterend", note);
        first = first || input;
      } else {
        form.appendChild(note);
      }
    });
    if (first) first.focus();
  }

  function enhance(form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      send();
    });

    function send() {
      clearErrors(form);
      var lists = Array.prototype.slice.call(form.querySelectorAll("[name=list]"))
        .filter(function (input) { return input.type !== "checkbox" || input.checked; })
        .map(function (input) { return input.value; });
      var body = {
        email: field(form, "email") ? field(form, "email").value : "",
        consent: field(form, "consent") ? field(form, "consent").checked : false,
        lists: lists,
        locale: document.documentElement.lang || navigator.language,
        source: location.href
      };
      if (field(form, "name")) body.name = field(form, "name").value || null;
      // Campaign attribution: the form's own utm_* fields if it has them; otherwise the service reads
      // utm_source, utm_medium and utm_campaign from the query string of source (this page's URL).
      ["utm_source", "utm_medium", "utm_campaign"].forEach(function (name) {
        if (field(form, name) && field(form, name).value) body[name] = field(form, name).value;
      });
      var honeypot = form.getAttribute("data-honeypot") || "website";
      if (field(form, honeypot)) body[honeypot] = field(form, honeypot).value;
      var submit = form.querySelector("[type=submit], button:not([type])");
      if (submit) submit.disabled = true;
      fetch(form.action, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (json) {
          if (response.status === 202) {
            show(form, json.message || messages.accepted, false);
            if (typeof json.suggestion === "string" && field(form, "email")) suggest(form, json.suggestion, send);
            else form.reset();
          } else if (json.errors) {
            showFieldErrors(form, json.errors);
            show(form, json.title || messages.checkForm, true);
          } else if (response.status === 429) {
            show(form, messages.tooMany, true);
          } else {
            show(form, messages.failed, true);
          }
        });
      }, function () {
        // No CORS grant for this page, or no network: fall back to the plain form post.
        HTMLFormElement.prototype.submit.call(form);
      }).finally(function () {
        if (submit) submit.disabled = false;
      });
    }
  }

  function start() {
    document.querySelectorAll("form[data-subscriptions-form]").forEach(enhance);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
